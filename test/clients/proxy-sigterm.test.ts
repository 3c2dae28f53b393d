/**
 * SIGTERM with queries running through the proxy, the daemon a real process (`bin/credcache.js
 * serve --config …`, built in dist/: `npm run build` first) against the emulator (in this
 * process) backed by a throwaway PostgreSQL. A query running at SIGTERM finishes within the
 * grace period; new proxy connections are refused from the drain's start; a second SIGTERM
 * changes nothing; a query longer than `shutdownGraceSeconds` is cut and the process is gone
 * within the grace period anyway.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { EMULATOR_CLIENT, type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { usePostgres } from '../support/postgres.js';
import {
  type DaemonProcess,
  ENV,
  serveProcess,
  stopProcess,
  writeConfig,
} from '../support/process.js';
import { freePort } from './helpers.js';
import { TOKEN, eventually, upstreamSessions } from './proxy-setup.js';

describe('proxy: SIGTERM drain, the daemon as a process (PostgreSQL)', function () {
  this.timeout(90_000);
  const cluster = usePostgres({ passwordEncryption: 'scram-sha-256' });
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;
  before(async () => {
    emulator = await startEmulator({ host: '127.0.0.1', port: 0, postgres: cluster.current.url });
  });
  afterEach(async () => {
    if (daemon) await stopProcess(daemon, 'SIGKILL');
    daemon = undefined;
  });
  after(async () => {
    await emulator?.close();
  });

  async function start(graceSeconds: number): Promise<{ port: number }> {
    const url = emulator?.url ?? assert.fail('no emulator');
    const port = await freePort();
    const { file } = await writeConfig(`
listen: 127.0.0.1:0
shutdownGraceSeconds: ${graceSeconds}
auth:
  token: ${TOKEN}
log:
  level: info
upstream:
  region: us-east-1
  lakeFormationEndpoint: ${url}
  redshiftServerlessEndpoint: ${url}
targets:
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
    dbName: dev
proxies:
  - target: warehouse
    listen: 127.0.0.1:${port}
    upstream: 127.0.0.1:${cluster.current.port}
    tls: disable
`);
    daemon = await serveProcess(['--config', file], {
      ...ENV,
      AWS_ACCESS_KEY_ID: EMULATOR_CLIENT.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CLIENT.credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    return { port };
  }

  const client = (port: number) =>
    new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'anyone',
      password: TOKEN,
      database: 'dev',
      connectionTimeoutMillis: 5_000,
    });

  /** Resolves once PostgreSQL runs `text` for one of the emulator's users. */
  const running = (text: string) =>
    eventually(async () => {
      const { rows } = await cluster.current.query<{ count: string }>(
        "select count(*) as count from pg_stat_activity where usename like 'IAM%' and state = 'active' and query = $1",
        [text],
      );
      return Number(rows[0]?.count) === 1;
    }, `${text} running`);

  it('a running select pg_sleep(2) finishes; new connections are refused; a second SIGTERM changes nothing', async () => {
    const { port } = await start(10);
    const process = daemon ?? assert.fail('not started');
    const session = client(port);
    await session.connect();
    const query = session.query<{ done: string }>("select 'done' as done from pg_sleep(2)");
    await running("select 'done' as done from pg_sleep(2)");
    const signalled = performance.now();
    process.child.kill('SIGTERM');
    await process.waitFor('shutting down');
    // The drain has begun: the proxy's listener is closed.
    await assert.rejects(client(port).connect(), (error: { code?: string }) => {
      assert.equal(error.code, 'ECONNREFUSED');
      return true;
    });
    process.child.kill('SIGTERM');
    const { rows } = await query;
    assert.deepEqual(rows, [{ done: 'done' }], 'the query running at SIGTERM finished');
    assert.match(process.stderr(), /SIGTERM while shutting down; the shutdown goes on/);
    await session.end();
    const [code, signal] = await process.exited;
    const elapsed = performance.now() - signalled;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(elapsed < 10_000, `exited ${Math.round(elapsed)} ms after SIGTERM`);
    assert.ok(process.logs.some((line) => line.msg === 'stopped'));
    await eventually(async () => (await upstreamSessions(cluster.current)) === 0, 'no session');
  });

  it('a query longer than shutdownGraceSeconds is cut, and the process exits within it', async () => {
    const graceSeconds = 2;
    const { port } = await start(graceSeconds);
    const process = daemon ?? assert.fail('not started');
    const session = client(port);
    session.on('error', () => undefined);
    await session.connect();
    const query = session.query('select pg_sleep(30)');
    await running('select pg_sleep(30)');
    const signalled = performance.now();
    process.child.kill('SIGTERM');
    const [[code], cut] = await Promise.all([
      process.exited,
      query.then(
        () => 'finished',
        (error: Error) => error.message,
      ),
    ]);
    const elapsed = performance.now() - signalled;
    assert.match(cut, /Connection terminated/);
    assert.equal(code, 0);
    assert.ok(
      elapsed < graceSeconds * 1000,
      `exited ${Math.round(elapsed)} ms after SIGTERM, grace ${graceSeconds} s`,
    );
    assert.ok(elapsed > graceSeconds * 1000 - 500, 'the session had the grace period');
  });
});
