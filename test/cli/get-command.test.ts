/**
 * `credcache get TARGET --format process|env|json` as a process against `credcache serve
 * --emulator` (also a process): credential_process JSON by default, shell assignments that `sh`
 * evaluates back to the same values, and the daemon's answer as it came.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  BIN,
  ENV,
  type DaemonProcess,
  serveProcess,
  stopProcess,
  writeConfig,
} from '../support/process.js';

const run = promisify(execFile);
const TOKEN = 'get-command-token-0123456789';
const CONFIG = `
listen: 127.0.0.1:0
auth:
  token: ${TOKEN}
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
    dbName: dev
`;

describe('credcache get --format (process)', function () {
  this.timeout(30_000);
  let daemon: DaemonProcess;
  let file: string;

  before(async () => {
    ({ file } = await writeConfig(CONFIG));
    daemon = await serveProcess(['--emulator', '--config', file]);
  });
  after(async () => {
    await stopProcess(daemon);
  });

  /** `credcache get ARGS` against the daemon (its address from the environment). */
  const get = (...args: string[]) =>
    run(process.execPath, [BIN, 'get', ...args, '--config', file], {
      env: { ...ENV, CREDCACHE_LISTEN: daemon.url.slice('http://'.length) },
    });
  const served = async (name: string) =>
    (await (
      await fetch(`${daemon.url}/v1/targets/${name}`, { headers: { authorization: TOKEN } })
    ).json()) as Record<string, string>;

  it('prints credential_process JSON by default and with --format process', async () => {
    const target = await served('orders');
    for (const args of [[], ['--format', 'process']]) {
      const { stdout } = await get('orders', ...args);
      assert.deepEqual(JSON.parse(stdout), {
        Version: 1,
        AccessKeyId: target.AccessKeyId,
        SecretAccessKey: target.SecretAccessKey,
        SessionToken: target.Token,
        Expiration: target.Expiration,
      });
    }
  });

  it('prints the daemon’s answer with --format json', async () => {
    const { stdout } = await get('warehouse', '--format', 'json');
    assert.deepEqual(JSON.parse(stdout), await served('warehouse'));
  });

  it('prints shell assignments that sh evaluates back to the credential', async () => {
    const target = await served('orders');
    const { stdout } = await get('orders', '--format', 'env');
    assert.match(stdout, /^AWS_ACCESS_KEY_ID='ASIA[^']*'\nAWS_SECRET_ACCESS_KEY='/);
    const command = `eval "$(${[process.execPath, BIN, 'get', 'orders', '--format', 'env', '--config', file].map((word) => `'${word}'`).join(' ')})" && printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"`;
    const shell = await run('/bin/sh', ['-c', command], {
      env: { ...ENV, CREDCACHE_LISTEN: daemon.url.slice('http://'.length) },
    });
    assert.deepEqual(shell.stdout.split('\n').slice(0, 3), [
      target.AccessKeyId,
      target.SecretAccessKey,
      target.Token,
    ]);
  });

  it('prints PGUSER and PGPASSWORD for a Redshift target', async () => {
    const target = await served('warehouse');
    const { stdout } = await get('warehouse', '--format', 'env');
    const shell = await run('/bin/sh', ['-c', `${stdout}\nprintf '%s\\n' "$PGUSER" "$PGPASSWORD"`]);
    assert.deepEqual(shell.stdout.split('\n').slice(0, 2), [target.dbUser, target.dbPassword]);
  });

  it('refuses another format in one line, exit non-zero', async () => {
    await assert.rejects(
      get('orders', '--format', 'yaml'),
      (error: { code: number; stderr: string }) => {
        assert.notEqual(error.code, 0);
        assert.match(error.stderr, /--format/);
        assert.match(error.stderr, /process, env, json/);
        return true;
      },
    );
  });
});
