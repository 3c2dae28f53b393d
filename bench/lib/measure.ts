/**
 * Measurement loops. Every loop is bounded twice, by a request count and by wall-clock time,
 * so a slow or failing target cannot stall the harness.
 */
import { mergeRuns, type RunResult } from './stats.js';

/** One request against a target; resolves on success, rejects on any failure. */
export type Operation = () => Promise<void>;

export interface Bounds {
  /** Most requests to issue. */
  readonly count: number;
  /** Most wall-clock time to spend, in milliseconds; no request starts after it. */
  readonly maxMs: number;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Issues up to `bounds.count` requests with `concurrency` of them in flight at a time (1: one
 * after the other), timing each from start to completion.
 */
export async function runLoad(
  operation: Operation,
  bounds: Bounds,
  concurrency = 1,
): Promise<RunResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const begin = nowMs();
  const deadline = begin + bounds.maxMs;

  const worker = async (): Promise<void> => {
    while (started < bounds.count && nowMs() < deadline) {
      started += 1;
      const t0 = process.hrtime.bigint();
      try {
        await operation();
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (error) {
        errors += 1;
        firstError ??= describe(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return {
    latenciesMs,
    errors,
    ...(firstError !== undefined && { firstError }),
    elapsedMs: nowMs() - begin,
  };
}

export interface Target {
  readonly label: string;
  readonly operation: Operation;
}

export interface CompareOptions {
  /** Requests (and time) spent on each target before measuring; not recorded. */
  readonly warmup: Bounds;
  /** Measured requests (and time) per target, over all rounds. */
  readonly measure: Bounds;
  /** Targets take turns this many times, so drift (JIT, GC, CPU clock) hits them alike. */
  readonly rounds: number;
  readonly concurrency?: number;
}

/**
 * Warms every target up, then measures them in interleaved rounds (A, B, A, B, …) and returns
 * one merged run per target, in the order of `targets`.
 */
export async function compare(
  targets: readonly Target[],
  options: CompareOptions,
): Promise<RunResult[]> {
  const concurrency = options.concurrency ?? 1;
  for (const target of targets) await runLoad(target.operation, options.warmup, concurrency);
  const rounds = Math.max(1, options.rounds);
  const perRound: Bounds = {
    count: Math.ceil(options.measure.count / rounds),
    maxMs: options.measure.maxMs / rounds,
  };
  const runs: RunResult[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, target] of targets.entries()) {
      runs[index]?.push(await runLoad(target.operation, perRound, concurrency));
    }
  }
  return runs.map(mergeRuns);
}
