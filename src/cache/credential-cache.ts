/**
 * The credential cache: a bounded LRU of issued credentials keyed canonically, with single
 * flight for concurrent loads, a short negative cache for deterministic upstream errors, and
 * the rule that nothing is handed out with less than `minRemainingMs` of validity.
 *
 * It knows nothing of HTTP or AWS: loads go through the `load` function it is given (the
 * provider behind the shared upstream budget), time through the clock it is given.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { UpstreamError } from '../providers/errors.js';
import type { IssuedCredentials, Source } from '../providers/types.js';
import type { CredentialKey } from './key.js';
import { SingleFlight } from './single-flight.js';

/** Least validity a credential must have left to be handed out (SPEC: 300 s). */
export const DEFAULT_MIN_REMAINING_MS = 300_000;
/** Most entries held; the least recently used go first. */
export const DEFAULT_MAX_ENTRIES = 10_000;
/** How long a deterministic upstream error is answered from memory. */
export const DEFAULT_NEGATIVE_TTL_MS = 5_000;

/** Why a load was made: a client waiting, or the refresher working ahead. */
export type Lane = 'on_demand' | 'background';

export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'stale' | 'negative';
export type EvictionReason = 'lru' | 'expired' | 'idle' | 'revoked';

export interface CacheEntry {
  readonly key: CredentialKey;
  readonly issued: IssuedCredentials<unknown>;
  /** Clock time the credential arrived. */
  readonly storedAt: number;
  /** 0 for a credential loaded cold, else one more than the entry it replaced. */
  readonly generation: number;
  /** Clock time of the last request for it. */
  lastUsedAt: number;
  /** Set while background refreshes fail; the entry is then served as `stale`. */
  refreshFailure: UpstreamError | undefined;
  /** Consecutive failed refreshes (for backoff). */
  refreshFailures: number;
  /**
   * What the HTTP layer derives from the credential (its serialised response bodies), made
   * once per entry, not per request.
   */
  readonly rendered: Record<string, unknown>;
}

/**
 * Loads a credential in `lane`. For a background load, `urgent` settles when a client starts
 * waiting on it: from then on it is a client's miss, and goes as on-demand if it has not started.
 */
export type Load = (
  key: CredentialKey,
  lane: Lane,
  urgent?: Promise<void>,
) => Promise<IssuedCredentials<unknown>>;

export interface CredentialCacheOptions {
  readonly clock: Clock;
  readonly load: Load;
  readonly maxEntries?: number;
  readonly minRemainingMs?: number;
  readonly negativeTtlMs?: number;
  /** Told of every entry that leaves the cache, and why. */
  readonly onEvict?: (entry: CacheEntry, reason: EvictionReason) => void;
  /** Told of every new credential stored (first load or refresh). */
  readonly onStore?: (entry: CacheEntry) => void;
  /** Told of every lookup and how it was answered, whether or not the load then succeeds. */
  readonly onLookup?: (key: CredentialKey, result: CacheResult) => void;
}

export interface Lookup {
  readonly entry: CacheEntry;
  readonly result: Exclude<CacheResult, 'negative'>;
}

interface NegativeEntry {
  readonly error: UpstreamError;
  readonly until: number;
}

/** A load failed with a deterministic error that is being answered from memory. */
export class NegativeCacheHit extends Error {
  override readonly name = 'NegativeCacheHit';
  constructor(
    readonly error: UpstreamError,
    /** Milliseconds until the key may be tried upstream again. */
    readonly retryAfterMs: number,
  ) {
    super(error.message, { cause: error });
  }
}

export class CredentialCache {
  readonly #clock: Clock;
  readonly #load: Load;
  readonly #minRemainingMs: number;
  readonly #negativeTtlMs: number;
  readonly #onEvict: ((entry: CacheEntry, reason: EvictionReason) => void) | undefined;
  readonly #onStore: ((entry: CacheEntry) => void) | undefined;
  readonly #onLookup: ((key: CredentialKey, result: CacheResult) => void) | undefined;
  readonly #entries: LRUCache<string, CacheEntry>;
  readonly #negative = new Map<string, NegativeEntry>();
  readonly #flights = new SingleFlight<CacheEntry>();
  /** Background loads in flight, by key id: what makes one urgent when a client joins it. */
  readonly #urgent = new Map<string, () => void>();

  constructor(options: CredentialCacheOptions) {
    this.#clock = options.clock;
    this.#load = options.load;
    this.#minRemainingMs = nonNegative(
      'minRemainingMs',
      options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS,
    );
    this.#negativeTtlMs = nonNegative(
      'negativeTtlMs',
      options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS,
    );
    this.#onEvict = options.onEvict;
    this.#onStore = options.onStore;
    this.#onLookup = options.onLookup;
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries: must be a whole number of at least 1, got ${maxEntries}`);
    }
    this.#entries = new LRUCache<string, CacheEntry>({
      max: maxEntries,
      dispose: (entry, _id, reason) => {
        if (reason === 'evict') this.#onEvict?.(entry, 'lru');
      },
    });
  }

  /** Whether `entry` may be handed out now. */
  servable(entry: CacheEntry): boolean {
    return entry.issued.expiration - this.#clock.now() >= this.#minRemainingMs;
  }

  /**
   * The cached credential for `key` when it can be served now (`hit`, or `stale` while its
   * refresh fails), synchronously; undefined when only `get` can answer.
   */
  getServable(key: CredentialKey): Lookup | undefined {
    const cached = this.#entries.get(key.id);
    if (!cached) return undefined;
    const now = this.#clock.now();
    if (cached.issued.expiration - now < this.#minRemainingMs) return undefined;
    cached.lastUsedAt = now;
    const result = cached.refreshFailure ? 'stale' : 'hit';
    this.#onLookup?.(key, result);
    return { entry: cached, result };
  }

  /**
   * A credential for `key` with at least `minRemainingMs` left: from memory when it has one,
   * else from one upstream load shared by every concurrent caller. Rejects with the load's
   * `UpstreamError`, or `NegativeCacheHit` while a deterministic error is remembered.
   */
  async get(key: CredentialKey): Promise<Lookup> {
    const served = this.getServable(key);
    if (served) return served;
    const now = this.#clock.now();
    const negative = this.#negative.get(key.id);
    if (negative) {
      if (negative.until > now) {
        this.#onLookup?.(key, 'negative');
        throw new NegativeCacheHit(negative.error, negative.until - now);
      }
      this.#negative.delete(key.id);
    }
    const { promise, joined } = this.#flights.run(key.id, () => this.#fetch(key, 'on_demand'));
    // A client now waits on this load: a background refresh still queued must not keep it waiting
    // behind every other client's miss.
    if (joined) this.#urgent.get(key.id)?.();
    this.#onLookup?.(key, joined ? 'coalesced' : 'miss');
    const entry = await promise;
    entry.lastUsedAt = this.#clock.now();
    if (!this.servable(entry)) {
      // Issued with less validity than the floor: AWS or the configuration is off. Never serve it.
      throw new UpstreamError(
        'Unavailable',
        'InvalidResponse',
        `the credential for ${key.source} arrived with less than ${this.#minRemainingMs} ms of validity left`,
      );
    }
    return { entry, result: joined ? 'coalesced' : 'miss' };
  }

  /**
   * Loads a new credential for a cached key in the background lane and stores it, sharing the
   * load with any client miss of the same key. Rejects with the `UpstreamError`; the caller (the
   * refresher) decides what to keep.
   */
  refresh(key: CredentialKey): Promise<CacheEntry> {
    let makeUrgent: () => void = () => undefined;
    const urgent = new Promise<void>((resolve) => (makeUrgent = resolve));
    const { promise, joined } = this.#flights.run(key.id, () =>
      this.#fetch(key, 'background', urgent),
    );
    if (!joined) this.#urgent.set(key.id, makeUrgent);
    return promise;
  }

  async #fetch(key: CredentialKey, lane: Lane, urgent?: Promise<void>): Promise<CacheEntry> {
    let issued: IssuedCredentials<unknown>;
    try {
      issued = await this.#load(key, lane, urgent);
    } catch (error) {
      if (isDeterministic(error) && this.#negativeTtlMs > 0) {
        this.#negative.set(key.id, { error, until: this.#clock.now() + this.#negativeTtlMs });
      }
      // A client's miss found access revoked: the old, no longer servable entry goes too.
      // (Background refreshes leave this decision to the scheduler.)
      const previous = this.#entries.peek(key.id);
      if (lane === 'on_demand' && isDeterministic(error) && error.evict && previous) {
        if (!this.servable(previous)) this.evict(key, 'revoked', previous);
      }
      throw error;
    } finally {
      // The flight ends (SingleFlight forgets it only after this): nothing left to make urgent.
      if (urgent) this.#urgent.delete(key.id);
    }
    this.#negative.delete(key.id);
    const previous = this.#entries.peek(key.id);
    const entry: CacheEntry = {
      key,
      issued,
      storedAt: this.#clock.now(),
      generation: previous ? previous.generation + 1 : 0,
      lastUsedAt: previous?.lastUsedAt ?? this.#clock.now(),
      refreshFailure: undefined,
      refreshFailures: 0,
      rendered: {},
    };
    this.#entries.set(key.id, entry);
    this.#onStore?.(entry);
    return entry;
  }

  /** The entry for `key` without touching its recency or use time. */
  peek(key: CredentialKey): CacheEntry | undefined {
    return this.#entries.peek(key.id);
  }

  /** Removes the entry of `key` (if it is still `entry`, when given), telling `onEvict` why. */
  evict(key: CredentialKey, reason: EvictionReason, entry?: CacheEntry): boolean {
    const current = this.#entries.peek(key.id);
    if (!current || (entry !== undefined && current !== entry)) return false;
    this.#entries.delete(key.id);
    this.#onEvict?.(current, reason);
    return true;
  }

  /** Every entry, least recently used last; does not touch recency. */
  entries(): CacheEntry[] {
    return [...this.#entries.values()];
  }

  /** Number of entries per source. */
  countBySource(): Record<Source, number> {
    const counts: Record<Source, number> = {
      lakeformation_table: 0,
      lakeformation_partition: 0,
      redshift_serverless: 0,
    };
    for (const entry of this.#entries.values()) counts[entry.key.source] += 1;
    return counts;
  }

  /**
   * Drops what can no longer be served (`expired`: less than `minRemainingMs` left) and what no
   * client asked for within `idleMs` (`idle`), except keys `keep` says to hold (configured
   * targets). Forgets elapsed negative entries. Returns how many entries left.
   */
  sweep(idleMs: number, keep: (key: CredentialKey) => boolean = () => false): number {
    const now = this.#clock.now();
    let removed = 0;
    for (const entry of this.entries()) {
      if (keep(entry.key)) continue;
      const reason: EvictionReason | undefined = !this.servable(entry)
        ? 'expired'
        : now - entry.lastUsedAt >= idleMs
          ? 'idle'
          : undefined;
      if (reason && this.evict(entry.key, reason, entry)) removed++;
    }
    for (const [id, negative] of this.#negative) {
      if (negative.until <= now) this.#negative.delete(id);
    }
    return removed;
  }

  get size(): number {
    return this.#entries.size;
  }
}

function isDeterministic(error: unknown): error is UpstreamError {
  return error instanceof UpstreamError && error.deterministic;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name}: must be a non-negative number, got ${value}`);
  }
  return value;
}
