/**
 * Configuration reload in the running daemon (the SIGHUP path without the signal, which
 * test/cli/reload-command.test.ts sends to a real process): what a reload applies, what it
 * refuses, and that a refused one changes nothing.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { type Config, ConfigError, buildConfig } from '../../src/config/config.js';
import { TABLE_ARN, TARGETS, TOKEN, useDaemon } from '../support/daemon.js';

const BASE = { listen: '127.0.0.1:0', auth: { token: TOKEN }, log: { level: 'debug' } };
const OTHER_TABLE = 'arn:aws:glue:us-east-1:123456789012:table/sales/returns';

describe('daemon: configuration reload', () => {
  const daemon = useDaemon();
  const api = () => request(daemon.url);
  const get = (path: string, token = TOKEN) => api().get(path).set('Authorization', token);
  const reload = (document: Record<string, unknown>) =>
    daemon.current.reload(() => Promise.resolve(buildConfig({ ...BASE, ...document })));
  const logLines = () =>
    daemon.logs
      .flatMap((chunk) => chunk.split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const metric = async (series: string) => {
    const text = (await api().get('/metrics').expect(200)).text;
    const line = text.split('\n').find((row) => row.startsWith(series));
    return line === undefined ? undefined : Number(line.slice(series.length).trim());
  };

  it('adds, removes and changes targets: served at once, loaded with no client asking', async () => {
    const targets = [
      ...TARGETS.filter((target) => target.name !== 'warehouse'),
      { name: 'returns', source: 'lakeformation_table', tableArn: OTHER_TABLE },
    ];
    const outcome = await reload({ targets });
    assert.equal(outcome.outcome, 'success');
    assert.ok(outcome.outcome === 'success');
    assert.deepEqual(outcome.targets, { added: ['returns'], removed: ['warehouse'], changed: [] });
    await get('/v1/targets/warehouse').expect(404);
    // Its standing job loads it; /readyz says when.
    for (let i = 0; i < 50 && (await api().get('/readyz')).status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const total = async () => ((await daemon.control('calls')).body as { total: number }).total;
    const loadedBefore = await total();
    const returns = await get('/v1/targets/returns').expect(200);
    assert.equal(returns.headers['x-credcache-result'], 'hit', 'loaded before any client asked');
    assert.equal(await total(), loadedBefore);

    const changed = await reload({
      targets: targets.map((target) =>
        target.name === 'returns' ? { ...target, durationSeconds: 1800 } : target,
      ),
    });
    assert.ok(changed.outcome === 'success');
    assert.deepEqual(changed.targets.changed, ['returns']);
    assert.equal(await metric('credcache_config_reloads_total{outcome="success"}'), 2);
  });

  it('a configuration that fails validation changes nothing and is logged with its reasons', async () => {
    const failing = await daemon.current.reload(() =>
      Promise.resolve(
        buildConfig({ ...BASE, targets: [{ name: 'Bad Name', source: 'lakeformation_table' }] }),
      ),
    );
    assert.equal(failing.outcome, 'failure');
    assert.ok(failing.outcome === 'failure');
    assert.ok(
      failing.problems.some((problem) => problem.includes('targets[0].name')),
      failing.problems.join('\n'),
    );
    await get('/v1/targets/orders').expect(200);
    await get('/v1/targets/warehouse').expect(200);
    const refused = logLines().find(
      (line) => line.msg === 'configuration reload refused; the running configuration is kept',
    );
    assert.ok(refused, 'the refusal is logged');
    assert.ok(JSON.stringify(refused.problems).includes('targets[0].name'));
    assert.equal(await metric('credcache_config_reloads_total{outcome="failure"}'), 1);
    assert.equal(await metric('credcache_config_reloads_total{outcome="success"}'), 0);
  });

  it('a file that cannot be read is refused the same way', async () => {
    const outcome = await daemon.current.reload(() =>
      Promise.reject(new ConfigError(['file not found'], '/nowhere/credcache.yaml')),
    );
    assert.deepEqual(outcome, {
      outcome: 'failure',
      problems: ['/nowhere/credcache.yaml: file not found'],
    });
    await get('/v1/targets/orders').expect(200);
  });

  it('applies a new allow-list and token at once, and never logs the token', async () => {
    const newToken = 'reloaded-token-0123456789abcdef';
    const outcome = await reload({
      auth: { token: newToken },
      allow: { tables: [TABLE_ARN], workgroups: ['analytics'] },
      targets: TARGETS,
    });
    assert.equal(outcome.outcome, 'success');
    await get('/v1/targets/orders').expect(401);
    await get('/v1/targets/orders', newToken).expect(200);
    // Asked for before the reload under the old rules, now outside the allow-list.
    const other = `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(OTHER_TABLE)}`;
    const refused = await get(other, newToken).expect(403);
    assert.equal(refused.body.error.code, 'Forbidden');
    const text = daemon.logs.join('');
    assert.ok(!text.includes(newToken) && !text.includes(TOKEN), 'no token in the logs');
  });

  it('names settings that need a restart and keeps their running values', async () => {
    const outcome = await reload({
      targets: TARGETS,
      cache: { maxEntries: 5 },
      upstream: { maxConcurrent: 3, durationSeconds: 1800 },
    });
    assert.ok(outcome.outcome === 'success');
    assert.deepEqual(outcome.restartNeeded, ['cache.maxEntries', 'upstream.maxConcurrent']);
    const warning = logLines().find((line) => Array.isArray(line.settings));
    assert.deepEqual(warning?.settings, ['cache.maxEntries', 'upstream.maxConcurrent']);
    // durationSeconds is applied: a query without one now asks for 1800 s.
    const response = await get(
      `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(OTHER_TABLE)}`,
    ).expect(200);
    const issued = (await daemon.control(`credentials/${response.body.AccessKeyId}`)).body as {
      issuedAt: string;
      expiration: string;
    };
    assert.equal((Date.parse(issued.expiration) - Date.parse(issued.issuedAt)) / 1000, 1800);
  });

  it('applies a new log level', async () => {
    const before = logLines().length;
    await reload({ targets: TARGETS, log: { level: 'warn' } });
    await get('/v1/lakeformation/table-credentials?tableArn=' + encodeURIComponent(OTHER_TABLE));
    const after = logLines().slice(before + 1);
    assert.ok(
      after.every((line) => line.level !== 'debug' && line.level !== 'info'),
      JSON.stringify(after),
    );
  });

  it('reloads asked for while one runs are joined into one more, in order', async () => {
    let release: (config: Config) => void = () => undefined;
    const first = daemon.current.reload(
      () => new Promise<Config>((resolve) => (release = resolve)),
    );
    let loads = 0;
    const load = () => {
      loads += 1;
      return Promise.resolve(buildConfig({ ...BASE, targets: TARGETS }));
    };
    await new Promise((resolve) => setImmediate(resolve)); // the first has begun its load
    const second = daemon.current.reload(load);
    const third = daemon.current.reload(load);
    assert.notEqual(second, first);
    assert.equal(second, third, 'the waiting reload is joined');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(loads, 0, 'the second waits for the first to end');
    release(buildConfig({ ...BASE, targets: TARGETS }));
    await Promise.all([first, second]);
    assert.equal(loads, 1);
  });
});
