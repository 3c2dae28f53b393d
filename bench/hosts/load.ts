/**
 * Benchmark host that generates load (autocannon) against a server in another process, so that
 * the load generator, the server and the harness each have their own event loop. `pin` moves
 * this process, all its threads, to the CPUs it is given (see `lib/proc.ts`).
 */
import autocannon from 'autocannon';
import { serveHost } from '../lib/host.js';
import type { LoadParams, LoadResult } from '../lib/load.js';
import { pinProcess } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';

/** Seconds before autocannon gives a request up. */
const REQUEST_TIMEOUT_S = 5;

function load(params: LoadParams): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let unexpected = 0;
  let firstUnexpectedStatus: number | undefined;
  let errors = 0;
  let firstError: string | undefined;
  let bytes = 0;
  let answers = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${params.url}${params.path}`,
        connections: params.connections,
        duration: params.durationMs / 1000,
        headers: params.headers,
        timeout: REQUEST_TIMEOUT_S,
        sampleInt: 100,
      },
      (error, result) => {
        const elapsedMs = performance.now() - started;
        const cpu = process.cpuUsage(cpuBefore);
        if (error) {
          reject(error);
          return;
        }
        if (result.timeouts > 0) firstError ??= `${result.timeouts} requests timed out`;
        resolve({
          stats: summarize({ latenciesMs, errors: unexpected + errors, elapsedMs }),
          unexpected,
          ...(firstUnexpectedStatus !== undefined && { firstUnexpectedStatus }),
          errors: Math.max(errors, result.errors),
          ...(firstError !== undefined && { firstError }),
          elapsedMs,
          bytesPerAnswer: answers === 0 ? 0 : bytes / answers,
          cpuMs: (cpu.user + cpu.system) / 1000,
        });
      },
    );
    instance.on('response', (_client, status, size, ms) => {
      answers += 1;
      bytes += size;
      if (status === params.expectStatus) {
        latenciesMs.push(ms);
      } else {
        unexpected += 1;
        firstUnexpectedStatus ??= status;
      }
    });
    instance.on('reqError', (error) => {
      errors += 1;
      firstError ??= error.message;
    });
  });
}

serveHost(
  {
    async pin(params) {
      const { cpus } = params as { cpus: string };
      pinProcess(process.pid, cpus);
      return { pid: process.pid };
    },
    async load(params) {
      return load(params as LoadParams);
    },
  },
  async () => undefined,
);
