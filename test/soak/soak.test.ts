/**
 * Soak (issue 8): the daemon as a real process, polled on every credential route for minutes
 * (`SOAK_SECONDS`, default 180) while every credential it gets lives seconds. It must serve
 * nothing but whole 200 answers, never a credential below `minRemainingSeconds`, keep its
 * resident memory flat, and call upstream as often as the refresh schedule says — far less
 * often than it is asked. Run by `npm run test:soak` (`.mocharc.soak.json`), not by `npm test`.
 *
 * The emulator runs as its own process (`credcache emulator`), set to seconds-long credentials
 * before the daemon starts, and the daemon (`credcache serve`, pointed at it through
 * `upstream.*Endpoint`) is measured alone. With `serve --emulator` instead, the targets would be
 * prewarmed with hour-long credentials before the start-up line (before the emulator can be
 * told otherwise), so they would never be refreshed during the soak; and the daemon's RSS would
 * include the emulator's record of every credential it issued, which grows by design.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import {
  DEFAULT_FIRST_JITTER_FRACTION,
  DEFAULT_JITTER_FRACTION,
  refreshAt,
} from '../../src/refresh/policy.js';
import {
  ENV,
  type EmulatorCalls,
  control,
  emulatorCalls,
  emulatorProcess,
  httpRequest,
  serveProcess,
  stopProcess,
  writeConfig,
} from '../support/process.js';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
/** Lifetime of every credential the emulator issues. */
const LIFETIME_SECONDS = 10;
/** `cache.minRemainingSeconds`: the floor below which the daemon must not serve a credential. */
const MIN_REMAINING_SECONDS = 3;
/** Redshift `nextRefreshTime` at this share of the lifetime (the emulator's default). */
const NEXT_REFRESH_FRACTION = 0.75;
const POLLERS = 16;
/** Each poller sleeps this long between two requests. */
const POLL_SLEEP_MS = 10;
/** VmRSS is read this often. */
const RSS_SAMPLE_MS = 1_000;
/*
 * "RSS flat", precisely. The run is cut in thirds by time; the first is warm-up (modules loaded,
 * heap grown to its working size). Then:
 * - level: the median VmRSS of the last third is at most RSS_LEVEL_MB above the second third's;
 * - floor: the lowest VmRSS of the last third (what is left after the collector ran) is at most
 *   RSS_FLOOR_MB above the second third's lowest: a steady climb raises the floor, GC noise does
 *   not;
 * - ceiling: VmRSS never reaches the 256 MiB memory limit the deployment gives the container
 *   (deploy/k8s/deployment.yaml, deploy/ecs/task-definition.json).
 * Why these bounds: under this load (about 1,300 requests/s on the 2-core CI machine) V8 does
 * not keep RSS still. It alternates between flat phases and a scavenge sawtooth about 45 MB high
 * (e.g. 123 → 170 MB every 15 s), and the old generation creeps up by ~10 MB a minute between
 * full collections. With no leak, the median of a third moved by up to 12.4 MB from one third
 * to the next (a flat phase against a sawtooth one) and the lowest value by under 10 MB; the
 * bounds are about twice that. What they still catch: a third holds ~80,000 requests, so a leak
 * of 300 bytes per request (one small object kept per answer) raises the level by 24 MB and the
 * floor by as much. A leak per refresh or per key (a few hundred events here) is below what RSS
 * can show; the unit tests and bench/ cover those.
 */
const RSS_LEVEL_MB = 24;
const RSS_FLOOR_MB = 16;
const RSS_LIMIT_BYTES = 256 * 1024 * 1024;

const TOKEN = 'soak-test-token-0123456789abcdef';
const ACCOUNT = 'arn:aws:glue:us-east-1:123456789012:table';
const AWS_PLACEHOLDER = {
  AWS_ACCESS_KEY_ID: 'AKIDSOAKPLACEHOLDER',
  AWS_SECRET_ACCESS_KEY: 'soak-placeholder-secret-access-key',
};

const config = (emulatorUrl: string) => `
listen: 127.0.0.1:0
auth:
  token: ${TOKEN}
cache:
  minRemainingSeconds: ${MIN_REMAINING_SECONDS}
upstream:
  region: us-east-1
  lakeFormationEndpoint: ${emulatorUrl}
  redshiftServerlessEndpoint: ${emulatorUrl}
targets:
  - name: orders
    source: lakeformation_table
    tableArn: ${ACCOUNT}/sales/orders
    permissions: [SELECT]
  - name: orders-2026
    source: lakeformation_partition
    tableArn: ${ACCOUNT}/sales/orders
    permissions: [SELECT]
    values: ['2026', '11']
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
    dbName: dev
`;

type Operation =
  'GetTemporaryGlueTableCredentials' | 'GetTemporaryGluePartitionCredentials' | 'GetCredentials';

/** One polled route, its own cache key, and the answer's shape. */
interface Route {
  readonly name: string;
  readonly path: string;
  readonly body?: string;
  readonly operation: Operation;
  /** Fields the answer must carry (container credentials say `Token`, the AWS shape `SessionToken`). */
  readonly fields: readonly string[];
}

const CONTAINER = ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration'];
const LAKE_FORMATION = ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'];
const REDSHIFT = ['dbUser', 'dbPassword', 'expiration'];

/** Every credential route, each on a key of its own (three table, three partition, two Redshift). */
const ROUTES: readonly Route[] = [
  {
    name: 'target table',
    path: '/v1/targets/orders',
    operation: 'GetTemporaryGlueTableCredentials',
    fields: CONTAINER,
  },
  {
    name: 'target partition',
    path: '/v1/targets/orders-2026',
    operation: 'GetTemporaryGluePartitionCredentials',
    fields: CONTAINER,
  },
  {
    name: 'target redshift',
    path: '/v1/targets/warehouse',
    operation: 'GetCredentials',
    fields: REDSHIFT,
  },
  {
    name: 'GET table',
    path: `/v1/lakeformation/table-credentials?tableArn=${ACCOUNT}/sales/customers&permissions=SELECT`,
    operation: 'GetTemporaryGlueTableCredentials',
    fields: LAKE_FORMATION,
  },
  {
    name: 'GET partition',
    path: `/v1/lakeformation/partition-credentials?tableArn=${ACCOUNT}/sales/orders&permissions=SELECT&values=2026&values=12`,
    operation: 'GetTemporaryGluePartitionCredentials',
    fields: LAKE_FORMATION,
  },
  {
    name: 'GET redshift',
    path: '/v1/redshift-serverless/credentials?workgroupName=analytics&dbName=reporting',
    operation: 'GetCredentials',
    fields: REDSHIFT,
  },
  {
    name: 'POST table',
    path: '/v1/lakeformation/table-credentials',
    body: JSON.stringify({ TableArn: `${ACCOUNT}/sales/lineitem`, Permissions: ['SELECT'] }),
    operation: 'GetTemporaryGlueTableCredentials',
    fields: LAKE_FORMATION,
  },
  {
    name: 'POST partition',
    path: '/v1/lakeformation/partition-credentials',
    body: JSON.stringify({
      TableArn: `${ACCOUNT}/sales/orders`,
      Partition: { Values: ['2026', '10'] },
      Permissions: ['SELECT'],
    }),
    operation: 'GetTemporaryGluePartitionCredentials',
    fields: LAKE_FORMATION,
  },
];
/** Whether the route's key is a configured target: loaded at start-up, before any request. */
const isTarget = (route: Route) => route.path.startsWith('/v1/targets/');
const TARGET_ROUTES = ROUTES.filter(isTarget).length;

interface Tally {
  requests: number;
  errors: number;
  firstErrors: string[];
  belowFloor: number;
  leastRemainingMs: number;
  results: Record<string, number>;
  /** Distinct credentials handed out (AccessKeyId or dbPassword). */
  distinct: Set<string>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
};
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

/** VmRSS of `pid` in bytes, from /proc/<pid>/status. */
async function vmRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/**
 * Upstream calls one key makes in `runMs` from its first load, by the refresh schedule of
 * `refreshAt` (src/refresh/policy.ts), with the daemon's settings and defaults: the first load,
 * then one refresh per interval. Every interval is the time-to-refresh `refreshAt` gives, moved
 * earlier by jitter (up to `DEFAULT_FIRST_JITTER_FRACTION` of it for the first refresh after a
 * cold load, `DEFAULT_JITTER_FRACTION` for the later ones) but never below its floor. Here:
 * lifetime L = 10 s, so the latest point is L/2 = 5 s (`expiration − minRemaining` = 7 s,
 * Redshift's `nextRefreshTime` = 7.5 s and the client window, which opens before issue, do not
 * bind), the floor is 1 s. `low`: every interval at its longest; `high`: every one at its
 * shortest; `mid`: the expected count, 1.5 + (run − mean first interval) / mean later interval
 * (the load, the first refresh, then t/μ − ½ renewals in t for intervals as regular as these).
 * `runMs` is the key's time from its first load to the count: from `low.runMs` at least, from
 * `high.runMs` at most.
 */
function predictedCalls(
  runMs: { readonly low: number; readonly high: number },
  operation: Operation,
): { low: number; mid: number; high: number } {
  const lifetimeMs = LIFETIME_SECONDS * 1000;
  const at = (jitterFraction: number, random: number) =>
    refreshAt(
      {
        issuedAt: 0,
        expiration: lifetimeMs,
        ...(operation === 'GetCredentials' && {
          nextRefreshTime: NEXT_REFRESH_FRACTION * lifetimeMs,
        }),
      },
      { minRemainingMs: MIN_REMAINING_SECONDS * 1000, jitterFraction, random: () => random },
    );
  const ALMOST_ONE = 1 - 1e-9;
  const longest = at(DEFAULT_JITTER_FRACTION, 0);
  const shortest = at(DEFAULT_JITTER_FRACTION, ALMOST_ONE);
  const firstShortest = at(DEFAULT_FIRST_JITTER_FRACTION, ALMOST_ONE);
  // Mean of a uniform draw clamped at the floor, sampled finely enough for a count.
  const meanOf = (jitterFraction: number) => {
    let sum = 0;
    for (let i = 0; i < 1_000; i++) sum += at(jitterFraction, (i + 0.5) / 1_000);
    return sum / 1_000;
  };
  const calls = (run: number, first: number, later: number) =>
    run < first ? 1 : 2 + Math.floor((run - first) / later);
  const meanFirst = meanOf(DEFAULT_FIRST_JITTER_FRACTION);
  const middle = (runMs.low + runMs.high) / 2;
  return {
    low: calls(runMs.low, longest, longest),
    mid: middle < meanFirst ? 1 : 1.5 + (middle - meanFirst) / meanOf(DEFAULT_JITTER_FRACTION),
    high: calls(runMs.high, firstShortest, shortest),
  };
}

describe('soak (process)', function () {
  this.timeout((SOAK_SECONDS + 120) * 1000);

  it(`serves every route for ${SOAK_SECONDS} s of seconds-long credentials: all 200, none below minRemainingSeconds, flat RSS, upstream calls as the refresh schedule predicts`, async () => {
    const emulator = await emulatorProcess();
    let daemon: Awaited<ReturnType<typeof serveProcess>> | undefined;
    const agents: Agent[] = [];
    try {
      await control(emulator.url, '/_emulator/config', {
        credentialLifetimeSeconds: LIFETIME_SECONDS,
        nextRefreshFraction: NEXT_REFRESH_FRACTION,
      });
      const { file } = await writeConfig(config(emulator.url));
      daemon = await serveProcess(['--config', file], { ...ENV, ...AWS_PLACEHOLDER });
      const started = performance.now();
      // The targets were loaded while the daemon started, up to warmMs before the start-up line
      // was written; the other keys at their first request, after it was read.
      const startedAt = Date.now();
      const prewarmFrom =
        Date.parse(String(daemon.started.time)) - Number(daemon.started.warmMs ?? NaN);
      assert.ok(prewarmFrom <= startedAt, 'start-up line time and warmMs');
      const { pid } = daemon;
      const url = daemon.url;

      const tally: Tally = {
        requests: 0,
        errors: 0,
        firstErrors: [],
        belowFloor: 0,
        leastRemainingMs: Number.POSITIVE_INFINITY,
        results: {},
        distinct: new Set(),
      };
      const fail = (what: string) => {
        tally.errors += 1;
        if (tally.firstErrors.length < 5) tally.firstErrors.push(what);
      };
      const deadline = started + SOAK_SECONDS * 1000;
      const poll = async (index: number) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        for (let i = index; performance.now() < deadline; i++) {
          const route = ROUTES[i % ROUTES.length] ?? assert.fail('no route');
          const answer = await httpRequest(`${url}${route.path}`, {
            agent,
            headers: { authorization: TOKEN },
            ...(route.body !== undefined && { body: route.body }),
          });
          const receivedAt = Date.now();
          tally.requests += 1;
          if (answer.status !== 200 || answer.body === undefined) {
            fail(`${route.name}: ${answer.error ?? answer.status} ${answer.body ?? ''}`);
          } else {
            const body = JSON.parse(answer.body) as Record<string, unknown>;
            const missing = route.fields.filter((field) => typeof body[field] !== 'string');
            if (missing.length > 0) {
              fail(`${route.name}: answer without ${missing.join(', ')}`);
            } else {
              const expiration = Date.parse(String(body.Expiration ?? body.expiration));
              const remainingMs = expiration - receivedAt;
              if (remainingMs < MIN_REMAINING_SECONDS * 1000) tally.belowFloor += 1;
              tally.leastRemainingMs = Math.min(tally.leastRemainingMs, remainingMs);
              tally.distinct.add(String(body.AccessKeyId ?? body.dbPassword));
              const result = String(answer.headers?.['x-credcache-result']);
              tally.results[result] = (tally.results[result] ?? 0) + 1;
            }
          }
          await sleep(POLL_SLEEP_MS);
        }
      };

      const rss: { at: number; bytes: number }[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          rss.push({ at: performance.now() - started, bytes: await vmRss(pid) });
          await sleep(RSS_SAMPLE_MS);
        }
      })();

      await Promise.all(Array.from({ length: POLLERS }, (_, i) => poll(i)));
      const runMs = performance.now() - started;
      const calls: EmulatorCalls = await emulatorCalls(emulator.url);
      const countedAt = Date.now();
      sampling = false;
      await sampler;

      // RSS: the first third of the run is warm-up; the last third is compared with the second.
      const third = (n: number) =>
        rss
          .filter(({ at }) => at >= (n * runMs) / 3 && at < ((n + 1) * runMs) / 3)
          .map(({ bytes }) => bytes);
      const thirds = [third(0), third(1), third(2)];
      const [m1, m2, m3] = thirds.map(median) as [number, number, number];
      const [f1, f2, f3] = thirds.map((values) => Math.min(...values)) as [number, number, number];
      const peak = Math.max(...rss.map(({ bytes }) => bytes));

      // Upstream calls by operation, against the schedule's prediction for the keys behind it.
      const byOperation = new Map<Operation, { low: number; mid: number; high: number }>();
      for (const route of ROUTES) {
        const p = predictedCalls(
          { low: runMs, high: countedAt - (isTarget(route) ? prewarmFrom : startedAt) },
          route.operation,
        );
        const sum = byOperation.get(route.operation) ?? { low: 0, mid: 0, high: 0 };
        byOperation.set(route.operation, {
          low: sum.low + p.low,
          mid: sum.mid + p.mid,
          high: sum.high + p.high,
        });
      }
      const predicted = [...byOperation.values()].reduce(
        (sum, p) => ({ low: sum.low + p.low, mid: sum.mid + p.mid, high: sum.high + p.high }),
        { low: 0, mid: 0, high: 0 },
      );
      predicted.mid = Math.round(predicted.mid);

      const first = rss[0]?.bytes ?? NaN;
      const last = rss.at(-1)?.bytes ?? NaN;
      process.stdout.write(
        `      soak: ${(runMs / 1000).toFixed(1)} s, ${ROUTES.length} routes/keys, ` +
          `${tally.requests.toLocaleString('en')} requests (${Object.entries(tally.results)
            .map(([result, n]) => `${result} ${n}`)
            .join(', ')}), ${tally.errors} errors, ${tally.distinct.size} distinct credentials\n` +
          `      upstream calls: ${calls.total} (predicted ${predicted.mid}, ${predicted.low}–${predicted.high}; ` +
          `one per ${Math.round(tally.requests / Math.max(1, calls.total))} requests); ` +
          [...byOperation]
            .map(([op, p]) => `${op} ${calls.byOperation[op] ?? 0} (${p.low}–${p.high})`)
            .join(', ') +
          '\n' +
          `      least validity left at receipt: ${(tally.leastRemainingMs / 1000).toFixed(2)} s ` +
          `(floor ${MIN_REMAINING_SECONDS} s, lifetime ${LIFETIME_SECONDS} s), ${tally.belowFloor} below the floor\n` +
          `      RSS: first ${mb(first)}, last ${mb(last)}, peak ${mb(peak)}; thirds: medians ` +
          `${mb(m1)} / ${mb(m2)} / ${mb(m3)}, lowest ${mb(f1)} / ${mb(f2)} / ${mb(f3)} ` +
          `(${rss.length} samples)\n`,
      );

      // Every answer a whole 200 credential; none below the floor.
      assert.deepEqual(tally.firstErrors, []);
      assert.equal(tally.errors, 0);
      assert.equal(tally.belowFloor, 0, `least validity left ${tally.leastRemainingMs} ms`);
      // Refreshes kept ahead of the floor: no request had to load a key on demand, except the
      // first request of each key that is not a target; nothing stale.
      assert.equal(tally.results.miss ?? 0, ROUTES.length - TARGET_ROUTES);
      assert.equal(tally.results.stale ?? 0, 0);

      // Upstream calls: within the schedule's bounds for each operation (one call per key of
      // slack below, for timer lateness and round trips accumulated over the run), and a small
      // fraction of the requests.
      for (const [operation, p] of byOperation) {
        const observed = calls.byOperation[operation] ?? 0;
        const keys = ROUTES.filter((route) => route.operation === operation).length;
        assert.ok(
          observed >= p.low - keys && observed <= p.high,
          `${operation}: ${observed} calls, predicted ${p.low}–${p.high}`,
        );
      }
      assert.ok(
        calls.total * 100 < tally.requests,
        `${calls.total} upstream calls for ${tally.requests} requests`,
      );
      assert.ok(tally.distinct.size <= calls.total);

      // RSS flat (level, floor, ceiling; see RSS_LEVEL_MB).
      assert.ok(
        thirds.every((values) => values.length > 0),
        `${rss.length} RSS samples`,
      );
      assert.ok(
        m3 - m2 <= RSS_LEVEL_MB * MB,
        `RSS median rose ${mb(m3 - m2)} from the second third to the last`,
      );
      assert.ok(
        f3 - f2 <= RSS_FLOOR_MB * MB,
        `RSS floor rose ${mb(f3 - f2)} from the second third to the last`,
      );
      assert.ok(peak < RSS_LIMIT_BYTES, `RSS reached ${mb(peak)}`);

      assert.deepEqual(await stopProcess(daemon), [0, null]);
    } finally {
      for (const agent of agents) agent.destroy();
      if (daemon) await stopProcess(daemon, 'SIGKILL');
      await stopProcess(emulator);
    }
  });
});
