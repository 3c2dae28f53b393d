/**
 * `credcache serve --emulator --emulator-postgres URL` as a real process (bin/credcache.js, built
 * from dist/): the in-process emulator backed by a throwaway PostgreSQL, a proxy in the config,
 * and psql through the proxy logging in as the target's dbUser. The start-up line names the
 * database as it names the emulator's URL, and the superuser's password appears in no output.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BIN,
  type DaemonProcess,
  ENV,
  serveProcess,
  stopProcess,
  writeConfig,
} from '../support/process.js';
import { findPsql, run, usePostgres } from '../support/postgres.js';
import { freePort, runProcess } from './helpers.js';

describe('credcache serve --emulator --emulator-postgres URL (process)', function () {
  this.timeout(120_000);
  const cluster = usePostgres({ passwordEncryption: 'scram-sha-256' });
  let daemon: DaemonProcess | undefined;
  after(async () => {
    if (daemon) await stopProcess(daemon);
  });

  it("psql through the proxy is the target's dbUser; the start-up line names the database, never its password", async () => {
    const { url, password, port: databasePort } = cluster.current;
    assert.ok(url.includes(encodeURIComponent(password)), 'the URL carries the password');
    const proxyPort = await freePort();
    const { dir, file } = await writeConfig(
      [
        'listen: 127.0.0.1:0',
        'auth:',
        '  tokenFile: run/token',
        'targets:',
        '  - name: warehouse',
        '    source: redshift_serverless',
        '    workgroupName: analytics',
        '    dbName: dev',
        'proxies:',
        '  - target: warehouse',
        `    listen: 127.0.0.1:${proxyPort}`,
        `    upstream: 127.0.0.1:${databasePort}`,
        '    tls: disable',
        '',
      ].join('\n'),
    );
    daemon = await serveProcess(['--config', file, '--emulator', '--emulator-postgres', url]);
    const upstream = daemon.started.upstream as Record<string, unknown>;
    assert.equal(upstream.kind, 'emulator');
    assert.equal(
      upstream.database,
      `postgres://${cluster.current.user}:***@127.0.0.1:${databasePort}/postgres`,
    );

    const token = await readFile(join(dir, 'run/token'), 'utf8');
    const served = (await (
      await fetch(`${daemon.url}/v1/targets/warehouse`, { headers: { authorization: token } })
    ).json()) as { dbUser: string };
    assert.match(served.dbUser, /^IAMR:/);
    const psql = await run(
      await findPsql(),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(proxyPort),
        '-U',
        'app',
        '-d',
        'dev',
        '-w',
        '-Atc',
        'select current_user',
      ],
      { env: { PATH: '/usr/bin:/bin', PGPASSWORD: token, PGCONNECT_TIMEOUT: '10' } },
    );
    assert.equal(psql.stdout.trim(), served.dbUser);

    const running = daemon;
    daemon = undefined;
    assert.deepEqual(await stopProcess(running), [0, null]);
    const output = `${JSON.stringify(running.logs)}\n${running.stderr()}`;
    for (const secret of [password, encodeURIComponent(password)]) {
      assert.ok(!output.includes(secret), "the superuser's password is never logged");
    }
    assert.ok(!output.includes(token), 'nor is the token');
    assert.ok(output.includes('***@127.0.0.1'), 'the database is named');
  });

  it('exits 1 with one line naming the database without its password when it cannot connect', async () => {
    const { file } = await writeConfig('listen: 127.0.0.1:0\nauth:\n  disabled: true\n');
    const wrong = cluster.current.url.replace(
      encodeURIComponent(cluster.current.password),
      'not-the-password-0123',
    );
    const result = await runProcess(
      process.execPath,
      [BIN, 'serve', '--config', file, '--emulator', '--emulator-postgres', wrong],
      ENV,
      30_000,
    );
    assert.equal(result.exitCode, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^credcache: cannot connect to PostgreSQL at postgres:\/\/\w+:\*\*\*@127\.0\.0\.1:\d+\/postgres: password authentication failed/,
    );
    assert.ok(!result.stderr.includes('not-the-password-0123'), result.stderr);
  });
});
