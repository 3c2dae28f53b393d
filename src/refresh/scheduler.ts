/**
 * Background refresh: each cached credential is due at its refresh point (one clock timer drives
 * them all, see `DueQueue`). When it is due, a key still in use (or a configured target) is
 * refreshed through the cache's background lane;
 * a key nobody asked for within `idleMs` is left to expire. A failed refresh keeps the
 * still-valid credential (served as `stale`) and retries with capped, jittered backoff; an
 * AccessDenied / NotFound evicts it, so revocation reaches clients at the next refresh.
 */
import type { CacheEntry, CredentialCache } from '../cache/credential-cache.js';
import type { CredentialKey } from '../cache/key.js';
import type { Clock } from '../clock.js';
import { type UpstreamError, classifyUpstreamError } from '../providers/errors.js';
import { DueQueue } from './due-queue.js';
import {
  type BackoffDelayOptions,
  DEFAULT_FIRST_JITTER_FRACTION,
  type RefreshAtOptions,
  backoffDelay,
  refreshAt,
} from './policy.js';

/** A key nobody asked for this long is no longer refreshed (SPEC: idleSeconds, 900). */
export const DEFAULT_IDLE_MS = 900_000;

export type RefreshOutcome =
  | { readonly outcome: 'success'; readonly entry: CacheEntry }
  | { readonly outcome: 'failure'; readonly error: UpstreamError; readonly evicted: boolean };

export interface RefreshSchedulerOptions {
  readonly clock: Clock;
  readonly cache: CredentialCache;
  readonly idleMs?: number;
  /** Configured targets: refreshed whether or not anyone asked for them lately. */
  readonly isTarget?: (key: CredentialKey) => boolean;
  readonly random?: () => number;
  readonly refreshPolicy?: Omit<RefreshAtOptions, 'random'>;
  /** Jitter fraction of the first refresh after a cold load (default 0.9). */
  readonly firstJitterFraction?: number;
  readonly backoffPolicy?: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  /** Told of every background refresh and how it ended. */
  readonly onRefresh?: (key: CredentialKey, result: RefreshOutcome) => void;
}

export class RefreshScheduler {
  readonly #clock: Clock;
  readonly #cache: CredentialCache;
  readonly #idleMs: number;
  readonly #isTarget: (key: CredentialKey) => boolean;
  readonly #random: () => number;
  readonly #refreshPolicy: Omit<RefreshAtOptions, 'random'>;
  readonly #firstJitterFraction: number;
  readonly #backoffPolicy: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  readonly #onRefresh: ((key: CredentialKey, result: RefreshOutcome) => void) | undefined;
  readonly #due: DueQueue<CacheEntry>;
  #stopped = false;

  constructor(options: RefreshSchedulerOptions) {
    this.#clock = options.clock;
    this.#cache = options.cache;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#isTarget = options.isTarget ?? (() => false);
    this.#random = options.random ?? Math.random;
    this.#refreshPolicy = options.refreshPolicy ?? {};
    this.#firstJitterFraction = options.firstJitterFraction ?? DEFAULT_FIRST_JITTER_FRACTION;
    this.#backoffPolicy = options.backoffPolicy ?? {};
    this.#onRefresh = options.onRefresh;
    this.#due = new DueQueue(this.#clock, (entry: CacheEntry) => void this.#fire(entry));
  }

  /** Schedules the refresh of a newly stored entry (wire to the cache's `onStore`). */
  track(entry: CacheEntry): void {
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

  /** Forgets an entry that left the cache (wire to the cache's `onEvict`). */
  untrack(entry: CacheEntry): void {
    if (this.#cache.peek(entry.key) === undefined) this.#due.cancel(entry.key.id);
  }

  /** When the refresh of `key` is due, if one is scheduled. */
  scheduledAt(key: CredentialKey): number | undefined {
    return this.#due.dueAt(key.id);
  }

  /** Cancels every timer; nothing is scheduled after this. */
  stop(): void {
    this.#stopped = true;
    this.#due.clear();
  }

  #schedule(entry: CacheEntry, at: number): void {
    if (this.#stopped) return;
    this.#due.schedule(entry.key.id, at, entry);
  }

  async #fire(entry: CacheEntry): Promise<void> {
    const { key } = entry;
    if (this.#cache.peek(key) !== entry) return; // replaced or evicted meanwhile
    const idle = this.#clock.now() - entry.lastUsedAt >= this.#idleMs;
    if (idle && !this.#isTarget(key)) return; // left to expire; the sweep removes it
    try {
      const fresh = await this.#cache.refresh(key);
      this.#onRefresh?.(key, { outcome: 'success', entry: fresh });
    } catch (rejection) {
      const error = classifyUpstreamError(rejection);
      const evicted = error.evict && this.#cache.evict(key, 'revoked', entry);
      if (!evicted && this.#cache.peek(key) === entry) {
        entry.refreshFailure = error;
        entry.refreshFailures += 1;
        const delay = backoffDelay(entry.refreshFailures, {
          ...this.#backoffPolicy,
          throttled: error.kind === 'Throttled',
          random: this.#random,
        });
        this.#schedule(entry, this.#clock.now() + delay);
      }
      this.#onRefresh?.(key, { outcome: 'failure', error, evicted });
    }
  }
}
