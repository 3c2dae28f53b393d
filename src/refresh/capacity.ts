/**
 * Can the upstream budget keep a full cache fresh? The check eks-pod-identity-agent makes at
 * start: with every entry in use, each is refreshed once per refresh interval, so a full cache
 * needs `entries / interval` calls per second, and the budget gives `ratePerSecond`. A config
 * that needs more would let entries expire under load, quietly; it is refused at start instead,
 * with the arithmetic in the message.
 */
import { type RefreshAtOptions, refreshAt } from './policy.js';

export interface CapacityInput {
  /** Entries the LRU may hold. */
  readonly maxEntries: number;
  /** Configured targets (pinned, on top of `maxEntries`). */
  readonly targets: number;
  /** Lifetime of the shortest credential the configuration asks for by default, in ms. */
  readonly lifetimeMs: number;
  readonly ratePerSecond: number;
  readonly refreshPolicy?: Omit<RefreshAtOptions, 'random'>;
}

export interface Capacity {
  /** Seconds between two refreshes of one entry, at the earliest jitter allows. */
  readonly intervalSeconds: number;
  /** Refreshes per second a full cache needs. */
  readonly needed: number;
  /** Problem statement when `needed` exceeds the budget's rate. */
  readonly problem: string | undefined;
}

export function refreshCapacity(input: CapacityInput): Capacity {
  const issuedAt = 0;
  const at = refreshAt(
    { issuedAt, expiration: issuedAt + input.lifetimeMs },
    // The steady state (not a cold load's wide first jitter), at its earliest.
    { ...input.refreshPolicy, random: () => 1 - Number.EPSILON },
  );
  const intervalSeconds = (at - issuedAt) / 1000;
  const entries = input.maxEntries + input.targets;
  const needed = entries / intervalSeconds;
  const fits = Math.floor(input.ratePerSecond * intervalSeconds) - input.targets;
  const problem =
    needed <= input.ratePerSecond
      ? undefined
      : `cache.maxEntries: ${input.maxEntries} entries${input.targets > 0 ? ` and ${input.targets} target${input.targets === 1 ? '' : 's'}` : ''} ` +
        `with ${input.lifetimeMs / 1000} s credentials are each refreshed about every ${round(intervalSeconds)} s: ` +
        `${round(needed)} refreshes/s, more than upstream.ratePerSecond (${input.ratePerSecond}); ` +
        `lower cache.maxEntries to at most ${Math.max(0, fits)} or raise upstream.ratePerSecond to at least ${Math.ceil(needed)}`;
  return { intervalSeconds, needed, problem };
}

function round(value: number): string {
  return value >= 100 ? String(Math.round(value)) : value.toFixed(1);
}
