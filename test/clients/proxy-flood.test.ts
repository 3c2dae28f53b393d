/**
 * The proxy under a flood, with clients that hang up, and cancelling queries through it, with
 * real clients (node-postgres, psql) and a real PostgreSQL (test/clients/proxy-setup.ts). What
 * is left upstream is read from PostgreSQL's own `pg_stat_activity`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import pg from 'pg';
import { passwordMessage, startupMessage } from '../../src/proxy/wire.js';
import { findPsql } from '../support/postgres.js';
import {
  TOKEN,
  connect,
  eventually,
  proxyMetrics,
  upstreamSessions,
  useProxy,
} from './proxy-setup.js';

const MAX_CONNECTIONS = 10;

describe('proxy: a flood of connections, and clients that hang up (PostgreSQL)', function () {
  this.timeout(120_000);
  const proxy = useProxy(
    { passwordEncryption: 'scram-sha-256' },
    { maxConnections: MAX_CONNECTIONS },
  );

  it(`300 connections at once with maxConnections ${MAX_CONNECTIONS}: the others get 53300, the gauge returns to 0`, async () => {
    const { daemon, port } = proxy.current;
    const before = await proxyMetrics(daemon);
    const clients = Array.from(
      { length: 300 },
      () =>
        new pg.Client({
          host: '127.0.0.1',
          port,
          user: 'anyone',
          password: TOKEN,
          database: 'dev',
        }),
    );
    const started = performance.now();
    // Each logged-in client stays connected until every attempt has ended.
    const results = await Promise.allSettled(
      clients.map(async (client) => {
        await client.connect();
        return (await client.query<{ one: number }>('select 1 as one')).rows[0]?.one;
      }),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 10_000, `300 connections settled in ${Math.round(elapsed)} ms`);
    const worked = results.filter((result) => result.status === 'fulfilled' && result.value === 1);
    const codes = results
      .filter((result) => result.status === 'rejected')
      .map((result) => (result.reason as { code?: string }).code);
    assert.equal(worked.length, MAX_CONNECTIONS, `logged in and queried (${codes.join(',')})`);
    assert.deepEqual(new Set(codes), new Set(['53300']));
    assert.equal(codes.length, 300 - MAX_CONNECTIONS);
    const during = await proxyMetrics(daemon);
    assert.equal(during.active, MAX_CONNECTIONS);
    assert.equal(
      during.outcome('too_many_connections') - before.outcome('too_many_connections'),
      300 - MAX_CONNECTIONS,
    );
    assert.equal(await upstreamSessions(proxy.cluster.current), MAX_CONNECTIONS);
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await eventually(async () => (await proxyMetrics(daemon)).active === 0, 'the gauge at 0');
    await eventually(
      async () => (await upstreamSessions(proxy.cluster.current)) === 0,
      'no upstream session left',
    );
  });

  it('a client that hangs up during the upstream login leaves no session in pg_stat_activity', async () => {
    const { daemon, port } = proxy.current;
    const before = await proxyMetrics(daemon);
    for (let i = 0; i < 5; i++) {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(startupMessage({ user: 'anyone', database: 'dev' }));
      await once(socket, 'data'); // AuthenticationCleartextPassword
      // The token, and gone before the proxy's SCRAM login upstream can finish.
      socket.end(passwordMessage(TOKEN));
      socket.destroy();
    }
    await eventually(
      async () =>
        (await proxyMetrics(daemon)).outcome('client_gone') - before.outcome('client_gone') === 5,
      'five client_gone',
    );
    await eventually(async () => (await proxyMetrics(daemon)).active === 0, 'the gauge at 0');
    await eventually(
      async () => (await upstreamSessions(proxy.cluster.current)) === 0,
      'no upstream session left',
    );
    // And none comes back: nothing was left logging in.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await upstreamSessions(proxy.cluster.current), 0);
    assert.equal((await proxyMetrics(daemon)).outcome('success'), before.outcome('success'));
  });

  it('a client that hangs up mid-startup is client_gone and costs no upstream connection', async () => {
    const { daemon, port } = proxy.current;
    const before = await proxyMetrics(daemon);
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(startupMessage({ user: 'anyone', database: 'dev' }).subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await eventually(
      async () =>
        (await proxyMetrics(daemon)).outcome('client_gone') - before.outcome('client_gone') === 1,
      'client_gone',
      10_000,
      async () => `${(await proxyMetrics(daemon)).all} before ${before.all}`,
    );
    await eventually(async () => (await proxyMetrics(daemon)).active === 0, 'the gauge at 0');
    assert.equal(await upstreamSessions(proxy.cluster.current), 0);
  });
});

describe('proxy: CancelRequest end to end (PostgreSQL)', function () {
  this.timeout(60_000);
  const proxy = useProxy({ tls: true });

  /** Resolves once PostgreSQL runs `text` for one of the emulator's users. */
  const running = (text: string) =>
    eventually(async () => {
      const { rows } = await proxy.cluster.current.query<{ count: string }>(
        "select count(*) as count from pg_stat_activity where usename like 'IAM%' and state = 'active' and query = $1",
        [text],
      );
      return Number(rows[0]?.count) === 1;
    }, `${text} running`);

  it('node-postgres cancels select pg_sleep(30) through the proxy with its own cancel path: 57014', async () => {
    const { daemon, port } = proxy.current;
    const before = await proxyMetrics(daemon);
    const client = await connect(port);
    try {
      const started = performance.now();
      const sleep = client.query(new pg.Query('select pg_sleep(30)'));
      const query = new Promise((resolve, reject) => {
        sleep.on('end', resolve);
        sleep.on('error', reject);
      });
      await running('select pg_sleep(30)');
      // pg's own CancelRequest (Client.prototype.cancel): a new connection to the same host and
      // port, with the processID and secretKey the session got (upstream's, relayed untouched).
      const canceller = new pg.Client({ host: '127.0.0.1', port, user: 'anyone', database: 'dev' });
      (canceller as unknown as { cancel(client: pg.Client, query: pg.Query): void }).cancel(
        client,
        sleep,
      );
      await assert.rejects(query, (error: { code?: string }) => {
        assert.equal(error.code, '57014');
        return true;
      });
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 5_000, `cancelled after ${Math.round(elapsed)} ms`);
      // The session is still usable after the cancel.
      assert.equal((await client.query<{ one: number }>('select 1 as one')).rows[0]?.one, 1);
      await eventually(
        async () =>
          (await proxyMetrics(daemon)).outcome('cancel_forwarded') -
            before.outcome('cancel_forwarded') ===
          1,
        'cancel_forwarded counted',
      );
    } finally {
      await client.end();
    }
  });

  it('psql running select pg_sleep(30) gets SIGINT, sends a CancelRequest, reports the cancel', async () => {
    const { daemon, port } = proxy.current;
    const before = await proxyMetrics(daemon);
    const psql = spawn(
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
        'select pg_sleep(30)',
      ],
      {
        env: { PATH: '/usr/bin:/bin', PGPASSWORD: TOKEN, PGCONNECT_TIMEOUT: '10' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    psql.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(psql, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await running('select pg_sleep(30)');
      const started = performance.now();
      psql.kill('SIGINT');
      const [code] = await exited;
      const elapsed = performance.now() - started;
      assert.match(stderr, /canceling statement due to user request/);
      assert.equal(code, 1);
      assert.ok(elapsed < 5_000, `psql ended ${Math.round(elapsed)} ms after SIGINT`);
      await eventually(
        async () =>
          (await proxyMetrics(daemon)).outcome('cancel_forwarded') -
            before.outcome('cancel_forwarded') ===
          1,
        'cancel_forwarded counted',
        10_000,
        async () => `${(await proxyMetrics(daemon)).all} before ${before.all}`,
      );
      await eventually(async () => (await proxyMetrics(daemon)).active === 0, 'the gauge at 0');
    } finally {
      psql.kill('SIGKILL');
    }
  });
});
