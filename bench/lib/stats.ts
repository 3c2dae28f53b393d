/**
 * Latency statistics over one measured run: nearest-rank percentiles, mean and throughput.
 */

/** What a measurement loop collected for one target. */
export interface RunResult {
  /** Latency of every successful request, in milliseconds. */
  readonly latenciesMs: number[];
  /** Requests that failed (non-2xx answer, network error or timeout). */
  readonly errors: number;
  /** Message of the first failure, if any. */
  readonly firstError?: string;
  /** Wall-clock time spent issuing the requests, in milliseconds. */
  readonly elapsedMs: number;
}

export interface LatencyStats {
  readonly samples: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Successful requests per second of wall-clock time. */
  readonly throughput: number;
}

/** The nearest-rank `p`th percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export function summarize(run: RunResult): LatencyStats {
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  const n = sorted.length;
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    samples: n,
    errors: run.errors,
    ...(run.firstError !== undefined && { firstError: run.firstError }),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: n === 0 ? Number.NaN : sum / n,
    min: sorted[0] ?? Number.NaN,
    max: sorted[n - 1] ?? Number.NaN,
    throughput: run.elapsedMs > 0 ? (n * 1000) / run.elapsedMs : Number.NaN,
  };
}

/** Concatenates the runs of one target (e.g. its interleaved rounds) into one. */
export function mergeRuns(runs: readonly RunResult[]): RunResult {
  const firstError = runs.find((run) => run.firstError !== undefined)?.firstError;
  return {
    latenciesMs: runs.flatMap((run) => run.latenciesMs),
    errors: runs.reduce((total, run) => total + run.errors, 0),
    ...(firstError !== undefined && { firstError }),
    elapsedMs: runs.reduce((total, run) => total + run.elapsedMs, 0),
  };
}
