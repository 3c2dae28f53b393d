/**
 * File sinks in the running daemon against the built-in emulator: written at start, rewritten
 * before a new credential is served, with the mode asked for; a failed write counted and logged
 * without the secret; a reader never sees an empty or partial file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildConfig } from '../../src/config/config.js';
import { TARGETS, TOKEN, useDaemon } from '../support/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'credcache-sinks-'));
const path = (name: string) => join(dir, name);
mkdirSync(path('ok'));
writeFileSync(path('not-a-folder'), 'a regular file\n');

const SINKS = [
  { target: 'orders', path: path('ok/orders.json'), format: 'json' },
  {
    target: 'orders',
    path: path('ok/orders.credentials'),
    format: 'aws-credentials',
    mode: '0640',
  },
  { target: 'warehouse', path: path('ok/pgpass'), format: 'pgpass' },
  { target: 'orders', path: path('not-a-folder/orders.env'), format: 'env' },
];

interface Served {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly Token: string;
}

describe('file sinks (daemon)', function () {
  this.timeout(30_000);
  const daemon = useDaemon({ cache: { refreshNowMinIntervalSeconds: 0 }, sinks: SINKS });

  const request = async (method: string, route: string): Promise<Record<string, unknown>> => {
    const response = await fetch(`${daemon.url}${route}`, {
      method,
      headers: { authorization: TOKEN },
    });
    assert.equal(response.status, 200, route);
    return (await response.json()) as Record<string, unknown>;
  };

  const writes = async (sink: string, outcome: string): Promise<number> => {
    const metric = await daemon.current.registry
      .getSingleMetric('credcache_sink_writes_total')
      ?.get();
    return (
      metric?.values.find((v) => v.labels.sink === sink && v.labels.outcome === outcome)?.value ??
      assert.fail(`no series for ${sink} ${outcome}`)
    );
  };

  it('writes each sink at start: the served credential, in its format and mode', async () => {
    const served = (await request('GET', '/v1/targets/orders')) as unknown as Served;
    assert.deepEqual(JSON.parse(readFileSync(path('ok/orders.json'), 'utf8')), served);
    assert.equal(statSync(path('ok/orders.json')).mode & 0o777, 0o600);
    const ini = readFileSync(path('ok/orders.credentials'), 'utf8');
    assert.match(
      ini,
      new RegExp(`^\\[orders\\]\naws_access_key_id = ${served.AccessKeyId}\n`, 'm'),
    );
    assert.ok(ini.includes(`aws_session_token = ${served.Token}\n`));
    assert.equal(statSync(path('ok/orders.credentials')).mode & 0o777, 0o640);
    const db = await request('GET', '/v1/targets/warehouse');
    const escape = (value: unknown) => String(value).replace(/[\\:]/g, (c) => `\\${c}`);
    assert.equal(
      readFileSync(path('ok/pgpass'), 'utf8'),
      `*:*:dev:${escape(db.dbUser)}:${escape(db.dbPassword)}\n`,
    );
    assert.equal(await writes('sinks[0]', 'success'), 1);
    assert.equal(await writes('sinks[2]', 'success'), 1);
  });

  it('holds a forced refresh’s credential by the time it is served', async () => {
    for (let round = 0; round < 5; round += 1) {
      const served = await request('POST', '/v1/targets/orders/refresh');
      const onDisk = JSON.parse(readFileSync(path('ok/orders.json'), 'utf8')) as Served;
      assert.equal(onDisk.AccessKeyId, served.AccessKeyId, `round ${round}`);
      const fresh = await request('GET', '/v1/targets/orders?refreshNow=true');
      const after = JSON.parse(readFileSync(path('ok/orders.json'), 'utf8')) as Served;
      assert.equal(after.AccessKeyId, fresh.AccessKeyId);
      assert.notEqual(fresh.AccessKeyId, served.AccessKeyId, 'a new credential each time');
    }
    assert.equal(await writes('sinks[0]', 'success'), 11);
  });

  it('counts and logs a failed write (folder is a file) without the secret; other sinks go on', async () => {
    const served = (await request('POST', '/v1/targets/orders/refresh')) as unknown as Served;
    assert.equal(await writes('sinks[3]', 'failure'), 2, 'at start and at the refresh');
    assert.equal(await writes('sinks[3]', 'success'), 0);
    const lines = daemon.logs.filter((line) => line.includes('sink write failed'));
    assert.equal(lines.length, 2);
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(line.sink, 'sinks[3]');
    assert.equal(line.error, 'ENOTDIR');
    assert.equal(line.path, path('not-a-folder/orders.env'));
    for (const log of daemon.logs) {
      assert.ok(!log.includes(served.SecretAccessKey) && !log.includes(served.Token), log);
    }
    const onDisk = JSON.parse(readFileSync(path('ok/orders.json'), 'utf8')) as Served;
    assert.equal(onDisk.AccessKeyId, served.AccessKeyId);
  });

  it('a reader hammering a sink during forced refreshes never sees it empty or partial', async () => {
    const worker = new Worker(
      `
      const { readFileSync } = require('node:fs');
      const { parentPort, workerData } = require('node:worker_threads');
      let stop = false, reads = 0, bad = [], keys = new Set();
      parentPort.on('message', () => { stop = true; });
      (async function loop() {
        while (!stop) {
          for (let i = 0; i < 200; i += 1) {
            reads += 1;
            const text = readFileSync(workerData, 'utf8');
            try { keys.add(JSON.parse(text).AccessKeyId); }
            catch { bad.push(text.length); }
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        parentPort.postMessage({ reads, bad, keys: keys.size });
      })();
      `,
      { eval: true, workerData: path('ok/orders.json') },
    );
    const result = new Promise<{ reads: number; bad: number[]; keys: number }>(
      (resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      },
    );
    for (let round = 0; round < 40; round += 1) {
      await request('POST', '/v1/targets/orders/refresh');
    }
    worker.postMessage('stop');
    const { reads, bad, keys } = await result;
    await worker.terminate();
    assert.deepEqual(bad, [], 'every read parsed as a whole credential');
    assert.ok(reads > 1_000, `the reader read ${reads} times`);
    assert.ok(keys > 1, `the reader saw ${keys} credentials change under it`);
  });

  it('follows a reload: a new sink is written at once from the credential held', async () => {
    const added = { target: 'orders', path: path('ok/orders.process'), format: 'process' };
    const outcome = await daemon.current.reload(() =>
      Promise.resolve(
        buildConfig({
          listen: '127.0.0.1:0',
          auth: { token: TOKEN },
          targets: TARGETS,
          cache: { refreshNowMinIntervalSeconds: 0 },
          sinks: [added],
          log: { level: 'debug' },
        }),
      ),
    );
    assert.equal(outcome.outcome, 'success');
    assert.ok(outcome.outcome === 'success' && !outcome.restartNeeded.includes('sinks'));
    const served = (await request('GET', '/v1/targets/orders')) as unknown as Served;
    const written = JSON.parse(readFileSync(added.path, 'utf8')) as Record<string, unknown>;
    assert.equal(written.Version, 1);
    assert.equal(written.AccessKeyId, served.AccessKeyId);
    assert.equal(await writes('sinks[0]', 'success'), 2, 'sinks[0] is now the new sink');
    const refreshed = await request('POST', '/v1/targets/orders/refresh');
    assert.equal(
      (JSON.parse(readFileSync(added.path, 'utf8')) as Record<string, unknown>).AccessKeyId,
      refreshed.AccessKeyId,
    );
  });
});
