/**
 * Metrics scraped from the real daemon: a known sequence of requests gives exact counter
 * values, and a flood of distinct malformed or unknown keys adds no series.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

/** `name{labels} value` lines of a Prometheus exposition, by series. */
function series(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

const table = (name: string) => `arn:aws:glue:us-east-1:123456789012:table/sales/${name}`;
const path = (name: string) =>
  `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(table(name))}`;
const T = 'source="lakeformation_table"';

describe('daemon metrics', function () {
  this.timeout(30_000);
  const daemon = useDaemon({ targets: [], cache: { maxEntries: 2 }, upstream: { maxAttempts: 1 } });
  const get = (p: string) => request(daemon.url).get(p).set('Authorization', TOKEN);
  const scrape = async () => series((await request(daemon.url).get('/metrics').expect(200)).text);

  it('count a known sequence exactly', async () => {
    await get(path('a')).expect(200); // miss
    await get(path('a')).expect(200); // hit
    await get(path('a')).expect(200); // hit
    // The upstream answer takes 300 ms, so the three requests surely meet in flight.
    await daemon.control('faults', { operation: '*', mode: 'latency', latencyMs: 300, count: 1 });
    await Promise.all([get(path('b')), get(path('b')), get(path('b'))]); // miss + 2 coalesced
    await daemon.control('faults', {
      operation: '*',
      mode: 'error',
      errorType: 'AccessDeniedException',
      count: 1,
    });
    await get(path('c')).expect(403); // miss, upstream denies
    await get(path('c')).expect(403); // negative
    const a = daemon.current.engine.cache
      .entries()
      .find((e) => 'tableArn' in e.key.request && e.key.request.tableArn === table('a'));
    assert.ok(a);
    await daemon.current.engine.cache.refresh(a.key); // background refresh (no use: a keeps its LRU place)
    await get(path('d')).expect(200); // miss; the cache holds 2: the least recently used goes (lru)
    await get('/v1/targets/none').expect(404);
    await request(daemon.url).get('/v1/targets/none').expect(401);

    const m = await scrape();
    const expected: [string, number][] = [
      [`credcache_cache_requests_total{${T},result="hit"}`, 2],
      [`credcache_cache_requests_total{${T},result="miss"}`, 4],
      [`credcache_cache_requests_total{${T},result="coalesced"}`, 2],
      [`credcache_cache_requests_total{${T},result="negative"}`, 1],
      [`credcache_cache_requests_total{${T},result="stale"}`, 0],
      [`credcache_upstream_requests_total{${T},outcome="success"}`, 4],
      [`credcache_upstream_requests_total{${T},outcome="AccessDeniedException"}`, 1],
      [`credcache_upstream_request_duration_seconds_count{${T}}`, 5],
      [`credcache_refreshes_total{${T},trigger="on_demand",outcome="success"}`, 3],
      [`credcache_refreshes_total{${T},trigger="on_demand",outcome="failure"}`, 1],
      [`credcache_refreshes_total{${T},trigger="background",outcome="success"}`, 1],
      [`credcache_evictions_total{${T},reason="lru"}`, 1],
      [`credcache_evictions_total{${T},reason="revoked"}`, 0],
      [`credcache_cache_entries{${T}}`, 2],
      ['credcache_http_requests_total{route="/v1/lakeformation/table-credentials",code="200"}', 7],
      ['credcache_http_requests_total{route="/v1/lakeformation/table-credentials",code="403"}', 2],
      ['credcache_http_requests_total{route="/v1/targets/:name",code="404"}', 1],
      ['credcache_http_requests_total{route="/v1/targets/:name",code="401"}', 1],
      [
        'credcache_http_request_duration_seconds_count{route="/v1/lakeformation/table-credentials"}',
        9,
      ],
      ['credcache_ready', 1],
    ];
    for (const [name, value] of expected) assert.equal(m.get(name), value, name);
  });

  it('grow no series under 10,000 requests with distinct malformed or unknown keys', async () => {
    const arn = encodeURIComponent(TABLE_ARN);
    const requests: ((i: number) => [string, RequestInit])[] = [
      (i) => [`/v1/targets/unknown-${i}`, {}],
      (i) => [`/v1/lakeformation/table-credentials?tableArn=bad-${i}`, {}],
      (i) => [`/v1/lakeformation/partition-credentials?tableArn=${arn}&values=v${i}&x${i}=1`, {}],
      (i) => [`/v1/redshift-serverless/credentials?workgroupName=BAD_${i}`, {}],
      (i) => [`/unknown/path/${i}?tableArn=${i}`, {}],
      (i) => [
        '/v1/lakeformation/table-credentials',
        { method: 'POST', body: JSON.stringify({ TableArn: `x${i}` }) },
      ],
    ];
    const send = async (i: number) => {
      const make = requests[i % requests.length];
      assert.ok(make);
      const [p, init] = make(i);
      const response = await fetch(`${daemon.url}${p}`, {
        ...init,
        headers: { authorization: TOKEN, 'content-type': 'application/json' },
      });
      await response.arrayBuffer();
      assert.ok(response.status >= 400 && response.status < 500, `${p}: ${response.status}`);
    };
    for (let i = 0; i < 60; i++) await send(i); // every kind of request, and status, seen
    await scrape(); // the scrape's own series
    const before = await scrape();
    let next = 60;
    const worker = async () => {
      while (next < 10_060) await send(next++);
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const after = await scrape();
    // (prom-client's own process series, such as GC kinds, appear as the runtime uses them.)
    assert.deepEqual(
      [...after.keys()].filter((name) => name.startsWith('credcache_') && !before.has(name)),
      [],
      'no new credcache series',
    );
    for (const name of after.keys()) {
      assert.ok(!/arn:|unknown-|bad-|BAD_|x\d/.test(name), `a request value leaked into ${name}`);
    }
  });
});
