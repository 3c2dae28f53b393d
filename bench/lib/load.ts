/**
 * What the load-generator host (`hosts/load.ts`) is asked to do and what it answers: a fixed
 * number of keep-alive connections each sending one GET after another for a while (autocannon),
 * with every answer's latency kept (autocannon's own histogram has whole-millisecond buckets).
 */
import type { LatencyStats } from './stats.js';

export interface LoadParams {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationMs: number;
  /** An answer with another status counts as unexpected (and its latency is not kept). */
  readonly expectStatus: number;
}

export interface LoadResult {
  /** Over the answers with the expected status; `throughput` per second of `elapsedMs`. */
  readonly stats: LatencyStats;
  /** Answers with another status. */
  readonly unexpected: number;
  readonly firstUnexpectedStatus?: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly firstError?: string;
  /** From the call to autocannon to its end, in milliseconds. */
  readonly elapsedMs: number;
  /** Bytes on the wire per answer (head and body), mean. */
  readonly bytesPerAnswer: number;
  /** CPU time the load generator's process used meanwhile (user + system), in milliseconds. */
  readonly cpuMs: number;
}

export function isLoadResult(value: unknown): value is LoadResult {
  if (typeof value !== 'object' || value === null) return false;
  const { stats, unexpected, errors, elapsedMs, cpuMs } = value as Record<string, unknown>;
  return (
    typeof stats === 'object' &&
    stats !== null &&
    typeof unexpected === 'number' &&
    typeof errors === 'number' &&
    typeof elapsedMs === 'number' &&
    typeof cpuMs === 'number'
  );
}
