/**
 * The credential engine assembled: providers behind the shared upstream budget, the cache, the
 * background refresher and the periodic housekeeping, all on one clock. The daemon builds one;
 * tests and benchmarks build the same graph with their own clock and providers.
 *
 * A load passes through stages of one interface (`CredentialFetcher`): the provider call, inside
 * the budget, inside the load observer; the cache holds the outermost. The refresher subscribes to
 * the cache once both exist.
 */
import {
  type CacheEntry,
  type CacheResult,
  CredentialCache,
  DEFAULT_MIN_REMAINING_MS,
  type EvictionReason,
} from '../cache/credential-cache.js';
import { type CredentialFetcher, type Lane, LoadCancelled } from '../cache/fetcher.js';
import type { CredentialKey } from '../cache/key.js';
import type { Clock } from '../clock.js';
import type { UpstreamError } from '../providers/errors.js';
import { BudgetExceeded, UpstreamBudget, type UpstreamBudgetOptions } from './budget.js';
import { Housekeeping, type HousekeepingReport } from './housekeeping.js';
import type { BackoffDelayOptions, RefreshAtOptions } from './policy.js';
import { DEFAULT_IDLE_MS, RefreshScheduler, type RefreshOutcome } from './scheduler.js';
import { type Providers, budgetedFetcher, providerFetcher } from './upstream-load.js';

export interface CredentialEngineOptions {
  readonly clock: Clock;
  readonly providers: Providers;
  readonly maxEntries?: number;
  readonly minRemainingMs?: number;
  readonly negativeTtlMs?: number;
  /** Least time between two forced fetches (`refreshNow`) of one key. */
  readonly refreshNowMinIntervalMs?: number;
  /** A key nobody asked for this long is no longer refreshed, and is swept. */
  readonly idleMs?: number;
  /** Configured targets: pinned, loaded at start and kept fresh whether or not anyone asks. */
  readonly targets?: readonly CredentialKey[];
  readonly budget?: Omit<UpstreamBudgetOptions, 'clock' | 'reservedSlots'>;
  /** Refresh-point tuning; `minRemainingMs` comes from the option above. */
  readonly refreshPolicy?: Omit<RefreshAtOptions, 'random' | 'minRemainingMs'>;
  readonly backoffPolicy?: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  /** Cron expression of the housekeeping runs (six fields, UTC). */
  readonly housekeepingSchedule?: string;
  /** Source of jitter, in [0, 1). */
  readonly random?: () => number;
  /** Observers, for metrics and logs. */
  readonly on?: {
    /**
     * Every upstream load (one that was not dropped before it ended), by lane, and its failure if
     * it failed.
     */
    readonly load?: (key: CredentialKey, lane: Lane, error?: UpstreamError) => void;
    readonly store?: (entry: CacheEntry) => void;
    /** Every client lookup and how it was answered (hit, miss, coalesced, stale, negative). */
    readonly lookup?: (key: CredentialKey, result: CacheResult) => void;
    readonly evict?: (entry: CacheEntry, reason: EvictionReason) => void;
    readonly refresh?: (key: CredentialKey, result: RefreshOutcome) => void;
    readonly housekeeping?: (report: HousekeepingReport) => void;
    /** A scheduled housekeeping run that threw (the schedule goes on). */
    readonly housekeepingError?: (error: unknown) => void;
  };
}

export interface CredentialEngine {
  readonly cache: CredentialCache;
  readonly scheduler: RefreshScheduler;
  readonly budget: UpstreamBudget;
  readonly housekeeping: Housekeeping;
  /** Starts the targets' standing jobs and the periodic housekeeping. */
  start(): void;
  /** Settles once every target's first load since `start` has ended, well or not. */
  warm(): Promise<void>;
  /**
   * The configured targets are now `keys` (a reload): new ones are pinned and their standing jobs
   * start, removed ones become ordinary keys. Settles once the new targets' first loads have ended.
   */
  setTargets(keys: readonly CredentialKey[]): Promise<void>;
  /**
   * Shutdown has begun: no background refresh starts from now on. The refresher and the
   * housekeeping stop, and every refresh no client waits on is dropped (a queued one leaves the
   * budget, a running SDK call is aborted); client misses go on until `stop`.
   */
  drain(): void;
  /**
   * Stops every timer and drops every load under way (queued calls leave the budget, running SDK
   * calls are aborted); cached credentials stay readable.
   */
  stop(): void;
}

/** A fetcher that tells `observe` how each load ended (dropped ones are no loads). */
function observed(
  inner: CredentialFetcher,
  observe: (key: CredentialKey, lane: Lane, error?: UpstreamError) => void,
): CredentialFetcher {
  return {
    async fetch(key, context) {
      try {
        const issued = await inner.fetch(key, context);
        observe(key, context.lane);
        return issued;
      } catch (error) {
        // A dropped load and the budget's refusal made no upstream call: neither is a load.
        if (!(error instanceof LoadCancelled) && !(error instanceof BudgetExceeded)) {
          observe(key, context.lane, error as UpstreamError);
        }
        throw error;
      }
    },
  };
}

export function createCredentialEngine(options: CredentialEngineOptions): CredentialEngine {
  const { clock, on = {} } = options;
  const minRemainingMs = options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS;
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const targets = options.targets ?? [];
  const maxConcurrent = options.budget?.maxConcurrent;
  // One slot kept for the targets' standing jobs, when there are targets and slots to spare.
  const reservedSlots = (count: number) => (count > 0 && (maxConcurrent ?? 8) > 1 ? 1 : 0);
  const budget = new UpstreamBudget({
    clock,
    ...options.budget,
    reservedSlots: reservedSlots(targets.length),
  });
  const budgeted = budgetedFetcher(providerFetcher(options.providers), budget);
  const fetcher = on.load ? observed(budgeted, on.load) : budgeted;
  const targetKeys = new Map(targets.map((key) => [key.id, key]));
  const cache = new CredentialCache({
    clock,
    fetcher,
    minRemainingMs,
    pinned: (key) => targetKeys.has(key.id),
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
    ...(options.negativeTtlMs !== undefined && { negativeTtlMs: options.negativeTtlMs }),
    ...(options.refreshNowMinIntervalMs !== undefined && {
      refreshNowMinIntervalMs: options.refreshNowMinIntervalMs,
    }),
  });
  // The refresher subscribes first: observers see an entry once it is scheduled.
  const scheduler = new RefreshScheduler({
    clock,
    cache,
    idleMs,
    targets,
    ...(options.random && { random: options.random }),
    refreshPolicy: { ...options.refreshPolicy, minRemainingMs },
    ...(options.backoffPolicy && { backoffPolicy: options.backoffPolicy }),
    ...(on.refresh && { onRefresh: on.refresh }),
  });
  cache.subscribe({
    ...(on.store && { stored: on.store }),
    ...(on.evict && { evicted: on.evict }),
    ...(on.lookup && { lookup: on.lookup }),
  });
  const housekeeping = new Housekeeping({
    clock,
    cache,
    idleMs,
    ...(options.housekeepingSchedule !== undefined && {
      schedule: options.housekeepingSchedule,
    }),
    ...(on.housekeeping && { onRun: on.housekeeping }),
    ...(on.housekeepingError && { onError: on.housekeepingError }),
  });
  return {
    cache,
    scheduler,
    budget,
    housekeeping,
    start: () => {
      scheduler.start();
      housekeeping.start();
    },
    warm: () => scheduler.warm(),
    setTargets: (keys) => {
      const before = [...targetKeys.values()];
      targetKeys.clear();
      for (const key of keys) targetKeys.set(key.id, key);
      budget.reserveSlots(reservedSlots(targetKeys.size));
      const loaded = scheduler.setTargets(keys);
      // Entries move once the refresher knows the new set, so one that an entry joining the LRU
      // pushes out is an ordinary key's to it.
      for (const key of [...before, ...keys]) cache.repin(key);
      return loaded;
    },
    drain: () => {
      // The refresher first: a refresh dropped below must not be rescheduled by it.
      scheduler.stop();
      housekeeping.stop();
      cache.abortRefreshes('the daemon is shutting down');
    },
    stop: () => {
      housekeeping.stop();
      scheduler.stop();
      cache.abortAll('the engine stopped');
      budget.close();
    },
  };
}
