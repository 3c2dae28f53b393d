/**
 * The engine under pressure (issue 13), in its production shape (the emulator in a process of
 * its own, the daemon reaching it through the configured endpoints), measured from the outside:
 *
 * - **Burst.** 1,200 requests for 1,200 distinct tables in 2 s, each client closing its socket
 *   right after writing (fire and forget): upstream calls in the following 60 s and per 5 s
 *   window, against the same burst from clients that stay connected (same run, a fresh daemon)
 *   and the targets' own rate measured before each burst.
 * - **Flood.** 400 connected clients asking 400 distinct keys at once on a 500 ms upstream:
 *   p50/p99/max time to the answer (credential, or 503 `UpstreamThrottled`), against the
 *   upstream latency and a lone miss on the same upstream; targets polled meanwhile.
 * - **Memory.** `cache.maxEntries` 1,000 exceeded 10× (10,000 distinct keys), against the same
 *   daemon configuration holding 1,000: V8 heap used and RSS.
 *
 * A row that misses its target (from the issue's "done when") fails the run.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonCall } from '../lib/http.js';
import { type Align, renderTable } from '../lib/markdown.js';
import {
  type Resident,
  type Workspace,
  benchTableArn,
  resident,
  startProductionDaemon,
  tablePath,
  upstreamCalls,
  workspace,
} from '../lib/production.js';
import { type CpuPlan, cpuPlan, freePort } from '../lib/proc.js';
import {
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  checksOrProblems,
} from '../lib/report.js';
import {
  type ServerProcess,
  ensureBuilt,
  firstOk,
  sourceRevision,
  startEmulatorProcess,
} from '../lib/server-process.js';
import { percentile } from '../lib/stats.js';
import { type TargetRow, missedAny, renderTargetTable } from '../lib/targets.js';

/** The 5-target set of bench/lib/production.ts: three tables, a partition, a workgroup. */
const TARGETS = 5;
const WINDOW_MS = 5_000;

interface Plan {
  readonly burstKeys: number;
  readonly burstMs: number;
  /** Quiet windows before a burst: the targets' own rate. */
  readonly quietWindows: number;
  /** Windows measured after a burst. */
  readonly windows: number;
  readonly floodClients: number;
  readonly maxEntries: number;
  readonly overfill: number;
  readonly idleMs: number;
  readonly settleMs: number;
}

function plan(quick: boolean): Plan {
  return quick
    ? {
        burstKeys: 300,
        burstMs: 1_000,
        quietWindows: 2,
        windows: 6,
        floodClients: 100,
        maxEntries: 200,
        overfill: 10,
        idleMs: 2_000,
        settleMs: 5_000,
      }
    : {
        burstKeys: 1_200,
        burstMs: 2_000,
        quietWindows: 4,
        windows: 12,
        floodClients: 400,
        maxEntries: 1_000,
        overfill: 10,
        idleMs: 5_000,
        settleMs: 15_000,
      };
}

// ---- targets (issue 13, "done when") ----
const BURST_MAX_CALLS = 300;
const SETTLED_AFTER_MS = 40_000;
const FLOOD_ANSWERED_WITHIN_MS = 15_000;

// ---- set-up ----
const BURST_LIFETIME_S = 20;
const BURST_CACHE = ['idleSeconds: 10', 'minRemainingSeconds: 2'];
const FLOOD_LATENCY_MS = 500;
const FLOOD_LIFETIME_S = 10;
const FLOOD_CACHE = ['minRemainingSeconds: 2'];
/** The memory daemons' budget lets misses through as fast as they come (as the scale scenario). */
const FILL_UPSTREAM = ['maxConcurrent: 64', 'ratePerSecond: 10000'];
const FILL_CONCURRENCY = 32;

const control = (emulatorUrl: string, path: string, payload: unknown) =>
  jsonCall(emulatorUrl, 'POST', path, payload);

/** One answer: status, the headers that matter, the error code of an error body. */
interface Answer {
  readonly status: number;
  readonly result: string | undefined;
  readonly retryAfter: string | undefined;
  readonly code: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly ms: number;
  readonly error?: string;
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** A GET through `agent` that gives up after `timeoutMs` (then `error: 'timeout'`). */
function get(
  port: number,
  path: string,
  agent: Agent,
  token: string | undefined,
  timeoutMs: number,
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const settle = (answer: Omit<Answer, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: performance.now() - started });
    };
    const failed = (error: string) =>
      settle({
        status: 0,
        result: undefined,
        retryAfter: undefined,
        code: undefined,
        accessKeyId: undefined,
        error,
      });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        headers: token === undefined ? {} : { authorization: token },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) => failed(error.code ?? error.message));
        res.on('end', () => {
          let body: { AccessKeyId?: string; error?: { code?: string } } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
          } catch {
            body = {};
          }
          settle({
            status: res.statusCode ?? 0,
            result: single(res.headers['x-credcache-result']),
            retryAfter: single(res.headers['retry-after']),
            code: body.error?.code,
            accessKeyId: body.AccessKeyId,
          });
        });
      },
    );
    const timer = setTimeout(() => {
      failed('timeout');
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => failed(error.code ?? error.message));
    req.end();
  });
}

/** Connects, writes one GET and its end, closes as soon as the bytes are with the kernel. */
function fireAndForget(port: number, path: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    let written = false;
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.end(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${token}\r\n\r\n`,
        () => {
          written = true;
          socket.destroy();
        },
      );
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => resolve(written));
  });
}

/** `step` every `everyMs` until stopped. */
function pollEvery<T>(everyMs: number, step: () => Promise<T>) {
  const samples: T[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      samples.push(await step());
      await sleep(Math.max(0, everyMs - (performance.now() - at)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function stopChecked(server: ServerProcess, what: string, problems: string[]): Promise<void> {
  const exit = await server.stop();
  if (exit.code !== 0) problems.push(`${what}: exited with ${exit.code ?? exit.signal}.`);
}

const readyz = (port: number, agent: Agent) => get(port, '/readyz', agent, undefined, 10_000);

// ---------------------------------------------------------------------------------------------
// Burst

interface BurstRun {
  readonly clients: 'fire-and-forget' | 'connected';
  readonly keys: number;
  readonly written: number;
  readonly burstMs: number;
  /** Calls per quiet window before the burst: the targets' own. */
  readonly quiet: readonly number[];
  readonly duringBurst: number;
  /** Calls per window after the burst. */
  readonly windows: readonly number[];
  /** From the burst's start to the last window's end. */
  readonly calls: number;
  readonly answers: Readonly<Record<string, number>>;
  readonly notReady: number;
  readonly probes: number;
}

async function burst(
  context: ScenarioContext,
  cpus: CpuPlan,
  space: Workspace,
  emulatorUrl: string,
  options: Plan,
  clients: BurstRun['clients'],
  problems: string[],
): Promise<BurstRun> {
  await control(emulatorUrl, '/_emulator/reset', {});
  await control(emulatorUrl, '/_emulator/config', {
    credentialLifetimeSeconds: BURST_LIFETIME_S,
  });
  const port = await freePort();
  const daemon = await startProductionDaemon(cpus, space, {
    port,
    emulatorUrl,
    targets: TARGETS,
    cache: BURST_CACHE,
  });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const connected = new Agent({ keepAlive: false, maxSockets: options.burstKeys });
  try {
    await firstOk(port, '/readyz', daemon);
    context.progress(`${clients} burst: ${options.quietWindows} quiet windows first`);
    const quietTotals = [await upstreamCalls(emulatorUrl)];
    for (let k = 1; k <= options.quietWindows; k++) {
      await sleep(WINDOW_MS);
      quietTotals.push(await upstreamCalls(emulatorUrl));
    }
    const quiet = quietTotals.slice(1).map((total, i) => total - (quietTotals[i] ?? total));

    const probes = pollEvery(250, () => readyz(port, probeAgent));
    context.progress(`${clients} burst: ${options.burstKeys} keys in ${options.burstMs} ms`);
    const before = await upstreamCalls(emulatorUrl);
    const started = performance.now();
    const written: Promise<boolean>[] = [];
    const answered: Promise<Answer>[] = [];
    for (let i = 0; i < options.burstKeys; i++) {
      await sleep(
        Math.max(0, started + (i * options.burstMs) / options.burstKeys - performance.now()),
      );
      const path = tablePath(benchTableArn(`burst-${clients}-${i}`));
      if (clients === 'fire-and-forget') written.push(fireAndForget(port, path, space.token));
      else answered.push(get(port, path, connected, space.token, 120_000));
    }
    const sent =
      clients === 'fire-and-forget'
        ? (await Promise.all(written)).filter(Boolean).length
        : options.burstKeys;
    const burstEnd = performance.now();
    const totals = [await upstreamCalls(emulatorUrl)];
    for (let k = 1; k <= options.windows; k++) {
      await sleep(Math.max(0, burstEnd + k * WINDOW_MS - performance.now()));
      totals.push(await upstreamCalls(emulatorUrl));
    }
    const samples = await probes.stop();
    const answers: Record<string, number> = {};
    for (const answer of await Promise.all(answered)) {
      const what = answer.error ?? (answer.status === 200 ? String(answer.result) : answer.code);
      answers[String(what)] = (answers[String(what)] ?? 0) + 1;
    }
    return {
      clients,
      keys: options.burstKeys,
      written: sent,
      burstMs: burstEnd - started,
      quiet,
      duringBurst: (totals[0] ?? 0) - before,
      windows: totals.slice(1).map((total, i) => total - (totals[i] ?? total)),
      calls: (totals.at(-1) ?? 0) - before,
      answers,
      notReady: samples.filter((sample) => sample.status !== 200).length,
      probes: samples.length,
    };
  } finally {
    probeAgent.destroy();
    connected.destroy();
    await stopChecked(daemon, `${clients} burst daemon`, problems);
  }
}

// ---------------------------------------------------------------------------------------------
// Flood

interface Flood {
  readonly clients: number;
  readonly times: readonly number[];
  readonly ok: number;
  readonly throttled: number;
  readonly other: number;
  readonly firstOther: string | undefined;
  readonly loneMiss: readonly number[];
  readonly targetPolls: readonly Answer[];
  readonly notReady: number;
  readonly probes: number;
  readonly calls: number;
}

async function flood(
  context: ScenarioContext,
  cpus: CpuPlan,
  space: Workspace,
  emulatorUrl: string,
  options: Plan,
  problems: string[],
): Promise<Flood> {
  await control(emulatorUrl, '/_emulator/reset', {});
  await control(emulatorUrl, '/_emulator/config', {
    credentialLifetimeSeconds: FLOOD_LIFETIME_S,
  });
  const port = await freePort();
  const daemon = await startProductionDaemon(cpus, space, {
    port,
    emulatorUrl,
    targets: TARGETS,
    cache: FLOOD_CACHE,
  });
  const one = new Agent({ keepAlive: true, maxSockets: 1 });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const many = new Agent({ keepAlive: true, maxSockets: options.floodClients });
  try {
    await firstOk(port, '/readyz', daemon);
    await control(emulatorUrl, '/_emulator/faults', {
      operation: '*',
      mode: 'latency',
      latencyMs: FLOOD_LATENCY_MS,
    });
    context.progress('flood: lone misses first (the same upstream, nothing else waiting)');
    const loneMiss: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await get(
        port,
        tablePath(benchTableArn(`lone${i}`)),
        one,
        space.token,
        30_000,
      );
      if (answer.status !== 200) problems.push(`lone miss ${i}: ${answer.error ?? answer.status}.`);
      loneMiss.push(answer.ms);
    }
    context.progress(`flood: ${options.floodClients} clients at once`);
    const before = await upstreamCalls(emulatorUrl);
    let turn = 0;
    const targetPolls = pollEvery(100, () =>
      get(port, `/v1/targets/t00${turn++ % TARGETS}`, one, space.token, 60_000),
    );
    const probes = pollEvery(100, () => readyz(port, probeAgent));
    const answers = await Promise.all(
      Array.from({ length: options.floodClients }, (_, i) =>
        get(port, tablePath(benchTableArn(`flood${i}`)), many, space.token, 120_000),
      ),
    );
    const polls = await targetPolls.stop();
    const samples = await probes.stop();
    const calls = (await upstreamCalls(emulatorUrl)) - before;
    await control(emulatorUrl, '/_emulator/faults', { operation: '*', mode: 'ok' });
    const ok = answers.filter((a) => a.status === 200 && a.accessKeyId !== undefined);
    const throttled = answers.filter(
      (a) => a.status === 503 && a.code === 'UpstreamThrottled' && a.retryAfter !== undefined,
    );
    const other = answers.filter((a) => !ok.includes(a) && !throttled.includes(a));
    const first = other[0];
    return {
      clients: options.floodClients,
      times: answers.map((a) => a.ms),
      ok: ok.length,
      throttled: throttled.length,
      other: other.length,
      firstOther: first ? `${first.error ?? first.status} ${first.code ?? ''}` : undefined,
      loneMiss,
      targetPolls: polls,
      notReady: samples.filter((sample) => sample.status !== 200).length,
      probes: samples.length,
      calls,
    };
  } finally {
    one.destroy();
    probeAgent.destroy();
    many.destroy();
    await stopChecked(daemon, 'flood daemon', problems);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory with maxEntries exceeded

interface MemoryRun {
  readonly keys: number;
  readonly fillMs: number;
  readonly heapUsed: number;
  /** `nodejs_heap_size_used_bytes` again with the settled reading. */
  readonly settledHeapUsed: number;
  readonly resident: Resident;
  readonly settled: Resident;
  readonly counted: number;
  readonly ready: boolean;
  readonly evictions: number;
}

function metric(text: string, name: string, labels = ''): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  if (!found && labels === '') throw new Error(`/metrics has no ${name}`);
  return total;
}

async function memory(
  context: ScenarioContext,
  cpus: CpuPlan,
  space: Workspace,
  emulatorUrl: string,
  options: Plan,
  keys: number,
  problems: string[],
): Promise<MemoryRun> {
  await control(emulatorUrl, '/_emulator/reset', {});
  const port = await freePort();
  const daemon = await startProductionDaemon(cpus, space, {
    port,
    emulatorUrl,
    targets: TARGETS,
    cache: [`maxEntries: ${options.maxEntries}`],
    upstream: FILL_UPSTREAM,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: FILL_CONCURRENCY });
  try {
    await firstOk(port, '/readyz', daemon);
    context.progress(
      `memory: ${keys.toLocaleString('en')} keys into maxEntries ${options.maxEntries.toLocaleString('en')}`,
    );
    const started = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: FILL_CONCURRENCY }, async () => {
        while (next < keys) {
          const i = next++;
          const answer = await get(
            port,
            tablePath(benchTableArn(`mem${i}`)),
            agent,
            space.token,
            30_000,
          );
          if (answer.status !== 200) failed += 1;
        }
      }),
    );
    const fillMs = performance.now() - started;
    if (failed > 0) problems.push(`memory fill of ${keys}: ${failed} requests failed.`);
    await sleep(options.idleMs);
    const metrics = () =>
      new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    const text = await metrics();
    const first = resident(daemon.pid);
    const ready = (await readyz(port, agent)).status === 200;
    await sleep(options.settleMs);
    const settled = resident(daemon.pid);
    const later = await metrics();
    return {
      keys,
      fillMs,
      heapUsed: metric(text, 'nodejs_heap_size_used_bytes'),
      settledHeapUsed: metric(later, 'nodejs_heap_size_used_bytes'),
      resident: first,
      settled,
      counted: metric(text, 'credcache_cache_entries'),
      ready,
      evictions: metric(text, 'credcache_evictions_total', 'reason="lru"'),
    };
  } finally {
    agent.destroy();
    await stopChecked(daemon, `memory daemon (${keys} keys)`, problems);
  }
}

// ---------------------------------------------------------------------------------------------
// The scenario

const formatMB = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const formatS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);
const median = (values: readonly number[]) => percentile(sorted(values), 50);
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const options = plan(context.quick);
  const built = ensureBuilt(context);
  const revision = sourceRevision();
  const cpus = cpuPlan();
  const space = await workspace();
  const problems: string[] = [];
  const rows: TargetRow[] = [];
  const emulator = await startEmulatorProcess(cpus, space.dir);
  const bursts: BurstRun[] = [];
  let flooded: Flood | undefined;
  const held: MemoryRun[] = [];
  try {
    for (const clients of ['fire-and-forget', 'connected'] as const) {
      bursts.push(await burst(context, cpus, space, emulator.url, options, clients, problems));
    }
    flooded = await flood(context, cpus, space, emulator.url, options, problems);
    // The targets are pinned beside the LRU (docs/engine.md: not counted in maxEntries), so the
    // baseline's maxEntries keys fill it exactly; the other asks 10× that.
    for (const keys of [options.maxEntries, options.maxEntries * options.overfill]) {
      held.push(await memory(context, cpus, space, emulator.url, options, keys, problems));
    }
  } finally {
    await stopChecked(emulator.process, 'emulator', problems);
    await space.remove();
  }
  const [gone, stayed] = bursts;
  if (!gone || !stayed || !flooded) throw new Error('a part of the scenario did not run');
  const [base, over] = held;
  if (!base || !over) throw new Error('the memory runs did not run');

  // ---- burst rows ----
  const ownPerWindow = Math.max(...gone.quiet, ...stayed.quiet);
  const settledFrom = SETTLED_AFTER_MS / WINDOW_MS;
  const settled = gone.windows.slice(settledFrom);
  if (gone.written !== gone.keys) {
    problems.push(`fire-and-forget burst: ${gone.written} of ${gone.keys} requests written.`);
  }
  rows.push({
    measure: `Burst of ${gone.keys.toLocaleString('en')} distinct keys in ${gone.burstMs.toFixed(0)} ms, clients hanging up at once: upstream calls from the burst to ${(options.windows * WINDOW_MS) / 1000} s after it`,
    result: String(gone.calls),
    baseline: `${stayed.calls} (the same burst from clients that stay connected); ${gone.keys.toLocaleString('en')} keys`,
    target: context.quick ? '–' : `≤ ${BURST_MAX_CALLS}`,
    met: context.quick ? undefined : gone.calls <= BURST_MAX_CALLS,
  });
  if (!context.quick) {
    rows.push({
      measure: `… upstream calls per 5 s window from ${SETTLED_AFTER_MS / 1000} s after the burst, most`,
      result: String(Math.max(...settled)),
      baseline: `${ownPerWindow} (the targets' own: most in a 5 s window before the bursts)`,
      target: `≤ ${ownPerWindow + TARGETS} (the targets' own, one refresh per target of slack)`,
      met: Math.max(...settled) <= ownPerWindow + TARGETS,
    });
  }
  rows.push({
    measure: '… `/readyz` answers other than 200 during and after the burst',
    result: `${gone.notReady} of ${gone.probes}`,
    baseline: `${stayed.notReady} of ${stayed.probes} (connected clients)`,
    target: '0',
    met: gone.notReady === 0,
  });

  // ---- flood rows ----
  const times = sorted(flooded.times);
  const slowest = times.at(-1) ?? Number.NaN;
  const lone = median(flooded.loneMiss);
  const targetTimes = sorted(flooded.targetPolls.map((a) => a.ms));
  const targetNotHit = flooded.targetPolls.filter((a) => a.status !== 200 || a.result !== 'hit');
  rows.push({
    measure: `Flood: ${flooded.clients} connected clients, ${flooded.clients} distinct keys at once, ${FLOOD_LATENCY_MS} ms upstream: slowest answer`,
    result: formatS(slowest),
    baseline: `${formatS(lone)} (a lone miss on the same upstream, median of ${flooded.loneMiss.length}); upstream latency ${FLOOD_LATENCY_MS} ms`,
    target: `≤ ${formatS(FLOOD_ANSWERED_WITHIN_MS)}`,
    met: slowest <= FLOOD_ANSWERED_WITHIN_MS,
  });
  rows.push({
    measure: '… answers neither a credential nor 503 `UpstreamThrottled` with `Retry-After`',
    result: `${flooded.other}${flooded.firstOther ? ` (first: ${flooded.firstOther})` : ''}`,
    baseline: '–',
    target: '0',
    met: flooded.other === 0,
  });
  rows.push({
    measure: '… target polls (every 100 ms, round the 5 targets) that were not a hit',
    result: `${targetNotHit.length} of ${flooded.targetPolls.length} (slowest ${formatS(targetTimes.at(-1) ?? Number.NaN)})`,
    baseline: '–',
    target: '0',
    met: targetNotHit.length === 0,
  });
  rows.push({
    measure: '… `/readyz` answers other than 200 during the flood',
    result: `${flooded.notReady} of ${flooded.probes}`,
    baseline: '–',
    target: '0',
    met: flooded.notReady === 0,
  });

  // ---- memory rows ----
  const overKeys = over.keys.toLocaleString('en');
  const baseKeys = base.keys.toLocaleString('en');
  rows.push({
    measure: `V8 heap used, \`maxEntries\` ${options.maxEntries.toLocaleString('en')} after ${overKeys} distinct keys (${options.overfill}× over), ${options.idleMs / 1000} s after the last answer`,
    result: `${formatMB(over.heapUsed)} (×${(over.heapUsed / base.heapUsed).toFixed(2)}), settled ${formatMB(over.settledHeapUsed)} (×${(over.settledHeapUsed / base.settledHeapUsed).toFixed(2)})`,
    baseline: `${formatMB(base.heapUsed)}, settled ${formatMB(base.settledHeapUsed)} (the same daemon after ${baseKeys} keys)`,
    target: '–',
    met: undefined,
  });
  rows.push({
    measure: `… RSS then, and ${(options.idleMs + options.settleMs) / 1000} s after (settled)`,
    result: `${formatMB(over.resident.rss)}, settled ${formatMB(over.settled.rss)}`,
    baseline: `${formatMB(base.resident.rss)}, settled ${formatMB(base.settled.rss)}`,
    target: '–',
    met: undefined,
  });
  rows.push({
    measure: '… entries held (`credcache_cache_entries`), and the targets still ready',
    result: `${over.counted.toLocaleString('en')}, ${over.ready ? 'ready' : '**not ready**'}`,
    baseline: `${base.counted.toLocaleString('en')}, ${base.ready ? 'ready' : 'not ready'}`,
    target: `≤ ${(options.maxEntries + TARGETS).toLocaleString('en')} (\`maxEntries\` + the pinned targets), ready`,
    met: over.counted <= options.maxEntries + TARGETS && over.ready,
  });

  const windowHeader = (run: BurstRun) => run.windows.map((_, i) => `+${(i + 1) * 5} s`);
  return {
    intro: [
      'The daemon in its production shape (`credcache serve --config …`, ' +
        `${built}; source ${revision}), pinned to one CPU; the emulator alone ` +
        '(`credcache emulator`) on the other with the harness, reached through the configured ' +
        `endpoints. ${TARGETS} targets (three tables, a partition, a workgroup); the default ` +
        'upstream budget (8 calls in flight, 20 per second) unless said otherwise. A fresh ' +
        'daemon for each part; the emulator is reset between parts.',
      `**Burst.** Credentials live ${BURST_LIFETIME_S} s (\`credentialLifetimeSeconds\`), ` +
        `\`cache.${BURST_CACHE.join('`, `cache.')}\`. After ${options.quietWindows} quiet 5 s ` +
        "windows (the targets' own calls), the harness sends one request per distinct table, " +
        `${gone.keys.toLocaleString('en')} spread evenly over ${options.burstMs / 1000} s, each on ` +
        'its own connection (`node:net`): the fire-and-forget client writes the request and ' +
        'closes its socket as soon as the bytes are with the kernel, without reading; the ' +
        'connected client (a second daemon, the same burst) waits for its answer. Upstream calls ' +
        "are read from the emulator's `GET /_emulator/calls` at the burst's start, its end and " +
        'every 5 s after; `/readyz` is polled every 250 ms meanwhile.',
      `**Flood.** Credentials live ${FLOOD_LIFETIME_S} s, \`cache.${FLOOD_CACHE.join('`, `cache.')}\`, ` +
        `so every target is refreshed while the flood lasts. The emulator answers after ` +
        `${FLOOD_LATENCY_MS} ms (a latency fault). First ${flooded.loneMiss.length} lone misses one ` +
        `after the other; then ${flooded.clients} clients, each on its own connection, ask ` +
        `${flooded.clients} distinct tables at once, timed from sending to the whole answer, while ` +
        'one client polls the targets every 100 ms and another `/readyz`.',
      `**Memory.** \`cache.maxEntries: ${options.maxEntries}\`, the budget opened ` +
        `(\`${FILL_UPSTREAM.join('`, `')}\`) so the fill is not paced; ${FILL_CONCURRENCY} ` +
        `requests in flight for distinct tables, each a miss: ${baseKeys} keys into one daemon, ` +
        `${overKeys} into another. ${options.idleMs / 1000} s after the last answer the daemon's ` +
        '`/metrics` (`nodejs_heap_size_used_bytes`, `credcache_cache_entries`, LRU evictions) ' +
        `and \`/proc/<pid>/status\` are read, both again ${options.settleMs / 1000} s later ` +
        '(settled). Targets are pinned beside the LRU and not counted in `maxEntries`.',
    ],
    tables: [],
    findings: [
      renderTargetTable(rows),
      '**Upstream calls per 5 s window.**',
      renderTable(
        ['Clients', 'Quiet (before)', 'During the burst', ...windowHeader(gone), 'Answers'],
        bursts.map((b) => [
          b.clients,
          b.quiet.join(', '),
          String(b.duringBurst),
          ...b.windows.map(String),
          Object.entries(b.answers)
            .map(([what, n]) => `${n} ${what}`)
            .join(', ') || '– (none read)',
        ]),
        ['left', 'right', 'right', ...Array<Align>(gone.windows.length + 1).fill('right')],
      ),
      '**Flood answers.**',
      renderTable(
        [
          'Answers',
          'Credentials',
          '503 UpstreamThrottled',
          'Other',
          'p50',
          'p99',
          'max',
          'Upstream calls',
          'Lone miss (median)',
        ],
        [
          [
            String(times.length),
            String(flooded.ok),
            String(flooded.throttled),
            String(flooded.other),
            formatS(percentile(times, 50)),
            formatS(percentile(times, 99)),
            formatS(slowest),
            String(flooded.calls),
            formatS(lone),
          ],
        ],
        Array<Align>(9).fill('right'),
      ),
      '**Memory.**',
      renderTable(
        [
          'Keys asked',
          'Fill',
          'Entries',
          'LRU evictions',
          'V8 heap used',
          'RSS',
          'anon / file',
          'Settled heap',
          'Settled RSS',
        ],
        held.map((m) => [
          m.keys.toLocaleString('en'),
          formatS(m.fillMs),
          m.counted.toLocaleString('en'),
          m.evictions.toLocaleString('en'),
          formatMB(m.heapUsed),
          formatMB(m.resident.rss),
          `${formatMB(m.resident.anon)} / ${formatMB(m.resident.file)}`,
          formatMB(m.settledHeapUsed),
          formatMB(m.settled.rss),
        ]),
        Array<Align>(9).fill('right'),
      ),
      checksOrProblems(
        problems,
        `Checks: every fire-and-forget request was written (${gone.written} of ${gone.keys}); ` +
          `the upstream calls of both bursts sum to ${sum(gone.windows) + gone.duringBurst} and ` +
          `${sum(stayed.windows) + stayed.duringBurst}; every memory fill request was answered ` +
          '200; every process exited 0 on SIGTERM.',
      ),
    ],
    failed: missedAny(rows) || problems.length > 0,
  };
}

export const pressureScenario: Scenario = {
  name: 'pressure',
  title:
    'The engine under pressure: a fire-and-forget burst, a 400-client flood, maxEntries exceeded 10×',
  run,
};
