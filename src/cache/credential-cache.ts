/**
 * The credential cache: a bounded LRU of issued credentials keyed canonically, configured
 * targets pinned beside it, single flight for concurrent loads, a short negative cache for
 * deterministic upstream errors, and the rule that nothing is handed out with less than
 * `minRemainingMs` of validity.
 *
 * The cache owns its entries and its loads. An entry is immutable to everyone else; what changes
 * (when a client last asked for it, whether its last refresh failed) changes here only. Every
 * load is a flight with an abort controller: an entry that leaves the cache (LRU, idle, expired,
 * revoked) takes its refresh with it (dropped from the budget's queue, or cancelled in flight, and
 * its result never stored), and a client miss whose every client hung up before its upstream
 * call started is dropped.
 *
 * It knows nothing of HTTP or AWS: loads go through the `CredentialFetcher` it is given (the
 * providers behind the shared upstream budget), time through the clock it is given. Whoever
 * needs to know what happens to entries subscribes (`subscribe`): the refresher, the metrics.
 */
import type { Clock } from '../clock.js';
import { UpstreamError } from '../providers/errors.js';
import type { IssuedCredentials, Source } from '../providers/types.js';
import {
  type CredentialFetcher,
  type Lane,
  LoadCancelled,
  Priority,
  cancellation,
} from './fetcher.js';
import { type CacheEntry, StoredEntry } from './entry.js';
import type { CredentialKey } from './key.js';

export { type CacheEntry, entryJson } from './entry.js';

export { type Lane, LoadCancelled } from './fetcher.js';

/** Least validity a credential must have left to be handed out (`cache.minRemainingSeconds`, default 300 s). */
export const DEFAULT_MIN_REMAINING_MS = 300_000;
/** Most entries held, configured targets not counted; the least recently used go first. */
export const DEFAULT_MAX_ENTRIES = 10_000;
/** How long a deterministic upstream error is answered from memory. */
export const DEFAULT_NEGATIVE_TTL_MS = 5_000;
/** Least time between two forced fetches of one key (`refreshNow`). */
export const DEFAULT_REFRESH_NOW_MIN_INTERVAL_MS = 10_000;

export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'stale' | 'negative';
export type EvictionReason = 'lru' | 'expired' | 'idle' | 'revoked';

/**
 * Entries by key id, in the order of their last use by a client: a `Map` and a list threaded
 * through the entries themselves, so an entry costs no node beyond its place in the map. A refresh
 * puts its new entry in the old one's place (`replace`), so only a client's request moves a key.
 */
class Recency {
  readonly #byId = new Map<string, StoredEntry>();
  /** Most and least recently used. */
  #newest: StoredEntry | undefined;
  #oldest: StoredEntry | undefined;

  get size(): number {
    return this.#byId.size;
  }

  get oldest(): StoredEntry | undefined {
    return this.#oldest;
  }

  /** Without touching the order. */
  peek(id: string): StoredEntry | undefined {
    return this.#byId.get(id);
  }

  /** Makes `entry` (held here) the most recently used. */
  touch(entry: StoredEntry): void {
    if (entry === this.#newest) return;
    this.#unlink(entry);
    this.#linkNewest(entry);
  }

  /** Adds `entry`, whose key is not held, as the most recently used. */
  add(entry: StoredEntry): void {
    this.#byId.set(entry.keyId, entry);
    this.#linkNewest(entry);
  }

  /** `fresh` takes the place of `old` (held here, same key) in the map and the order. */
  replace(old: StoredEntry, fresh: StoredEntry): void {
    fresh.older = old.older;
    fresh.newer = old.newer;
    if (fresh.older) fresh.older.newer = fresh;
    else this.#oldest = fresh;
    if (fresh.newer) fresh.newer.older = fresh;
    else this.#newest = fresh;
    old.older = old.newer = undefined;
    this.#byId.set(fresh.keyId, fresh);
  }

  /** Removes the entry of `id`; returns it, or undefined when none is held. */
  delete(id: string): StoredEntry | undefined {
    const entry = this.#byId.get(id);
    if (!entry) return undefined;
    this.#byId.delete(id);
    this.#unlink(entry);
    return entry;
  }

  /** Most recently used first. */
  *values(): Generator<StoredEntry> {
    for (let entry = this.#newest; entry; entry = entry.older) yield entry;
  }

  #unlink(entry: StoredEntry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else if (this.#oldest === entry) this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else if (this.#newest === entry) this.#newest = entry.older;
    entry.older = entry.newer = undefined;
  }

  #linkNewest(entry: StoredEntry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }
}

/** What the cache tells its subscribers. */
export interface CacheListener {
  /** A new credential was stored (first load or refresh). */
  stored?(entry: CacheEntry): void;
  /** An entry left the cache; whatever load was refreshing it has been dropped. */
  evicted?(entry: CacheEntry, reason: EvictionReason): void;
  /** A client lookup and how it was answered, whether or not the load then succeeds. */
  lookup?(key: CredentialKey, result: CacheResult): void;
}

export interface CredentialCacheOptions {
  readonly clock: Clock;
  readonly fetcher: CredentialFetcher;
  /** Entries held besides pinned ones; past it, the least recently used goes (`lru`). */
  readonly maxEntries?: number;
  readonly minRemainingMs?: number;
  readonly negativeTtlMs?: number;
  /**
   * Least time between two forced fetches of one key (`forceRefresh`); 0: no limit. A forced
   * fetch that fails uses up its interval too, so a client cannot hammer a failing upstream.
   */
  readonly refreshNowMinIntervalMs?: number;
  /**
   * Keys held outside the LRU (configured targets): never LRU-evicted, never swept, and their
   * refreshes wanted whether or not the entry is there.
   */
  readonly pinned?: (key: CredentialKey) => boolean;
}

export interface Lookup {
  readonly entry: CacheEntry;
  readonly result: Exclude<CacheResult, 'negative'>;
}

export interface GetOptions {
  /** Aborted when the client hung up: its miss is dropped if nobody else waits on it. */
  readonly signal?: AbortSignal | undefined;
}

interface NegativeEntry {
  readonly error: UpstreamError;
  readonly until: number;
}

/** One load of one key. */
interface Flight {
  readonly id: string;
  readonly controller: AbortController;
  /** Made by the refresher (wanted while its entry is cached, or its key pinned), or by a client. */
  readonly byRefresh: boolean;
  /**
   * The entry a refresh or a forced fetch replaces; undefined for a client's miss or a pinned
   * key's first load.
   */
  readonly basis: CacheEntry | undefined;
  /** The budget queue it waits in: rises when a client or a target's standing job joins it. */
  readonly priority: Priority;
  /** Clients waiting on it and still connected. */
  clients: number;
  /** It has left the budget's queues: its upstream call is made. */
  started: boolean;
  promise: Promise<CacheEntry>;
}

/** A forced fetch of a key asked for within its interval since the last one. */
export class RefreshTooSoon extends Error {
  override readonly name = 'RefreshTooSoon';
  constructor(
    /** Milliseconds until the key may be forced again. */
    readonly retryAfterMs: number,
  ) {
    super(
      `refreshNow: this credential was fetched anew less than the configured interval ago (cache.refreshNowMinIntervalSeconds); retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    );
  }
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
  readonly #fetcher: CredentialFetcher;
  readonly #minRemainingMs: number;
  readonly #negativeTtlMs: number;
  readonly #isPinned: (key: CredentialKey) => boolean;
  readonly #maxEntries: number;
  readonly #refreshNowMinIntervalMs: number;
  /**
   * Until when each recently forced key may not be forced again, oldest first (the interval is
   * one constant, so insertion order is expiry order). At most `maxEntries` keys: past that the
   * oldest is forgotten, so a flood of distinct keys cannot grow it (their fetches are bounded
   * by the upstream budget, like misses).
   */
  readonly #forcedUntil = new Map<string, number>();
  /** What a client can have evicted, by last use; pinned keys are held beside it. */
  readonly #entries = new Recency();
  readonly #pinned = new Map<string, StoredEntry>();
  readonly #negative = new Map<string, NegativeEntry>();
  readonly #flights = new Map<string, Flight>();
  readonly #listeners: CacheListener[] = [];

  constructor(options: CredentialCacheOptions) {
    this.#clock = options.clock;
    this.#fetcher = options.fetcher;
    this.#minRemainingMs = nonNegative(
      'minRemainingMs',
      options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS,
    );
    this.#negativeTtlMs = nonNegative(
      'negativeTtlMs',
      options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS,
    );
    this.#isPinned = options.pinned ?? (() => false);
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries: must be a whole number of at least 1, got ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
    this.#refreshNowMinIntervalMs = nonNegative(
      'refreshNowMinIntervalMs',
      options.refreshNowMinIntervalMs ?? DEFAULT_REFRESH_NOW_MIN_INTERVAL_MS,
    );
  }

  /** Tells `listener` of stores, evictions and lookups from now on; returns the unsubscribe. */
  subscribe(listener: CacheListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at !== -1) this.#listeners.splice(at, 1);
    };
  }

  /** Whether `entry` may be handed out now. */
  servable(entry: CacheEntry): boolean {
    return (
      (entry instanceof StoredEntry ? entry.expiration : entry.issued.expiration) -
        this.#clock.now() >=
      this.#minRemainingMs
    );
  }

  /**
   * The cached credential for `key` when it can be served now (`hit`, or `stale` while its
   * refresh fails), synchronously; undefined when only `get` can answer.
   */
  getServable(key: CredentialKey): Lookup | undefined {
    let entry = this.#pinned.size > 0 ? this.#pinned.get(key.id) : undefined;
    if (entry === undefined) {
      entry = this.#entries.peek(key.id);
      if (entry === undefined) return undefined;
      this.#entries.touch(entry);
    }
    const now = this.#clock.now();
    if (entry.expiration - now < this.#minRemainingMs) return undefined;
    entry.lastUsedAt = now;
    const result = entry.refreshFailed ? 'stale' : 'hit';
    this.#emitLookup(key, result);
    return { entry, result };
  }

  /** Clock time a client last asked for the cached `key` (-Infinity: never); undefined: not cached. */
  lastUsedAt(key: CredentialKey): number | undefined {
    return this.#current(key)?.lastUsedAt;
  }

  /**
   * A credential for `key` with at least `minRemainingMs` left: from memory when it has one,
   * else from one upstream load shared by every concurrent caller. Rejects with the load's
   * `UpstreamError`, `NegativeCacheHit` while a deterministic error is remembered, the budget's
   * refusal, or `LoadCancelled` when the caller's `signal` ended its wait.
   */
  async get(key: CredentialKey, options: GetOptions = {}): Promise<Lookup> {
    const served = this.getServable(key);
    if (served) return served;
    const now = this.#clock.now();
    const negative = this.#negative.get(key.id);
    if (negative) {
      if (negative.until > now) {
        this.#emitLookup(key, 'negative');
        throw new NegativeCacheHit(negative.error, negative.until - now);
      }
      this.#negative.delete(key.id);
    }
    const { signal } = options;
    if (signal?.aborted) throw cancellation(signal);
    let flight = this.#flights.get(key.id);
    const joined = flight !== undefined;
    if (!flight) flight = this.#start(key, 'on_demand', undefined);
    // A client now waits on it: a refresh must not wait behind every background refresh.
    else flight.priority.raise('on_demand');
    return this.#wait(key, flight, joined ? 'coalesced' : 'miss', signal);
  }

  /**
   * A credential for `key` fetched anew now, whether or not one is cached (a client's
   * `refreshNow`): one upstream load, shared with any load of the key already under way (a
   * client's miss, a refresh, another forced fetch), stored like any other. At most one forced
   * fetch of a key starts per `refreshNowMinIntervalMs`: within it, a key with no load under way
   * rejects with `RefreshTooSoon`. A failed forced fetch leaves a still-valid entry as it is (it
   * is served to everyone else as before); only the caller gets the error. Rejects as `get`
   * does otherwise (a remembered deterministic error, the budget's refusal, the load's error).
   */
  async forceRefresh(key: CredentialKey, options: GetOptions = {}): Promise<Lookup> {
    const { signal } = options;
    let flight = this.#flights.get(key.id);
    const joined = flight !== undefined;
    if (flight) flight.priority.raise('on_demand');
    else {
      const now = this.#clock.now();
      const until = this.#forcedUntil.get(key.id);
      if (until !== undefined && until > now) throw new RefreshTooSoon(until - now);
      const negative = this.#negative.get(key.id);
      if (negative && negative.until > now) {
        this.#emitLookup(key, 'negative');
        throw new NegativeCacheHit(negative.error, negative.until - now);
      }
      if (signal?.aborted) throw cancellation(signal);
      this.#forced(key.id, now);
      flight = this.#start(key, 'on_demand', this.#current(key));
    }
    return this.#wait(key, flight, joined ? 'coalesced' : 'miss', signal);
  }

  /** Remembers that `id` was forced at `now`, forgetting elapsed and (past the bound) oldest keys. */
  #forced(id: string, now: number): void {
    if (this.#refreshNowMinIntervalMs === 0) return;
    const forced = this.#forcedUntil;
    forced.delete(id);
    for (const [oldest, until] of forced) {
      if (until > now && forced.size < this.#maxEntries) break;
      forced.delete(oldest);
    }
    forced.set(id, now + this.#refreshNowMinIntervalMs);
  }

  /** A client waits on `flight` (until its `signal` ends the wait) for a servable credential. */
  async #wait(
    key: CredentialKey,
    flight: Flight,
    result: 'miss' | 'coalesced',
    signal: AbortSignal | undefined,
  ): Promise<Lookup> {
    this.#emitLookup(key, result);
    const waiting = flight;
    waiting.clients += 1;
    let present = true;
    const onAbort = () => {
      present = false;
      this.#clientLeft(key, waiting);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let entry: CacheEntry;
    try {
      entry = await waiting.promise;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (present) waiting.clients -= 1;
    }
    if (!this.servable(entry)) {
      // Issued with less validity than the floor: AWS or the configuration is off. Never serve it.
      throw new UpstreamError(
        'Unavailable',
        'InvalidResponse',
        `the credential for ${key.source} arrived with less than ${this.#minRemainingMs} ms of validity left`,
      );
    }
    return { entry, result };
  }

  /**
   * Loads a new credential for a cached (or pinned) key in the background lane and stores it,
   * sharing the load with any client miss of the same key. Rejects with the load's error, or
   * `LoadCancelled` when the entry leaves the cache first; the caller (the refresher) decides
   * what to do next.
   */
  refresh(key: CredentialKey): Promise<CacheEntry> {
    const pinned = this.#isPinned(key);
    const existing = this.#flights.get(key.id);
    if (existing) {
      // A target's standing job takes its reserved share, also when a client's miss came first.
      if (pinned) existing.priority.raise('reserved');
      return existing.promise;
    }
    const basis = this.#current(key);
    if (!basis && !pinned) {
      return Promise.reject(new LoadCancelled('the entry is not in the cache'));
    }
    return this.#start(key, 'background', basis).promise;
  }

  /**
   * Whether `key` is pinned changed (a reload added or removed a target): its entry, if held,
   * moves beside the LRU or into it, as the newest; one past `maxEntries` then goes (`lru`).
   */
  repin(key: CredentialKey): void {
    if (this.#isPinned(key)) {
      const entry = this.#entries.delete(key.id);
      if (entry) this.#pinned.set(key.id, entry);
      return;
    }
    const entry = this.#pinned.get(key.id);
    if (!entry) return;
    this.#pinned.delete(key.id);
    this.#entries.add(entry);
    const oldest = this.#entries.oldest;
    if (this.#entries.size > this.#maxEntries && oldest) {
      this.#entries.delete(oldest.keyId);
      this.#left(oldest, 'lru');
    }
  }

  /** Whether a load of `key` is under way (queued or in flight). */
  loading(key: CredentialKey): boolean {
    return this.#flights.has(key.id);
  }

  /** Loads under way. */
  get flights(): number {
    return this.#flights.size;
  }

  #start(key: CredentialKey, lane: Lane, basis: CacheEntry | undefined): Flight {
    const byRefresh = lane === 'background';
    const flight: Flight = {
      id: key.id,
      controller: new AbortController(),
      byRefresh,
      basis,
      priority: new Priority(byRefresh && this.#isPinned(key) ? 'reserved' : lane),
      clients: 0,
      started: false,
      promise: undefined as unknown as Promise<CacheEntry>,
    };
    this.#flights.set(key.id, flight);
    flight.promise = this.#run(key, flight, lane).finally(() => this.#forget(flight));
    return flight;
  }

  async #run(key: CredentialKey, flight: Flight, lane: Lane): Promise<CacheEntry> {
    const { signal } = flight.controller;
    let issued: IssuedCredentials<unknown>;
    try {
      issued = await this.#fetcher.fetch(key, {
        lane,
        priority: flight.priority,
        signal,
        started: () => {
          flight.started = true;
        },
      });
    } catch (error) {
      if (signal.aborted) throw cancellation(signal);
      if (isDeterministic(error) && this.#negativeTtlMs > 0) {
        this.#negative.set(key.id, { error, until: this.#clock.now() + this.#negativeTtlMs });
      }
      const current = this.#current(key);
      if (flight.byRefresh) {
        // Served as `stale` from now on (the refresher decides about eviction and retries).
        if (current !== undefined && current === flight.basis) current.refreshFailed = true;
      } else if (isDeterministic(error) && error.evict && current && !this.servable(current)) {
        // A client's miss found access revoked: the old, no longer servable entry goes too.
        this.evict(key, 'revoked', current);
      }
      throw error;
    }
    if (signal.aborted) throw cancellation(signal);
    const current = this.#current(key);
    const pinned = this.#isPinned(key);
    if (flight.byRefresh && flight.clients === 0 && !pinned && current !== flight.basis) {
      throw new LoadCancelled('its entry left the cache');
    }
    this.#negative.delete(key.id);
    const now = this.#clock.now();
    const usedNow = !flight.byRefresh || flight.clients > 0;
    const entry = new StoredEntry(key, issued, now, current ? current.generation + 1 : 0);
    if (current) {
      // In its place: a refresh keeps the key's place in the LRU; a client's load moves it up.
      entry.lastUsedAt = usedNow ? now : current.lastUsedAt;
      if (pinned) this.#pinned.set(key.id, entry);
      else {
        this.#entries.replace(current, entry);
        if (usedNow) this.#entries.touch(entry);
      }
    } else {
      if (usedNow) entry.lastUsedAt = now;
      if (pinned) this.#pinned.set(key.id, entry);
      else {
        this.#entries.add(entry);
        const oldest = this.#entries.oldest;
        if (this.#entries.size > this.#maxEntries && oldest) {
          // After the key is gone: whoever is told finds the cache without it.
          this.#entries.delete(oldest.keyId);
          this.#left(oldest, 'lru');
        }
      }
    }
    for (const listener of this.#listeners) listener.stored?.(entry);
    return entry;
  }

  /**
   * A client waiting on `flight` hung up. A load nobody wants any more goes, if it has not
   * started: a client's miss nobody else waits on, or a refresh whose entry has left meanwhile.
   */
  #clientLeft(key: CredentialKey, flight: Flight): void {
    flight.clients -= 1;
    if (flight.clients > 0 || flight.started) return;
    if (!flight.byRefresh) this.#cancel(flight, 'every client waiting on it hung up');
    else if (!this.#isPinned(key) && this.#current(key) !== flight.basis) {
      this.#cancel(flight, 'its entry left the cache and its clients hung up');
    }
  }

  /** Aborts `flight` and forgets it now: a client asking from here on starts a new load. */
  #cancel(flight: Flight, reason: string): void {
    flight.controller.abort(new LoadCancelled(reason));
    this.#forget(flight);
  }

  #forget(flight: Flight): void {
    if (this.#flights.get(flight.id) === flight) this.#flights.delete(flight.id);
  }

  /** The entry for `key` without touching its recency or use time. */
  peek(key: CredentialKey): CacheEntry | undefined {
    return this.#current(key);
  }

  #current(key: CredentialKey): StoredEntry | undefined {
    return this.#pinned.get(key.id) ?? this.#entries.peek(key.id);
  }

  /** Removes the entry of `key` (if it is still `entry`, when given), telling subscribers why. */
  evict(key: CredentialKey, reason: EvictionReason, entry?: CacheEntry): boolean {
    const current = this.#current(key);
    if (!current || (entry !== undefined && current !== entry)) return false;
    if (!this.#pinned.delete(key.id)) this.#entries.delete(key.id);
    this.#left(current, reason);
    return true;
  }

  /** `entry` is out of the cache: its refresh goes with it, then subscribers are told. */
  #left(entry: StoredEntry, reason: EvictionReason): void {
    const flight = this.#flights.get(entry.keyId);
    if (flight && flight.basis === entry && flight.clients === 0) {
      this.#cancel(flight, `its entry left the cache (${reason})`);
    }
    for (const listener of this.#listeners) listener.evicted?.(entry, reason);
  }

  /** Every entry, pinned first, then least recently used last; does not touch recency. */
  entries(): CacheEntry[] {
    const entries: CacheEntry[] = [];
    for (const entry of this.#pinned.values()) entries.push(entry);
    for (const entry of this.#entries.values()) entries.push(entry);
    return entries;
  }

  /** Number of entries per source. */
  countBySource(): Record<Source, number> {
    const counts: Record<Source, number> = {
      lakeformation_table: 0,
      lakeformation_partition: 0,
      redshift_serverless: 0,
      lakeformation_location: 0,
    };
    for (const entry of this.#pinned.values()) counts[entry.source] += 1;
    for (const entry of this.#entries.values()) counts[entry.source] += 1;
    return counts;
  }

  /**
   * Drops what can no longer be served (`expired`: less than `minRemainingMs` left) and what no
   * client asked for within `idleMs` (`idle`); pinned entries stay (their refresher replaces
   * them). Forgets elapsed negative entries. Returns how many entries left.
   */
  sweep(idleMs: number): number {
    const now = this.#clock.now();
    let removed = 0;
    for (const entry of [...this.#entries.values()]) {
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
    for (const [id, until] of this.#forcedUntil) {
      if (until > now) break; // oldest first: the rest have not elapsed either
      this.#forcedUntil.delete(id);
    }
    return removed;
  }

  /**
   * Drops every refresh no client waits on, queued or running (shutdown has begun: nobody will
   * use its result). Client misses, and refreshes a client has joined, go on.
   */
  abortRefreshes(reason: string): void {
    for (const flight of [...this.#flights.values()]) {
      if (flight.byRefresh && flight.clients === 0) this.#cancel(flight, reason);
    }
  }

  /** Drops every load under way (the engine is stopping); entries stay readable. */
  abortAll(reason: string): void {
    for (const flight of [...this.#flights.values()]) this.#cancel(flight, reason);
  }

  get size(): number {
    return this.#pinned.size + this.#entries.size;
  }

  #emitLookup(key: CredentialKey, result: CacheResult): void {
    for (const listener of this.#listeners) listener.lookup?.(key, result);
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
