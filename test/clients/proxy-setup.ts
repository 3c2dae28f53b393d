/**
 * The client suite's proxy set-up: a throwaway PostgreSQL (test/support/postgres.ts) behind the
 * emulator (`postgres`: every issued Redshift credential is a login role there), the daemon in
 * this process with a `redshift_serverless` target and a proxy for it; node-postgres clients
 * through the proxy; the proxy's metrics read from the daemon's registry.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { buildConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/daemon/logger.js';
import { type Daemon, startDaemon } from '../../src/daemon/main.js';
import { EMULATOR_CLIENT, type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { type PostgresOptions, usePostgres } from '../support/postgres.js';
import { freePort } from './helpers.js';

export const TOKEN = 'proxy-test-token-0123456789';

interface Setup {
  readonly daemon: Daemon;
  readonly emulator: RunningEmulator;
  readonly port: number;
}

export function useProxy(options: PostgresOptions, proxy: Record<string, unknown> = {}) {
  const cluster = usePostgres(options);
  let setup: Setup | undefined;
  before(async function () {
    this.timeout(60_000);
    const emulator = await startEmulator({
      host: '127.0.0.1',
      port: 0,
      postgres: cluster.current.url,
    });
    const port = await freePort();
    const daemon = await startDaemon({
      config: buildConfig({
        listen: '127.0.0.1:0',
        auth: { token: TOKEN },
        cache: { refreshNowMinIntervalSeconds: 0 },
        targets: [
          {
            name: 'warehouse',
            source: 'redshift_serverless',
            workgroupName: 'analytics',
            dbName: 'dev',
          },
        ],
        proxies: [
          {
            target: 'warehouse',
            listen: `127.0.0.1:${port}`,
            upstream: `127.0.0.1:${cluster.current.port}`,
            ...(cluster.current.tls
              ? { tls: 'verify-full', caFile: cluster.current.tls.caFile }
              : { tls: 'disable' }),
            ...proxy,
          },
        ],
        log: { level: 'silent' },
      }),
      upstream: { kind: 'emulator', url: emulator.url, ...EMULATOR_CLIENT },
      logger: createLogger('silent'),
      env: {},
    });
    setup = { daemon, emulator, port };
  });
  after(async () => {
    await setup?.daemon.shutdown();
    await setup?.emulator.close();
  });
  return {
    get current(): Setup {
      return setup ?? assert.fail('not started');
    },
    cluster,
  };
}

/** A node-postgres client through the proxy. */
export async function connect(port: number, password = TOKEN): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'anyone',
    password,
    database: 'dev',
  });
  await client.connect();
  return client;
}

/** The proxy's metrics for `target` now: the active gauge and each outcome's count. */
export async function proxyMetrics(
  daemon: Daemon,
  target = 'warehouse',
): Promise<{ all: string; active: number; outcome: (name: string) => number }> {
  const read = async (name: string) =>
    (await daemon.registry.getSingleMetric(name)?.get())?.values ?? [];
  const active = (await read('credcache_proxy_active_connections')).find(
    (value) => value.labels.target === target,
  );
  // Copied now: prom-client hands out its live value objects.
  const outcomes = new Map(
    (await read('credcache_proxy_connections_total'))
      .filter((value) => value.labels.target === target)
      .map((value) => [String(value.labels.outcome), value.value]),
  );
  return {
    all: [...outcomes].map(([name, value]) => `${name}=${value}`).join(' '),
    active: active?.value ?? 0,
    outcome: (name) => outcomes.get(name) ?? 0,
  };
}

/** Resolves once `check` resolves true, polling every 50 ms (real time), at most `limitMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  limitMs = 10_000,
  detail?: () => Promise<string>,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs)
      assert.fail(`timed out waiting for ${what}${detail ? `: ${await detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sessions of the emulator's IAM users in the cluster (the proxy's upstream logins). */
export async function upstreamSessions(cluster: {
  query: (text: string) => Promise<pg.QueryResult<{ count: string }>>;
}): Promise<number> {
  const { rows } = await cluster.query(
    "select count(*) as count from pg_stat_activity where usename like 'IAM%'",
  );
  return Number(rows[0]?.count ?? 0);
}
