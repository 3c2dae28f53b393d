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

export interface FetchContext {
  readonly lane: Lane;
  /**
   * A configured target's standing job (its refresh, or its retry after a failure): goes ahead of
   * every other call and has a share of the budget kept for it.
   */
  readonly reserved: boolean;
  /**
   * Aborted when nobody wants the result any more: the entry it refreshes left the cache, every
   * client waiting on it hung up before it started, or the engine stopped. A stage that sees it
   * aborted stops (a queued call leaves its queue, a running one is cancelled).
   */
  readonly signal: AbortSignal;
  /**
   * For a background load: becomes urgent when a client starts waiting on it, which makes it a
   * client's miss from then on (a stage still holding it back treats it as on-demand).
   */
  readonly urgency?: Urgency;
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

/**
 * A one-way switch a background load's stages can watch: `raise` tells every watcher at once,
 * synchronously, so a client's miss started right after it cannot overtake the load it joined.
 */
export class Urgency {
  #raised = false;
  #watchers: (() => void)[] = [];

  get raised(): boolean {
    return this.#raised;
  }

  /** Calls `watcher` when the load becomes urgent (now, if it is already). */
  watch(watcher: () => void): void {
    if (this.#raised) watcher();
    else this.#watchers.push(watcher);
  }

  raise(): void {
    if (this.#raised) return;
    this.#raised = true;
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const watcher of watchers) watcher();
  }
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
