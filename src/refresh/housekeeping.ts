/**
 * Periodic housekeeping, on a cron schedule read through the clock (node-cron on the system
 * clock): drops cache entries that can no longer be served (`expired`) and keys nobody asked for
 * within the idle window (`idle`; pinned targets are never swept), then reports what the cache holds
 * so gauges follow it.
 */
import type { CredentialCache } from '../cache/credential-cache.js';
import type { Clock, Timer } from '../clock.js';
import type { Source } from '../providers/types.js';
import { DEFAULT_IDLE_MS } from './scheduler.js';

/** Every 15 seconds: idle keys go within 15 s of their window, gauges lag by as much. */
export const DEFAULT_HOUSEKEEPING_SCHEDULE = '*/15 * * * * *';

export interface HousekeepingReport {
  /** Clock time of the run. */
  readonly at: number;
  /** Entries removed by this run. */
  readonly removed: number;
  /** Entries left, per source. */
  readonly entries: Readonly<Record<Source, number>>;
}

export interface HousekeepingOptions {
  readonly clock: Clock;
  readonly cache: CredentialCache;
  readonly idleMs?: number;
  /** Six-field cron expression, UTC; default every 15 s. */
  readonly schedule?: string;
  /** Told after every run. */
  readonly onRun?: (report: HousekeepingReport) => void;
  /** Told when a scheduled run throws; the schedule goes on. */
  readonly onError?: (error: unknown) => void;
}

export class Housekeeping {
  readonly #clock: Clock;
  readonly #cache: CredentialCache;
  readonly #idleMs: number;
  readonly #schedule: string;
  readonly #onRun: ((report: HousekeepingReport) => void) | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  #task: Timer | undefined;

  constructor(options: HousekeepingOptions) {
    this.#clock = options.clock;
    this.#cache = options.cache;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#schedule = options.schedule ?? DEFAULT_HOUSEKEEPING_SCHEDULE;
    this.#onRun = options.onRun;
    this.#onError = options.onError;
  }

  /** Starts the periodic runs; a second call does nothing. */
  start(): void {
    // A timer callback that throws would be an uncaught exception: the daemon must not die of
    // a failed sweep, so the failure is reported and the next run comes as scheduled.
    this.#task ??= this.#clock.schedule(this.#schedule, () => {
      try {
        this.run();
      } catch (error) {
        this.#onError?.(error);
      }
    });
  }

  /** Stops the periodic runs. */
  stop(): void {
    this.#task?.cancel();
    this.#task = undefined;
  }

  /** One run, now. */
  run(): HousekeepingReport {
    const removed = this.#cache.sweep(this.#idleMs);
    const report = { at: this.#clock.now(), removed, entries: this.#cache.countBySource() };
    this.#onRun?.(report);
    return report;
  }
}
