/**
 * The PostgreSQL-protocol proxy with real parts: a throwaway PostgreSQL (test/support/postgres.ts)
 * behind the emulator (`--postgres`: every issued Redshift credential is a login role there), the
 * daemon with a `redshift_serverless` target and a proxy for it, and psql and node-postgres as
 * clients. The client logs in with the daemon's token; the proxy logs in upstream with the
 * target's cached credential (SCRAM-SHA-256 or MD5, over TLS verified against the test's CA).
 */
import assert from 'node:assert/strict';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/daemon/logger.js';
import { startDaemon } from '../../src/daemon/main.js';
import { EMULATOR_CLIENT, startEmulator } from '../../src/emulator/server.js';
import { findPsql, run, usePostgres } from '../support/postgres.js';
import { TOKEN, connect, useProxy } from './proxy-setup.js';

async function currentUser(port: number): Promise<string> {
  const client = await connect(port);
  try {
    return (
      (await client.query<{ user: string }>('select current_user as user')).rows[0]?.user ?? ''
    );
  } finally {
    await client.end();
  }
}

for (const passwordEncryption of ['scram-sha-256', 'md5'] as const) {
  describe(`proxy: psql and node-postgres through it (${passwordEncryption} upstream)`, function () {
    this.timeout(60_000);
    const proxy = useProxy({ passwordEncryption });

    it("logs in as the target's dbUser, the client never holding its password", async () => {
      const { daemon, port } = proxy.current;
      const served = (await (
        await fetch(`${daemon.url}/v1/targets/warehouse`, { headers: { authorization: TOKEN } })
      ).json()) as { dbUser: string };
      assert.equal(await currentUser(port), served.dbUser);
      const psql = await run(
        await findPsql(),
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'someone',
          '-d',
          'dev',
          '-Atc',
          'select current_user',
        ],
        { env: { PATH: '/usr/bin:/bin', PGPASSWORD: TOKEN, PGCONNECT_TIMEOUT: '10' } },
      );
      assert.equal(psql.stdout.trim(), served.dbUser);
    });

    it('refuses a wrong token with 28P01, never a dropped socket', async () => {
      const { port } = proxy.current;
      await assert.rejects(
        connect(port, 'not-the-token-0123456789'),
        (error: { code?: string; message: string }) => {
          assert.equal(error.code, '28P01');
          assert.match(error.message, /credcache token/);
          return true;
        },
      );
      await assert.rejects(
        run(
          await findPsql(),
          ['-h', '127.0.0.1', '-p', String(port), '-U', 'x', '-d', 'dev', '-Atc', 'select 1'],
          { env: { PATH: '/usr/bin:/bin', PGPASSWORD: 'wrong' } },
        ),
        /FATAL: {2}password authentication failed/,
      );
    });

    it('a refresh during a running query leaves it alone; the next connection uses the new password', async () => {
      const { daemon, port } = proxy.current;
      const before = await connect(port);
      const running = before.query('select pg_sleep(1.5), current_user as user');
      const refreshed = await fetch(`${daemon.url}/v1/targets/warehouse/refresh`, {
        method: 'POST',
        headers: { authorization: TOKEN },
      });
      assert.equal(refreshed.status, 200);
      const after = await connect(port);
      const [old, fresh] = await Promise.all([
        running,
        after.query<{ user: string }>('select current_user as user'),
      ]);
      assert.equal(old.rows.length, 1, 'the running query finished on its connection');
      // The emulator gives the user a new password with every credential (the old one stops
      // working), so this login could only be made with the refreshed credential.
      assert.equal(fresh.rows[0]?.user, old.rows[0]?.user);
      await Promise.all([before.end(), after.end()]);
    });
  });
}

describe('proxy: TLS to upstream, verified against the CA', function () {
  this.timeout(60_000);
  const proxy = useProxy({ tls: true });

  it('logs in over verify-full with the test CA', async () => {
    const client = await connect(proxy.current.port);
    try {
      const ssl = await proxy.cluster.current.query<{ ssl: boolean }>(
        "select bool_or(ssl) as ssl from pg_stat_ssl join pg_stat_activity using (pid) where usename like 'IAM%'",
      );
      assert.equal(ssl.rows[0]?.ssl, true, 'the proxy’s session upstream is encrypted');
    } finally {
      await client.end();
    }
  });

  it('refuses to log in upstream when the certificate is not trusted, with 08006', async () => {
    // The session on its own, with no CA given: Node's bundled roots do not know the test's CA.
    const { runSession } = await import('../../src/proxy/session.js');
    const { createServer } = await import('node:net');
    const server = createServer((socket) => {
      void runSession(socket, {
        clock: systemClock,
        upstream: { host: '127.0.0.1', port: proxy.cluster.current.port },
        tls: 'verify-full',
        clientAuth: 'none',
        checkToken: () => false,
        credential: () => Promise.resolve({ dbUser: 'nobody', dbPassword: 'x' }),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      await assert.rejects(connect(port), (error: { code?: string; message: string }) => {
        assert.equal(error.code, '08006');
        assert.match(error.message, /cannot reach the database.*certificate/);
        return true;
      });
    } finally {
      server.close();
    }
  });
});

describe('pgpass sink: libpq logs in with no password given', function () {
  this.timeout(60_000);
  const cluster = usePostgres({ passwordEncryption: 'scram-sha-256' });

  it('psql reads the sink written for the target and logs in as its dbUser', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'credcache-pgpass-'));
    const emulator = await startEmulator({
      host: '127.0.0.1',
      port: 0,
      postgres: cluster.current.url,
    });
    const daemon = await startDaemon({
      config: buildConfig({
        listen: '127.0.0.1:0',
        auth: { token: TOKEN },
        targets: [
          {
            name: 'warehouse',
            source: 'redshift_serverless',
            workgroupName: 'analytics',
            dbName: 'dev',
          },
        ],
        sinks: [{ target: 'warehouse', path: join(dir, 'pgpass'), format: 'pgpass' }],
        log: { level: 'silent' },
      }),
      upstream: { kind: 'emulator', url: emulator.url, ...EMULATOR_CLIENT },
      logger: createLogger('silent'),
      env: {},
    });
    try {
      const served = (await (
        await fetch(`${daemon.url}/v1/targets/warehouse`, { headers: { authorization: TOKEN } })
      ).json()) as { dbUser: string };
      // The emulator's user holds a colon (IAMR:…), escaped in the sink as libpq reads it.
      assert.match(served.dbUser, /:/);
      const psql = await run(
        await findPsql(),
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(cluster.current.port),
          '-U',
          served.dbUser,
          '-d',
          'dev',
          '-w',
          '-Atc',
          'select current_user',
        ],
        { env: { PATH: '/usr/bin:/bin', PGPASSFILE: join(dir, 'pgpass') } },
      );
      assert.equal(psql.stdout.trim(), served.dbUser);
    } finally {
      await daemon.shutdown();
      await emulator.close();
    }
  });
});
