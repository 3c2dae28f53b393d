/**
 * What the daemon costs and saves upstream (issue 8), in its production shape (the emulator in a
 * process of its own): upstream amplification — N concurrent clients over K cold keys make K
 * upstream calls, whatever N — and the cold-miss overhead — a miss through the daemon against
 * the same upstream call made directly with the AWS SDK, in the same run. A row that misses its
 * target fails the run.
 */
import {
  GetTemporaryGlueTableCredentialsCommand,
  LakeFormationClient,
} from '@aws-sdk/client-lakeformation';
import { KeepAliveClient, jsonCall } from '../lib/http.js';
import { renderTable } from '../lib/markdown.js';
import {
  benchTableArn,
  startProductionDaemon,
  tablePath,
  upstreamCalls,
  workspace,
} from '../lib/production.js';
import { cpuPlan, freePort } from '../lib/proc.js';
import {
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  checksOrProblems,
} from '../lib/report.js';
import {
  PLACEHOLDER_AWS_ENV,
  ensureBuilt,
  firstOk,
  sourceRevision,
  startEmulatorProcess,
} from '../lib/server-process.js';
import { percentile } from '../lib/stats.js';
import { type TargetRow, missedAny, renderTargetTable } from '../lib/targets.js';

/** Upstream latency the emulator adds in the amplification rounds, as AWS has some (ms). */
const UPSTREAM_LATENCY_MS = 50;
/** The daemon's budget in this scenario: no call waits for a slot or a token. */
const UPSTREAM = ['maxConcurrent: 128', 'ratePerSecond: 1000'];

interface Plan {
  readonly cases: readonly { readonly clients: number; readonly keys: number }[];
  readonly misses: number;
}

function plan(quick: boolean): Plan {
  return quick
    ? {
        cases: [
          { clients: 1, keys: 1 },
          { clients: 100, keys: 1 },
          { clients: 100, keys: 10 },
        ],
        misses: 50,
      }
    : {
        cases: [
          { clients: 1, keys: 1 },
          { clients: 100, keys: 1 },
          { clients: 1_000, keys: 1 },
          { clients: 100, keys: 10 },
          { clients: 1_000, keys: 10 },
          { clients: 1_000, keys: 100 },
        ],
        misses: 300,
      };
}

interface AmplificationRow {
  readonly clients: number;
  readonly keys: number;
  readonly calls: number;
  readonly results: Readonly<Record<string, number>>;
  /** Distinct access key ids handed out, per key, at most. */
  readonly distinctPerKey: number;
  readonly failed: number;
  readonly wallMs: number;
}

async function amplification(
  daemonUrl: string,
  emulatorUrl: string,
  token: string,
  round: number,
  clients: number,
  keys: number,
): Promise<AmplificationRow> {
  const client = new KeepAliveClient(daemonUrl, clients);
  try {
    const before = await upstreamCalls(emulatorUrl);
    const results: Record<string, number> = {};
    const handedOut = new Map<number, Set<string>>();
    let failed = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const key = i % keys;
        const answer = await client.send({
          method: 'GET',
          path: tablePath(benchTableArn(`amp${round}k${key}`)),
          headers: { authorization: token },
          body: '',
        });
        if (answer.status !== 200) {
          failed += 1;
          return;
        }
        const result = String(answer.headers['x-credcache-result'] ?? '?');
        results[result] = (results[result] ?? 0) + 1;
        const { AccessKeyId } = JSON.parse(answer.body.toString('utf8')) as { AccessKeyId: string };
        const seen = handedOut.get(key) ?? new Set<string>();
        seen.add(AccessKeyId);
        handedOut.set(key, seen);
      }),
    );
    const wallMs = performance.now() - started;
    const calls = (await upstreamCalls(emulatorUrl)) - before;
    const distinctPerKey = Math.max(0, ...[...handedOut.values()].map((set) => set.size));
    return { clients, keys, calls, results, distinctPerKey, failed, wallMs };
  } finally {
    client.close();
  }
}

interface MissTimes {
  readonly daemon: number[];
  readonly direct: number[];
}

/** Alternates a cold miss through the daemon and the same call straight to the emulator. */
async function coldMisses(
  daemonUrl: string,
  emulatorUrl: string,
  token: string,
  count: number,
): Promise<MissTimes> {
  const daemon = new KeepAliveClient(daemonUrl, 1);
  const sdk = new LakeFormationClient({
    endpoint: emulatorUrl,
    region: PLACEHOLDER_AWS_ENV.AWS_REGION,
    credentials: {
      accessKeyId: PLACEHOLDER_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: PLACEHOLDER_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
    maxAttempts: 1,
  });
  const times: MissTimes = { daemon: [], direct: [] };
  try {
    const viaDaemon = async (i: number) => {
      const started = performance.now();
      const answer = await daemon.send({
        method: 'GET',
        path: tablePath(benchTableArn(`miss${i}`)),
        headers: { authorization: token },
        body: '',
      });
      const ms = performance.now() - started;
      if (answer.status !== 200 || answer.headers['x-credcache-result'] !== 'miss') {
        throw new Error(
          `cold miss ${i}: ${answer.status} ${String(answer.headers['x-credcache-result'])}`,
        );
      }
      return ms;
    };
    const direct = async (i: number) => {
      const started = performance.now();
      await sdk.send(
        new GetTemporaryGlueTableCredentialsCommand({
          TableArn: benchTableArn(`direct${i}`),
          Permissions: ['SELECT'],
          SupportedPermissionTypes: ['COLUMN_PERMISSION'],
          DurationSeconds: 3600,
        }),
      );
      return performance.now() - started;
    };
    // A warm-up of each (connections, code paths), not counted.
    for (let i = 0; i < 20; i++) {
      await viaDaemon(-1 - i);
      await direct(-1 - i);
    }
    for (let i = 0; i < count; i++) {
      // Alternate which goes first, so drift favours neither.
      if (i % 2 === 0) {
        times.daemon.push(await viaDaemon(i));
        times.direct.push(await direct(i));
      } else {
        times.direct.push(await direct(i));
        times.daemon.push(await viaDaemon(i));
      }
    }
    return times;
  } finally {
    daemon.close();
    sdk.destroy();
  }
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const options = plan(context.quick);
  const built = ensureBuilt(context);
  const revision = sourceRevision();
  const cpus = cpuPlan();
  const space = await workspace();
  const problems: string[] = [];
  const rows: TargetRow[] = [];
  const emulator = await startEmulatorProcess(cpus, space.dir);
  const port = await freePort();
  const daemon = await startProductionDaemon(cpus, space, {
    port,
    emulatorUrl: emulator.url,
    targets: 5,
    upstream: UPSTREAM,
  });
  const daemonUrl = `http://127.0.0.1:${port}`;
  const amplified: AmplificationRow[] = [];
  let misses: MissTimes | undefined;
  try {
    await firstOk(port, '/readyz', daemon);

    context.progress(`cold misses: ${options.misses} through the daemon, as many direct`);
    misses = await coldMisses(daemonUrl, emulator.url, space.token, options.misses);

    context.progress(`amplification: ${options.cases.length} cases`);
    await jsonCall(emulator.url, 'POST', '/_emulator/faults', {
      operation: '*',
      mode: 'latency',
      latencyMs: UPSTREAM_LATENCY_MS,
    });
    for (const [round, c] of options.cases.entries()) {
      amplified.push(
        await amplification(daemonUrl, emulator.url, space.token, round, c.clients, c.keys),
      );
    }
    await jsonCall(emulator.url, 'POST', '/_emulator/faults', { operation: '*', mode: 'ok' });
  } finally {
    const exits = [await daemon.stop(), await emulator.process.stop()];
    for (const exit of exits) {
      if (exit.code !== 0) problems.push(`a process exited with ${exit.code ?? exit.signal}.`);
    }
    await space.remove();
  }

  if (!misses) throw new Error('no cold-miss times');
  for (const a of amplified) {
    if (a.failed > 0) problems.push(`${a.clients} × ${a.keys}: ${a.failed} requests failed.`);
    if (a.distinctPerKey > 1) {
      problems.push(`${a.clients} × ${a.keys}: a key was handed ${a.distinctPerKey} credentials.`);
    }
    rows.push({
      measure: `Amplification: ${a.clients.toLocaleString('en')} concurrent client${a.clients === 1 ? '' : 's'} over ${a.keys} cold key${a.keys === 1 ? '' : 's'}: upstream calls`,
      result: String(a.calls),
      baseline: `${a.clients.toLocaleString('en')} (every client calling AWS itself)`,
      target: `= ${a.keys}`,
      met: a.calls === a.keys,
    });
  }
  const stats = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
    };
  };
  const viaDaemon = stats(misses.daemon);
  const direct = stats(misses.direct);
  rows.push({
    measure: 'Cold-miss overhead: median miss through the daemon minus the median direct SDK call',
    result: `${(viaDaemon.p50 - direct.p50).toFixed(3)} ms (${viaDaemon.p50.toFixed(3)} − ${direct.p50.toFixed(3)} ms)`,
    baseline: `${direct.p50.toFixed(3)} ms (the direct call)`,
    target: '–',
    met: undefined,
  });
  const ms = (value: number) => value.toFixed(3);
  return {
    intro: [
      'The daemon in its production shape (`credcache serve --config …`, ' +
        `${built}; source ${revision}), pinned to one CPU; the emulator alone ` +
        '(`credcache emulator`) on the other, reached through the configured endpoints. The ' +
        `daemon's upstream budget is opened (\`${UPSTREAM.join('`, `')}\`) so no call waits ` +
        'for a slot or a token: what is counted is what the cache does.',
      '**Amplification.** Per case, N clients send one request each at the same moment, over ' +
        'their own connections, for K table keys nobody asked for before (client i asks key ' +
        `i mod K); the emulator answers every call after ${UPSTREAM_LATENCY_MS} ms (a latency ` +
        'fault, `POST /_emulator/faults`), as AWS takes tens of milliseconds, so the requests ' +
        'really are concurrent with the upstream call. Upstream calls are the difference of ' +
        "the emulator's `GET /_emulator/calls` before and after.",
      `**Cold miss.** ${options.misses} times, alternating which goes first: a request for a ` +
        'table key never asked before, through the daemon (HTTP to the daemon, cache miss, ' +
        'the SDK call to the emulator, the answer rendered), and the same ' +
        '`GetTemporaryGlueTableCredentials` made directly from the harness with ' +
        '`LakeFormationClient` (AWS SDK v3, `maxAttempts: 1`) for another new table: what a ' +
        'client without credcache would do. Both go to the same emulator, with no latency ' +
        'fault; 20 of each are made first as a warm-up and not counted. The difference is what ' +
        'the daemon adds to a miss.',
    ],
    tables: [],
    findings: [
      renderTargetTable(rows),
      renderTable(
        [
          'Clients',
          'Keys',
          'Upstream calls',
          'Answers by result',
          'Credentials per key',
          'Wall ms',
        ],
        amplified.map((a) => [
          a.clients.toLocaleString('en'),
          String(a.keys),
          String(a.calls),
          Object.entries(a.results)
            .map(([result, n]) => `${n} ${result}`)
            .join(', '),
          String(a.distinctPerKey),
          a.wallMs.toFixed(1),
        ]),
        ['right', 'right', 'right', 'left', 'right', 'right'],
      ),
      renderTable(
        ['Cold miss', 'Samples', 'p50 ms', 'p90 ms', 'p99 ms'],
        [
          [
            'through the daemon',
            String(misses.daemon.length),
            ms(viaDaemon.p50),
            ms(viaDaemon.p90),
            ms(viaDaemon.p99),
          ],
          [
            'direct SDK call to the emulator',
            String(misses.direct.length),
            ms(direct.p50),
            ms(direct.p90),
            ms(direct.p99),
          ],
          [
            'difference',
            '–',
            ms(viaDaemon.p50 - direct.p50),
            ms(viaDaemon.p90 - direct.p90),
            ms(viaDaemon.p99 - direct.p99),
          ],
        ],
        ['left', 'right', 'right', 'right', 'right'],
      ),
      checksOrProblems(
        problems,
        'Checks: every request was answered 200; every key was handed exactly one credential ' +
          'in each amplification case; every cold miss through the daemon was answered `miss`; ' +
          'both processes exited 0 on SIGTERM.',
      ),
    ],
    failed: missedAny(rows) || problems.length > 0,
  };
}

export const upstreamScenario: Scenario = {
  name: 'upstream',
  title: 'Upstream: amplification and cold-miss overhead',
  run,
};
