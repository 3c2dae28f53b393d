/**
 * SIGHUP to `credcache serve` as a real process: the file is read again and applied; a file that
 * fails validation is refused with its reasons logged while the running configuration goes on;
 * signals in a row do not kill the process.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { type DaemonProcess, serveProcess, stopProcess, writeConfig } from '../support/process.js';

const TOKEN = 'reload-test-token-0123456789';
const TABLE = 'arn:aws:glue:us-east-1:123456789012:table/sales';

const config = (targets: string[], extra = '') => `
listen: 127.0.0.1:0
auth:
  token: ${TOKEN}
upstream:
  region: us-east-1
${extra}
targets:
${targets.map((name) => `  - { name: ${name}, source: lakeformation_table, tableArn: ${TABLE}/${name} }`).join('\n')}
`;

describe('credcache serve: SIGHUP reloads the configuration (real process)', function () {
  this.timeout(30_000);
  let daemon: DaemonProcess | undefined;
  afterEach(async () => {
    if (daemon) await stopProcess(daemon);
    daemon = undefined;
  });

  const target = (name: string) =>
    fetch(`${daemon?.url}/v1/targets/${name}`, { headers: { authorization: TOKEN } });
  /** The next line with `msg` logged after the `seen` first lines. */
  const next = async (msg: string, seen: number) => {
    for (let i = 0; i < 200; i++) {
      const line = daemon?.logs.slice(seen).find((entry) => entry.msg === msg);
      if (line) return line;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no "${msg}" after line ${seen}: ${JSON.stringify(daemon?.logs.slice(seen))}`);
  };

  it('applies a changed file, refuses a broken one and keeps running, and survives signals in a row', async () => {
    const { file } = await writeConfig(config(['orders']));
    daemon = await serveProcess(['--emulator', '--config', file]);
    assert.equal((await target('returns')).status, 404);

    await writeFile(file, config(['orders', 'returns']));
    let seen = daemon.logs.length;
    daemon.child.kill('SIGHUP');
    const reloaded = await next('configuration reloaded', seen);
    assert.deepEqual((reloaded.targets as { added: string[] }).added, ['returns']);
    assert.equal((await target('returns')).status, 200);

    await writeFile(file, config(['orders', 'returns'], 'cache:\n  maxEntriez: 5'));
    seen = daemon.logs.length;
    daemon.child.kill('SIGHUP');
    const refused = await next(
      'configuration reload refused; the running configuration is kept',
      seen,
    );
    assert.match(JSON.stringify(refused.problems), /cache\.maxEntriez: unknown field/);
    assert.equal((await target('returns')).status, 200, 'the running configuration goes on');

    await writeFile(file, config(['orders']));
    seen = daemon.logs.length;
    for (let i = 0; i < 3; i++) daemon.child.kill('SIGHUP');
    await next('configuration reloaded', seen);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(daemon.child.exitCode, null, 'still running after three SIGHUPs in a row');
    assert.equal((await target('returns')).status, 404);
    assert.equal((await target('orders')).status, 200);

    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    assert.match(metrics, /credcache_config_reloads_total\{outcome="failure"\} 1\n/);
    assert.match(metrics, /credcache_config_reloads_total\{outcome="success"\} [23]\n/);
    assert.match(metrics, /credcache_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1\n/);
    const [code] = await stopProcess(daemon);
    daemon = undefined;
    assert.equal(code, 0);
  });
});
