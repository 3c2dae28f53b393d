/**
 * The credential engine assembled: providers behind the shared upstream budget, the cache, the
 * background refresher and the periodic housekeeping, all on one clock. The daemon builds one;
 * tests and benchmarks build the same graph with their own clock and providers.
 */
import {
  type CacheEntry,
  type CacheResult,
  CredentialCache,
  DEFAULT_MIN_REMAINING_MS,
  type EvictionReason,
  type Lane,
  type Load,
} from '../cache/credential-cache.js';
import type { CredentialKey } from '../cache/key.js';
import type { Clock } from '../clock.js';
import { UpstreamBudget, type UpstreamBudgetOptions } from './budget.js';
import { Housekeeping, type HousekeepingReport } from './housekeeping.js';
import type { BackoffDelayOptions, RefreshAtOptions } from './policy.js';
import { DEFAULT_IDLE_MS, RefreshScheduler, type RefreshOutcome } from './scheduler.js';
import { type Providers, budgetedLoad } from './upstream-load.js';

export interface CredentialEngineOptions {
  readonly clock: Clock;
  readonly providers: Providers;
  readonly maxEntries?: number;
  readonly minRemainingMs?: number;
  readonly negativeTtlMs?: number;
  /** A key nobody asked for this long is no longer refreshed, and is swept. */
  readonly idleMs?: number;
  /** Configured targets: refreshed and kept whether or not anyone asked for them lately. */
  readonly isTarget?: (key: CredentialKey) => boolean;
  readonly budget?: Omit<UpstreamBudgetOptions, 'clock'>;
  /** Refresh-point tuning; `minRemainingMs` comes from the option above. */
  readonly refreshPolicy?: Omit<RefreshAtOptions, 'random' | 'minRemainingMs'>;
  readonly backoffPolicy?: Omit<BackoffDelayOptions, 'random' | 'throttled'>;
  /** Cron expression of the housekeeping runs (six fields, UTC). */
  readonly housekeepingSchedule?: string;
  /** Source of jitter, in [0, 1). */
  readonly random?: () => number;
  /** Observers, for metrics and logs. */
  readonly on?: {
    /** Every upstream load the cache makes, by lane, and its failure if it failed. */
    readonly load?: (key: CredentialKey, lane: Lane, error?: unknown) => void;
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
  /** Starts the periodic housekeeping (refresh timers need no start: storing arms them). */
  start(): void;
  /** Stops every timer; cached credentials stay readable. */
  stop(): void;
}

export function createCredentialEngine(options: CredentialEngineOptions): CredentialEngine {
  const { clock } = options;
  const minRemainingMs = options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS;
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const budget = new UpstreamBudget({ clock, ...options.budget });
  // The cache tells the scheduler of stores and evictions, and the scheduler refreshes through
  // the cache: the scheduler is bound once both exist.
  const bound: { scheduler?: RefreshScheduler } = {};
  const budgeted = budgetedLoad(options.providers, budget);
  const onLoad = options.on?.load;
  const load: Load = onLoad
    ? async (key, lane, urgent) => {
        try {
          const issued = await budgeted(key, lane, urgent);
          onLoad(key, lane);
          return issued;
        } catch (error) {
          onLoad(key, lane, error);
          throw error;
        }
      }
    : budgeted;
  const cache = new CredentialCache({
    clock,
    load,
    minRemainingMs,
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
    ...(options.negativeTtlMs !== undefined && { negativeTtlMs: options.negativeTtlMs }),
    ...(options.on?.lookup && { onLookup: options.on.lookup }),
    onStore: (entry) => {
      bound.scheduler?.track(entry);
      options.on?.store?.(entry);
    },
    onEvict: (entry, reason) => {
      bound.scheduler?.untrack(entry);
      options.on?.evict?.(entry, reason);
    },
  });
  const scheduler = new RefreshScheduler({
    clock,
    cache,
    idleMs,
    ...(options.isTarget && { isTarget: options.isTarget }),
    ...(options.random && { random: options.random }),
    refreshPolicy: { ...options.refreshPolicy, minRemainingMs },
    ...(options.backoffPolicy && { backoffPolicy: options.backoffPolicy }),
    ...(options.on?.refresh && { onRefresh: options.on.refresh }),
  });
  const housekeeping = new Housekeeping({
    clock,
    cache,
    idleMs,
    ...(options.isTarget && { isTarget: options.isTarget }),
    ...(options.housekeepingSchedule !== undefined && {
      schedule: options.housekeepingSchedule,
    }),
    ...(options.on?.housekeeping && { onRun: options.on.housekeeping }),
    ...(options.on?.housekeepingError && { onError: options.on.housekeepingError }),
  });
  bound.scheduler = scheduler;
  return {
    cache,
    scheduler,
    budget,
    housekeeping,
    start: () => housekeeping.start(),
    stop: () => {
      housekeeping.stop();
      scheduler.stop();
    },
  };
}
