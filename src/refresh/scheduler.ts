/**
 * Background refresh. The scheduler subscribes to the cache: every stored credential is due at
 * its refresh point (one clock timer drives them all, see `DueQueue`), every entry that leaves the
 * cache takes its schedule with it. When an entry is due, a key still in use is refreshed through
 * the cache's background lane; a key nobody asked for within `idleMs` goes (`idle`). A failed
 * refresh keeps the still-valid credential (the cache serves it as `stale`) and retries with
 * capped, jittered backoff; an AccessDenied / NotFound evicts it, so revocation reaches clients at
 * the next refresh.
 *
 * Configured targets are a standing job, not a cache accident: loaded at `start`, and from then on
 * always either fresh, refreshing, or retrying with the same backoff — after a failed first load,
 * after a revocation, whatever clients do — so `/readyz` recovers with no client traffic once
 * upstream answers again. Their loads take the budget's reserved share.
 *
 * The scheduler owns the refresh state: when each key is due and how often its refresh has failed
 * in a row (with the last error, for status and readiness). The cache owns the entries.
 */
import type { CacheEntry, CredentialCache, EvictionReason } from '../cache/credential-cache.js';
import { LoadCancelled } from '../cache/fetcher.js';
import type { CredentialKey } from '../cache/key.js';
import type { Clock } from '../clock.js';
import { UpstreamError } from '../providers/errors.js';
import { DueQueue } from './due-queue.js';
import {
  type BackoffDelayOptions,
  DEFAULT_FIRST_JITTER_FRACTION,
  type RefreshAtOptions,
  backoffDelay,
  refreshAt,
} from './policy.js';

/** A key nobody asked for this long is no longer refreshed (`cache.idleSeconds`, default 900 s). */
export const DEFAULT_IDLE_MS = 900_000;

export type RefreshOutcome =
  | { readonly outcome: 'success'; readonly entry: CacheEntry }
  | { readonly outcome: 'failure'; readonly error: UpstreamError; readonly evicted: boolean };

/** How a key's refreshes have gone lately: only keys whose last attempt failed have one. */
export interface FailureState {
  /** Failed attempts in a row. */
  readonly consecutive: number;
  readonly lastError: UpstreamError;
  /** Clock time of the last failure. */
  readonly at: number;
}

export interface RefreshSchedulerOptions {
  readonly clock: Clock;
  readonly cache: CredentialCache;
  readonly idleMs?: number;
  /** Configured targets: loaded at start and always kept fresh, whether or not anyone asks. */
  readonly targets?: readonly CredentialKey[];
  readonly random?: () => number;
  readonly refreshPolicy?: Omit<RefreshAtOptions, 'random'>;
  /** Jitter fraction of the first refresh after a cold load (default 0.9). */
  readonly firstJitterFraction?: number;
  readonly backoffPolicy?: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  /** Told of every background refresh and how it ended (dropped ones are not refreshes). */
  readonly onRefresh?: (key: CredentialKey, result: RefreshOutcome) => void;
}

/**
 * One scheduled attempt: refresh the entry, or (a target without one) load the key. The entry or
 * the key itself is the queue's payload: no object per scheduled key beyond the queue's node.
 */
type Job = CacheEntry | CredentialKey;

const isEntry = (job: Job): job is CacheEntry => 'key' in job;
const keyOf = (job: Job): CredentialKey => (isEntry(job) ? job.key : job);
const entryOf = (job: Job): CacheEntry | undefined => (isEntry(job) ? job : undefined);

export class RefreshScheduler {
  readonly #clock: Clock;
  readonly #cache: CredentialCache;
  readonly #idleMs: number;
  #targets: ReadonlyMap<string, CredentialKey>;
  readonly #random: () => number;
  readonly #refreshPolicy: Omit<RefreshAtOptions, 'random'>;
  readonly #firstJitterFraction: number;
  readonly #backoffPolicy: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  readonly #onRefresh: ((key: CredentialKey, result: RefreshOutcome) => void) | undefined;
  readonly #due: DueQueue<Job>;
  readonly #failures = new Map<string, FailureState>();
  readonly #unsubscribe: () => void;
  #firstAttempts: Promise<unknown> | undefined;
  #stopped = false;

  constructor(options: RefreshSchedulerOptions) {
    this.#clock = options.clock;
    this.#cache = options.cache;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#targets = new Map((options.targets ?? []).map((key) => [key.id, key]));
    this.#random = options.random ?? Math.random;
    this.#refreshPolicy = options.refreshPolicy ?? {};
    this.#firstJitterFraction = options.firstJitterFraction ?? DEFAULT_FIRST_JITTER_FRACTION;
    this.#backoffPolicy = options.backoffPolicy ?? {};
    this.#onRefresh = options.onRefresh;
    this.#due = new DueQueue(this.#clock, (job: Job) => void this.#attempt(job));
    this.#unsubscribe = this.#cache.subscribe({
      stored: (entry) => this.#stored(entry),
      evicted: (entry, reason) => this.#evicted(entry, reason),
    });
  }

  /**
   * Starts every target's standing job: a load now for each target without a servable credential.
   * A second call does nothing.
   */
  start(): void {
    if (this.#firstAttempts || this.#stopped) return;
    const attempts: Promise<void>[] = [];
    for (const key of this.#targets.values()) {
      const entry = this.#cache.peek(key);
      if (entry && this.#cache.servable(entry)) continue;
      this.#due.cancel(key.id);
      attempts.push(this.#attempt(entry ?? key));
    }
    this.#firstAttempts = Promise.all(attempts);
  }

  /**
   * The configured targets are now `keys` (a reload). A new target's standing job starts at once
   * (a load, unless a servable credential is cached; once `start` has run); a key that is no
   * longer a target is an ordinary key from now on: its entry is refreshed while clients use it
   * and goes idle otherwise, and without an entry its pending retry and failure state go.
   * Settles once the new targets' first attempts have ended, well or not.
   */
  async setTargets(keys: readonly CredentialKey[]): Promise<void> {
    const previous = this.#targets;
    this.#targets = new Map(keys.map((key) => [key.id, key]));
    for (const key of previous.values()) {
      if (this.#targets.has(key.id) || this.#cache.peek(key) !== undefined) continue;
      this.#due.cancel(key.id);
      this.#failures.delete(key.id);
    }
    if (this.#stopped || !this.#firstAttempts) return;
    const attempts: Promise<void>[] = [];
    for (const key of this.#targets.values()) {
      if (previous.has(key.id)) continue;
      const entry = this.#cache.peek(key);
      if (entry && this.#cache.servable(entry)) continue;
      this.#due.cancel(key.id);
      attempts.push(this.#attempt(entry ?? key));
    }
    await Promise.all(attempts);
  }

  /** Settles once every target's first attempt since `start` has ended, well or not. */
  async warm(): Promise<void> {
    await this.#firstAttempts;
  }

  /** When the next attempt for `key` is due, if one is scheduled. */
  scheduledAt(key: CredentialKey): number | undefined {
    return this.#due.dueAt(key.id);
  }

  /** Whether `key` is being worked on: an attempt is scheduled or under way. */
  working(key: CredentialKey): boolean {
    return this.#due.dueAt(key.id) !== undefined || this.#cache.loading(key);
  }

  /** How the refreshes of `key` have gone lately; undefined while they succeed. */
  failures(key: CredentialKey): FailureState | undefined {
    return this.#failures.get(key.id);
  }

  /** Keys with an attempt scheduled (for tests and status). */
  scheduledIds(): IterableIterator<string> {
    return this.#due.ids();
  }

  /** Cancels every timer and stops listening to the cache; nothing is scheduled after this. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    this.#due.clear();
  }

  #stored(entry: CacheEntry): void {
    this.#failures.delete(entry.key.id);
    const at = refreshAt(
      {
        issuedAt: entry.storedAt,
        expiration: entry.issued.expiration,
        nextRefreshTime: entry.issued.nextRefreshTime,
      },
      {
        ...this.#refreshPolicy,
        ...(entry.generation === 0 && { jitterFraction: this.#firstJitterFraction }),
        random: this.#random,
      },
    );
    this.#schedule(entry, at);
  }

  #evicted(entry: CacheEntry, _reason: EvictionReason): void {
    const { key } = entry;
    if (this.#targets.has(key.id)) {
      // A target is never without a job: load it again after the backoff its failures call for.
      this.#retry(key, undefined, this.#failures.get(key.id));
      return;
    }
    this.#due.cancel(key.id);
    this.#failures.delete(key.id);
  }

  #schedule(job: Job, at: number): void {
    if (this.#stopped) return;
    this.#due.schedule(keyOf(job).id, at, job);
  }

  #retry(key: CredentialKey, entry: CacheEntry | undefined, state: FailureState | undefined) {
    const delay = backoffDelay(Math.max(1, state?.consecutive ?? 1), {
      ...this.#backoffPolicy,
      throttled: state?.lastError.kind === 'Throttled',
      random: this.#random,
    });
    this.#schedule(entry ?? key, this.#clock.now() + delay);
  }

  async #attempt(job: Job): Promise<void> {
    if (this.#stopped) return;
    const key = keyOf(job);
    const scheduled = entryOf(job);
    const target = this.#targets.has(key.id);
    const current = this.#cache.peek(key);
    if (current !== scheduled && !(target && scheduled === undefined)) return; // superseded
    if (current === undefined && !target) return;
    const lastUsedAt = this.#cache.lastUsedAt(key) ?? Number.NEGATIVE_INFINITY;
    if (current && !target && this.#clock.now() - lastUsedAt >= this.#idleMs) {
      // Nobody asked within the idle window: it goes now, not at the next sweep, so a client
      // coming back meanwhile cannot find an entry that nobody refreshes.
      this.#cache.evict(key, 'idle', current);
      return;
    }
    let fresh: CacheEntry;
    try {
      fresh = await this.#cache.refresh(key);
    } catch (rejection) {
      if (rejection instanceof LoadCancelled) {
        // Its entry left (nothing to do), the engine stopped, or the load was a client's miss
        // this attempt joined and its clients hung up: then the job must go on.
        const still = this.#cache.peek(key);
        const wanted = target || (still !== undefined && still === current);
        if (wanted && this.#due.dueAt(key.id) === undefined) {
          this.#retry(key, still, this.#failures.get(key.id));
        }
        return;
      }
      const error =
        rejection instanceof UpstreamError
          ? rejection
          : new UpstreamError(
              'Unavailable',
              'InternalError',
              rejection instanceof Error ? rejection.message : String(rejection),
            );
      const previous = this.#failures.get(key.id);
      const state: FailureState = {
        consecutive: (previous?.consecutive ?? 0) + 1,
        lastError: error,
        at: this.#clock.now(),
      };
      this.#failures.set(key.id, state);
      const evicted =
        error.evict && current !== undefined && this.#cache.evict(key, 'revoked', current);
      const still = this.#cache.peek(key);
      if (target) this.#retry(key, still, state);
      else if (still !== undefined && still === current) this.#retry(key, still, state);
      else this.#failures.delete(key.id);
      this.#onRefresh?.(key, { outcome: 'failure', error, evicted });
      return;
    }
    this.#onRefresh?.(key, { outcome: 'success', entry: fresh });
  }
}
