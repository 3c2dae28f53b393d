/**
 * The one interface every stage of a credential load implements or wraps: `fetch(key, context)`
 * gives the credential a key grants. The providers' dispatcher is the innermost (one AWS call);
 * the upstream budget wraps it (waits its turn); the engine's instrumentation wraps that (counts
 * loads); the cache holds the outermost. A test fake is one more implementation. As with
 * eks-pod-identity-agent's `CredentialRetriever` and Vault Agent's `Proxier`, each stage knows
 * only the stage it wraps.
 */
import type { IssuedCredentials } from '../providers/types.js';
import type { CredentialKey } from './key.js';

/** Why a load is made: a client waiting, or the refresher working ahead. */
export type Lane = 'on_demand' | 'background';

/**
 * Which of the upstream budget's queues a load waits in, highest first: a configured target's
 * standing job (`reserved`), a client's miss (`on_demand`), a refresh ahead of expiry
 * (`background`).
 */
export type Queue = 'reserved' | 'on_demand' | 'background';

const RANK: Readonly<Record<Queue, number>> = { background: 0, on_demand: 1, reserved: 2 };

/**
 * A load's queue, which only ever rises: a client joining a refresh makes it a client's miss
 * (`on_demand`); a target's standing job joining a client's miss makes it `reserved`. `raise`
 * tells every watcher at once, synchronously, so a miss started right after cannot overtake the
 * load it joined.
 */
export class Priority {
  #queue: Queue;
  #watchers: ((queue: Queue) => void)[] = [];

  constructor(queue: Queue) {
    this.#queue = queue;
  }

  get queue(): Queue {
    return this.#queue;
  }

  /** Calls `watcher` with the new queue each time the load moves up. */
  watch(watcher: (queue: Queue) => void): void {
    this.#watchers.push(watcher);
  }

  raise(to: Queue): void {
    if (RANK[to] <= RANK[this.#queue]) return;
    this.#queue = to;
    for (const watcher of this.#watchers) watcher(to);
  }
}

export interface FetchContext {
  /** Why the load was made (the metrics' trigger): a client waiting, or the refresher ahead. */
  readonly lane: Lane;
  /** The queue it waits in, which may rise while it waits. */
  readonly priority: Priority;
  /**
   * Aborted when nobody wants the result any more: the entry it refreshes left the cache, every
   * client waiting on it hung up before it started, or the engine stopped. A stage that sees it
   * aborted stops (a queued call leaves its queue, a running one is cancelled).
   */
  readonly signal: AbortSignal;
  /** Told when the load actually starts its upstream call (it has left every queue). */
  readonly started?: () => void;
}

export interface CredentialFetcher {
  /**
   * The credential `key` grants. Rejects with an `UpstreamError` when upstream refuses or fails,
   * with `LoadCancelled` once `context.signal` is aborted, or with a stage's own refusal (the
   * budget's `BudgetExceeded`).
   */
  fetch(key: CredentialKey, context: FetchContext): Promise<IssuedCredentials<unknown>>;
}

/** A load nobody wants any more was dropped: not a failure of upstream, and never stored. */
export class LoadCancelled extends Error {
  override readonly name = 'LoadCancelled';
  constructor(readonly reason: string) {
    super(`load dropped: ${reason}`);
  }
}

/** `signal`'s reason as a `LoadCancelled`. */
export function cancellation(signal: AbortSignal): LoadCancelled {
  return signal.reason instanceof LoadCancelled
    ? signal.reason
    : new LoadCancelled(typeof signal.reason === 'string' ? signal.reason : 'aborted');
}
