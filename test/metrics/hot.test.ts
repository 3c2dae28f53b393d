/**
 * The hot-path counters and histogram answer a scrape exactly as prom-client's own classes do
 * for the same observations: the same exposition text, the same JSON, series shown from their
 * first count on.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../src/metrics/hot.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
const ROUTES = ['/v1/targets/:name', '/healthz', 'unmatched'];
const CODES = ['200', '401', '404'];

function pair() {
  const reference = new Registry();
  const hot = new Registry();
  return {
    reference,
    hot,
    promCounter: new Counter({
      name: 'requests_total',
      help: 'Requests.',
      labelNames: ['route', 'code'] as const,
      registers: [reference],
    }),
    promHistogram: new Histogram({
      name: 'duration_seconds',
      help: 'Durations.',
      labelNames: ['route'] as const,
      buckets: BUCKETS,
      registers: [reference],
    }),
    hotCounter: new HotCounter('requests_total', 'Requests.', ['route', 'code'], hot),
    hotHistogram: new HotHistogram('duration_seconds', 'Durations.', ['route'], BUCKETS, hot),
  };
}

describe('metrics: hot counters and histogram', () => {
  it('scrape to the same text and JSON as prom-client for any observations (property)', async () => {
    const observation = fc.record({
      route: fc.constantFrom(...ROUTES),
      code: fc.constantFrom(...CODES),
      // Bucket bounds themselves included: a value equal to a bound falls in that bucket.
      seconds: fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 20, noNaN: true })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const metrics = pair();
        for (const { route, code, seconds } of observations) {
          metrics.promCounter.labels({ route, code }).inc();
          metrics.promHistogram.labels({ route }).observe(seconds);
          metrics.hotCounter.labels({ route, code }).inc();
          metrics.hotHistogram.labels({ route }).observe(seconds);
        }
        assert.equal(await metrics.hot.metrics(), await metrics.reference.metrics());
        assert.deepEqual(
          await metrics.hot.getMetricsAsJSON(),
          await metrics.reference.getMetricsAsJSON(),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('show a series from its first count, even by 0, and not before', async () => {
    const metrics = pair();
    const hotChild = metrics.hotCounter.labels({ route: '/healthz', code: '200' });
    metrics.hotHistogram.labels({ route: '/healthz' });
    assert.equal(await metrics.hot.metrics(), await metrics.reference.metrics());
    hotChild.inc(0);
    metrics.promCounter.labels({ route: '/healthz', code: '200' }).inc(0);
    assert.equal(await metrics.hot.metrics(), await metrics.reference.metrics());
    assert.match(await metrics.hot.metrics(), /requests_total\{route="\/healthz",code="200"\} 0/);
  });
});
