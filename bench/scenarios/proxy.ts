/**
 * The Redshift proxy (issue 18): pgbench `select 1` through credcache's PostgreSQL-protocol proxy
 * against the same pgbench straight to the database, in the same run, on the same throwaway
 * PostgreSQL, as the same role (the target's dbUser, a login role the emulator made with
 * `--postgres`). Two figures: throughput at 8 clients on open connections (the relay's cost),
 * and the cost of opening a connection (the proxy's token check, its upstream login with the
 * cached credential, one more hop) — by pgbench `-C` and by timing node-postgres `connect()`
 * one at a time, so its median can be read.
 */
import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chown, stat, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import {
  type PostgresOptions,
  type RunningPostgres,
  findServerBinaries,
  startPostgres,
} from '../../test/support/postgres.js';
import { jsonCall } from '../lib/http.js';
import { ms, renderTable } from '../lib/markdown.js';
import { startProductionDaemon, workspace } from '../lib/production.js';
import { cpuPlan, freePort, processCpuMs } from '../lib/proc.js';
import {
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  checksOrProblems,
} from '../lib/report.js';
import {
  DAEMON_BIN,
  ROOT,
  type ServerProcess,
  childEnv,
  ensureBuilt,
  firstOk,
  sourceRevision,
  startProcess,
} from '../lib/server-process.js';
import { percentile } from '../lib/stats.js';
import { type TargetRow, missedAny, renderTargetTable } from '../lib/targets.js';

interface Plan {
  /** Rounds of (direct, proxy) pairs, the order alternating, so drift hits both alike. */
  readonly rounds: number;
  /** Seconds of each pgbench run on open connections. */
  readonly seconds: number;
  /** Seconds of each pgbench `-C` run (a new connection per transaction). */
  readonly connectSeconds: number;
  /** node-postgres connections opened one at a time, per side and round. */
  readonly connects: number;
  /** Seconds of each pgbench run of queries the database spends `SLOW_QUERY_MS` on. */
  readonly slowSeconds: number;
}

const plan = (quick: boolean): Plan =>
  quick
    ? { rounds: 1, seconds: 4, connectSeconds: 3, connects: 100, slowSeconds: 3 }
    : { rounds: 3, seconds: 10, connectSeconds: 5, connects: 400, slowSeconds: 5 };

const CLIENTS = 8;
const THREADS = 2;
/** How long the database spends on each query of the second run (`pg_sleep`), ms. */
const SLOW_QUERY_MS = 1;
const PASSWORD_ENCRYPTION: NonNullable<PostgresOptions['passwordEncryption']> = 'scram-sha-256';

/** Where a client connects, as whom. */
interface Endpoint {
  readonly name: Side;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

interface PgbenchResult {
  readonly tps: number;
  readonly latencyMs: number;
  /** `average connection time` (with `-C`), ms. */
  readonly connectionMs: number | undefined;
  readonly failed: number;
  readonly transactions: number;
  /** CPU the daemon (the proxy) used during the run, ms; 0 for the direct side. */
  readonly proxyCpuMs: number;
}

function runPgbench(
  pgbench: string,
  args: readonly string[],
  endpoint: Endpoint,
): Promise<PgbenchResult> {
  return new Promise((resolve, reject) => {
    execFile(
      pgbench,
      [...args, '-h', '127.0.0.1', '-p', String(endpoint.port), '-U', endpoint.user, 'dev'],
      {
        env: { ...process.env, PGPASSWORD: endpoint.password, PGSSLMODE: 'disable' },
        maxBuffer: 4 << 20,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`pgbench (${endpoint.name}) failed: ${stderr || error.message}`));
          return;
        }
        const number = (pattern: RegExp): number | undefined => {
          const found = pattern.exec(stdout)?.[1];
          return found === undefined ? undefined : Number(found);
        };
        const tps = number(
          /tps = ([\d.]+) \((?:without initial connection|including reconnection) times?\)/,
        );
        const latencyMs = number(/latency average = ([\d.]+) ms/);
        if (tps === undefined || latencyMs === undefined) {
          reject(new Error(`pgbench (${endpoint.name}) said: ${stdout}`));
          return;
        }
        resolve({
          tps,
          latencyMs,
          connectionMs: number(/average connection time = ([\d.]+) ms/),
          failed: number(/number of failed transactions: (\d+)/) ?? 0,
          transactions: number(/number of transactions actually processed: (\d+)/) ?? 0,
          proxyCpuMs: 0,
        });
      },
    );
  });
}

/** Opens and closes one node-postgres connection; how long `connect()` took, ms. */
async function timeConnect(endpoint: Endpoint): Promise<number> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: 'dev',
  });
  const started = performance.now();
  await client.connect();
  const took = performance.now() - started;
  await client.end();
  return took;
}

/**
 * `count` connections to every side, one at a time, the sides taking turns (each turn starting
 * with another side), so that what else the machine does falls on every side alike.
 */
async function timeConnects(
  endpoints: readonly Endpoint[],
  count: number,
): Promise<Map<Side, number[]>> {
  const times = new Map<Side, number[]>(endpoints.map((endpoint) => [endpoint.name, []]));
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < endpoints.length; j++) {
      const endpoint = endpoints[(i + j) % endpoints.length] as Endpoint;
      times.get(endpoint.name)?.push(await timeConnect(endpoint));
    }
  }
  return times;
}

const median = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

/** The daemon's target and its proxy, after the generated header (`bench/lib/production.ts`). */
const proxyYaml = (proxyPort: number, db: number): string =>
  [
    'targets:',
    '  - name: warehouse',
    '    source: redshift_serverless',
    '    workgroupName: analytics',
    '    dbName: dev',
    'proxies:',
    '  - target: warehouse',
    `    listen: 127.0.0.1:${proxyPort}`,
    `    upstream: 127.0.0.1:${db}`,
    '    tls: disable',
    '    clientAuth: token',
    '',
  ].join('\n');

type Side = 'direct' | 'proxy' | 'relay' | 'pgbouncer';

/** What one side measured, over all rounds. */
interface SideResults {
  readonly tps: PgbenchResult[];
  readonly slowTps: PgbenchResult[];
  readonly connect: PgbenchResult[];
  readonly connects: number[];
}

/** The pgbouncer found on this machine, or undefined (it is optional: Debian `pgbouncer`). */
async function findPgbouncer(): Promise<string | undefined> {
  for (const path of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * pgbouncer in session mode in front of the database, logging in upstream as the target's
 * dbUser with its password and taking the same token from its clients (`auth_type = plain`),
 * as the proxy does. Run as the database's owner when root (pgbouncer refuses root).
 */
async function startPgbouncer(
  binary: string,
  database: RunningPostgres,
  served: { dbUser: string; dbPassword: string },
  token: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  const ini = join(database.dir, 'pgbouncer.ini');
  const users = join(database.dir, 'pgbouncer.users');
  await writeFile(
    ini,
    [
      '[databases]',
      `dev = host=127.0.0.1 port=${database.port} dbname=dev user=${served.dbUser} password=${served.dbPassword}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = plain',
      `auth_file = ${users}`,
      'pool_mode = session',
      'max_client_conn = 100',
      'default_pool_size = 20',
      'server_tls_sslmode = disable',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await writeFile(users, `${quote('bench')} ${quote(token)}\n`, { mode: 0o600 });
  const owner = await stat(database.dir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await chown(ini, owner.uid, owner.gid);
    await chown(users, owner.uid, owner.gid);
  }
  const child = spawn(binary, [ini], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(asRoot && { uid: owner.uid, gid: owner.gid }),
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once it accepts a connection.
  const deadline = performance.now() + 10_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    async stop() {
      // SIGTERM: pgbouncer's immediate shutdown.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const options = plan(context.quick);
  const built = ensureBuilt(context);
  const revision = sourceRevision();
  const cpus = cpuPlan();
  const unpinned = { ...cpus, pinned: false };
  const pgbench = join(await findServerBinaries(), 'pgbench');
  const pgbouncer = await findPgbouncer();
  const space = await workspace();
  const problems: string[] = [];
  let database: RunningPostgres | undefined;
  const processes: ServerProcess[] = [];
  let bouncer: { port: number; stop(): Promise<void> } | undefined;
  const results = new Map<Side, SideResults>();
  let version: string | undefined;
  try {
    context.progress('starting PostgreSQL');
    database = await startPostgres({ passwordEncryption: PASSWORD_ENCRYPTION });
    version = (await database.query<{ v: string }>('show server_version')).rows[0]?.v;
    // Nothing is pinned: the database, pgbench and what stands between them share the
    // machine's cores as the scheduler sees fit, on every side alike.
    const emulator = startProcess(
      unpinned,
      [DAEMON_BIN, 'emulator', '--port', '0', '--postgres', database.url],
      childEnv(),
      space.dir,
    );
    processes.push(emulator);
    const prefix = 'emulator listening on ';
    const emulatorUrl = (await emulator.text(prefix)).slice(prefix.length).trim();
    // Credentials for longer than the run: no refresh falls inside a measurement.
    await jsonCall(emulatorUrl, 'POST', '/_emulator/config', { credentialLifetimeSeconds: 3600 });
    const daemonPort = await freePort();
    const proxyPort = await freePort();
    const daemon = await startProductionDaemon(unpinned, space, {
      port: daemonPort,
      emulatorUrl,
      targets: proxyYaml(proxyPort, database.port),
    });
    processes.push(daemon);
    await firstOk(daemonPort, '/readyz', daemon);
    const answer = await fetch(`http://127.0.0.1:${daemonPort}/v1/targets/warehouse`, {
      headers: { authorization: space.token },
    });
    if (answer.status !== 200) throw new Error(`the target answered ${answer.status}`);
    const served = (await answer.json()) as { dbUser: string; dbPassword: string };
    const relay = startProcess(
      unpinned,
      [join(ROOT, 'bench/hosts/bare-relay.mjs'), '--upstream', `127.0.0.1:${database.port}`],
      childEnv(),
      space.dir,
    );
    processes.push(relay);
    const relayPort = Number((await relay.line('relay listening')).line.port);
    if (pgbouncer) {
      context.progress('starting pgbouncer');
      bouncer = await startPgbouncer(pgbouncer, database, served, space.token);
    }
    const asDbUser = { user: served.dbUser, password: served.dbPassword };
    const withToken = { user: 'bench', password: space.token };
    const endpoints: Endpoint[] = [
      // Straight to the database as the target's dbUser, with the password credcache holds.
      { name: 'direct', port: database.port, ...asDbUser },
      // Through the proxy: any user name, the daemon's token as the password.
      { name: 'proxy', port: proxyPort, ...withToken },
      // Through the bare relay, logging in end to end as the dbUser.
      { name: 'relay', port: relayPort, ...asDbUser },
      ...(bouncer ? [{ name: 'pgbouncer' as const, port: bouncer.port, ...withToken }] : []),
    ];
    for (const endpoint of endpoints) {
      results.set(endpoint.name, { tps: [], slowTps: [], connect: [], connects: [] });
    }
    const select1 = join(space.dir, 'select1.sql');
    await writeFile(select1, 'select 1;\n');
    const slow = join(space.dir, 'slow.sql');
    await writeFile(slow, `select pg_sleep(${SLOW_QUERY_MS / 1000});\n`);
    /** pgbench, with the CPU the daemon used meanwhile. */
    const measured = async (args: readonly string[], endpoint: Endpoint) => {
      const before = processCpuMs(daemon.pid);
      const result = await runPgbench(pgbench, ['-n', '-M', 'simple', ...args], endpoint);
      return { ...result, proxyCpuMs: processCpuMs(daemon.pid) - before };
    };
    const clients = ['-c', String(CLIENTS), '-j', String(THREADS)];
    for (let round = 0; round < options.rounds; round++) {
      // Each round starts with another side, so drift over the run falls on all alike.
      const order = endpoints.map((_, i) => endpoints[(i + round) % endpoints.length] as Endpoint);
      for (const endpoint of order) {
        const into = results.get(endpoint.name) as SideResults;
        const step = (what: string) =>
          context.progress(`round ${round + 1}/${options.rounds}: ${endpoint.name}, ${what}`);
        step(`select 1, ${CLIENTS} clients, ${options.seconds} s`);
        into.tps.push(
          await measured(['-f', select1, ...clients, '-T', String(options.seconds)], endpoint),
        );
        if (endpoint.name === 'direct' || endpoint.name === 'proxy') {
          step(`${SLOW_QUERY_MS} ms queries, ${CLIENTS} clients, ${options.slowSeconds} s`);
          into.slowTps.push(
            await measured(['-f', slow, ...clients, '-T', String(options.slowSeconds)], endpoint),
          );
        }
        step(`-C, ${options.connectSeconds} s`);
        into.connect.push(
          await measured(
            ['-f', select1, '-C', '-c', '1', '-j', '1', '-T', String(options.connectSeconds)],
            endpoint,
          ),
        );
      }
      context.progress(
        `round ${round + 1}/${options.rounds}: ${options.connects} node-postgres connects to each side, in turns`,
      );
      for (const [name, times] of await timeConnects(endpoints, options.connects)) {
        results.get(name)?.connects.push(...times);
      }
    }
  } finally {
    await bouncer?.stop();
    for (const child of processes.reverse()) {
      const exit = await child.stop();
      if (exit.code !== 0) problems.push(`a process exited with ${exit.code ?? exit.signal}.`);
    }
    await database?.stop();
    await space.remove();
  }
  for (const [name, side] of results) {
    const failed = [...side.tps, ...side.slowTps, ...side.connect].reduce(
      (sum, result) => sum + result.failed,
      0,
    );
    if (failed > 0) problems.push(`${name}: pgbench counted ${failed} failed transactions.`);
  }
  const of = (side: Side): SideResults => {
    const found = results.get(side);
    if (!found) throw new Error(`no ${side} results`);
    return found;
  };
  const direct = of('direct');
  const proxied = of('proxy');
  const relayed = of('relay');
  const tps = (list: readonly PgbenchResult[]) => mean(list.map((result) => result.tps));
  const ratio = tps(proxied.tps) / tps(direct.tps);
  const slowRatio = tps(proxied.slowTps) / tps(direct.slowTps);
  const relayRatio = tps(relayed.tps) / tps(direct.tps);
  const overhead = median(proxied.connects) - median(direct.connects);
  const relayOverhead = median(relayed.connects) - median(direct.connects);
  const cpuPerTransaction = (list: readonly PgbenchResult[]) =>
    (list.reduce((sum, result) => sum + result.proxyCpuMs, 0) * 1000) /
    Math.max(
      1,
      list.reduce((sum, result) => sum + result.transactions, 0),
    );
  const bouncerTps = results.get('pgbouncer');
  const rows: TargetRow[] = [
    {
      measure: `pgbench \`select 1\`, ${CLIENTS} clients on open connections: TPS ratio, proxy / direct`,
      result: ratio.toFixed(3),
      baseline: `1.000 (${Math.round(tps(direct.tps)).toLocaleString('en')} TPS straight to the database, ${Math.round(tps(proxied.tps)).toLocaleString('en')} through the proxy)`,
      target: '≥ 0.9',
      met: ratio >= 0.9,
    },
    {
      measure: `The same through the bare Node relay (no protocol, no authentication): ratio / direct`,
      result: relayRatio.toFixed(3),
      baseline: '1.000',
      target: '–',
      met: undefined,
    },
    ...(bouncerTps
      ? [
          {
            measure: 'The same through pgbouncer (session mode): ratio / direct',
            result: (tps(bouncerTps.tps) / tps(direct.tps)).toFixed(3),
            baseline: '1.000',
            target: '–',
            met: undefined,
          },
        ]
      : []),
    {
      measure: `pgbench, queries the database spends ${SLOW_QUERY_MS} ms on (\`pg_sleep\`), ${CLIENTS} clients: TPS ratio, proxy / direct`,
      result: slowRatio.toFixed(3),
      baseline: `1.000 (${Math.round(tps(direct.slowTps)).toLocaleString('en')} TPS direct)`,
      target: '–',
      met: undefined,
    },
    {
      measure: 'CPU of the daemon per relayed `select 1` transaction (open connections)',
      result: `${cpuPerTransaction(proxied.tps).toFixed(1)} µs`,
      baseline: '–',
      target: '–',
      met: undefined,
    },
    {
      measure: 'Connection set-up overhead at p50 (node-postgres `connect()`, proxy − direct)',
      result: `${ms(overhead)} ms`,
      baseline: `0 (direct p50 ${ms(median(direct.connects))} ms)`,
      target: '≤ 1 ms',
      met: overhead <= 1,
    },
    {
      measure: 'The same through the bare Node relay (relay − direct)',
      result: `${ms(relayOverhead)} ms`,
      baseline: '0',
      target: '–',
      met: undefined,
    },
    {
      measure:
        'CPU of the daemon per new connection (pgbench `-C`: token, upstream login, one query)',
      result: `${(cpuPerTransaction(proxied.connect) / 1000).toFixed(2)} ms`,
      baseline: '–',
      target: '–',
      met: undefined,
    },
  ];
  if (missedAny(rows)) problems.push('a target was missed.');
  const perRun = (list: readonly PgbenchResult[]) =>
    list.map((result) => Math.round(result.tps).toLocaleString('en')).join(', ') || '–';
  const sides = [...results.entries()];
  return {
    intro: [
      `A throwaway PostgreSQL ${version ?? '?'} (\`test/support/postgres.ts\`: 127.0.0.1, ` +
        `\`password_encryption = ${PASSWORD_ENCRYPTION}\`, the cluster's defaults otherwise) behind ` +
        'the emulator (`credcache emulator --postgres`), which makes every issued Redshift ' +
        'credential a login role there; the daemon in its production shape (`credcache serve ' +
        `--config …\`, ${built}; source ${revision}) with one \`redshift_serverless\` target and a ` +
        'proxy for it (`clientAuth: token`, `tls: disable` to the loopback database).',
      `pgbench (PostgreSQL ${version ?? '?'}'s, libpq) and node-postgres connect to each side in ` +
        "turn: **direct**, straight to the database as the target's dbUser with the password " +
        'credcache holds; **proxy**, through credcache with the daemon’s token as the password ' +
        '(the proxy logs in upstream as the same dbUser, SCRAM-SHA-256); **relay**, through ' +
        '`bench/hosts/bare-relay.mjs`, the barest Node TCP relay (accept, connect, `pipe` both ' +
        'ways), logging in end to end as the dbUser — the cost of one more hop through a Node ' +
        'process, whatever it does besides' +
        (bouncer
          ? '; **pgbouncer** (Debian’s, session mode, `auth_type = plain` with the same token, ' +
            'logging in upstream as the dbUser; it keeps server connections between clients).'
          : '; pgbouncer was not installed (`apt-get install pgbouncer` adds it as a fourth side).'),
      `Each side, in each of ${options.rounds} round(s) (every round starting with another ` +
        `side): \`select 1;\`, simple protocol (\`-n -M simple\`), ${CLIENTS} clients on ` +
        `${THREADS} threads for ${options.seconds} s; for direct and proxy also ` +
        `\`select pg_sleep(${SLOW_QUERY_MS / 1000})\` for ${options.slowSeconds} s; then \`-C\` ` +
        `(a new connection per transaction, one client) for ${options.connectSeconds} s; then ` +
        `${options.connects} node-postgres \`connect()\`/\`end()\` to each side, one at a time, ` +
        `the sides taking turns, each timed. Nothing is pinned: on this ${cpus.cpus}-CPU ` +
        'machine the database, pgbench and ' +
        'the side’s process share the cores. In production the database is another machine ' +
        '(Redshift), whose queries take milliseconds; here a `select 1` takes the database ' +
        'microseconds, and the proxy competes with it for the same two cores.',
    ],
    tables: [],
    findings: [
      renderTargetTable(rows),
      renderTable(
        [
          'Side',
          '`select 1` TPS per round',
          'Mean latency (ms)',
          `${SLOW_QUERY_MS} ms queries: TPS`,
          '`-C` TPS',
          '`-C` average connection time (ms)',
          'connect() p50 (ms)',
          'connect() p99 (ms)',
        ],
        sides.map(([name, side]) => [
          name,
          perRun(side.tps),
          ms(mean(side.tps.map((result) => result.latencyMs))),
          side.slowTps.length > 0 ? Math.round(tps(side.slowTps)).toLocaleString('en') : '–',
          Math.round(tps(side.connect)).toLocaleString('en'),
          ms(mean(side.connect.map((result) => result.connectionMs ?? Number.NaN))),
          ms(median(side.connects)),
          ms(
            percentile(
              [...side.connects].sort((a, b) => a - b),
              99,
            ),
          ),
        ]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      'What the `select 1` ratio measures here: a database answering in microseconds on the ' +
        'same cores, so that one more loopback hop is most of a transaction. The proxy spends ' +
        `${cpuPerTransaction(proxied.tps).toFixed(1)} µs of CPU per relayed transaction; profiled ` +
        'by hand (`node --cpu-prof` on the daemon in this scenario), about half of it is the ' +
        'socket write itself (`writeBuffer`: on loopback the kernel delivers the bytes within ' +
        `the sender's call). The bare Node relay reaches ${relayRatio.toFixed(3)}` +
        (bouncerTps
          ? ` and pgbouncer, in C, ${(tps(bouncerTps.tps) / tps(direct.tps)).toFixed(3)}`
          : '') +
        ' in the same run: the hop, not what the proxy does besides, sets the ratio. With ' +
        `queries the database spends ${SLOW_QUERY_MS} ms on — less than a Redshift round trip — ` +
        `the ratio is ${slowRatio.toFixed(3)}. A connection through the proxy can be quicker to ` +
        'set up than one straight to the database: the proxy keeps the SCRAM key it derived ' +
        'for the cached password, and the direct client derives it (PBKDF2, 4,096 rounds) at ' +
        'every connection; pgbouncer keeps its server connections open between clients, so ' +
        'its clients skip the database login altogether.',
      checksOrProblems(
        problems,
        'No pgbench transaction failed on any side; every process exited 0.',
      ),
    ],
    failed: problems.length > 0,
  };
}

export const proxyScenario: Scenario = {
  name: 'proxy',
  title: 'The Redshift proxy: pgbench through it and straight to the database',
  run,
};
