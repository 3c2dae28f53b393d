/**
 * The engine at shutdown, in virtual time (issue 14: a daemon with a slow upstream went on
 * refreshing through its grace period). `drain` (SIGTERM): no background refresh starts from
 * then on, and one under way that no client waits on is dropped; client misses still load.
 * `stop` (the grace deadline): every load still under way is dropped, its upstream call aborted.
 */
import assert from 'node:assert/strict';
import { LoadCancelled } from '../../src/cache/fetcher.js';
import { ManualClock } from '../../src/clock.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { MINUTE, fakeProviders, settle, table } from '../races/helpers.js';

describe('credential engine: drain, then stop', () => {
  it('after drain starts no refresh and drops the ones no client waits on; client misses load until stop aborts them', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7));
    const upstream = fakeProviders(clock, 10 * MINUTE);
    const orders = table('orders');
    const engine = createCredentialEngine({
      clock,
      providers: upstream.providers,
      minRemainingMs: MINUTE,
      targets: [orders],
      random: () => 0, // no jitter: every refresh is due at half the lifetime, 5 min
    });
    const { cache } = engine;
    engine.start();
    await engine.warm();
    await cache.get(table('used'));
    await cache.get(table('slow'));
    upstream.modes.set('slow', 'hang');
    upstream.modes.set('miss', 'hang');
    clock.advance(5 * MINUTE); // every refresh is due; the one of `slow` hangs
    await settle();
    const miss = cache.get(table('miss')).catch((error: unknown) => error);
    await settle();
    assert.deepEqual(upstream.calls, ['orders', 'used', 'slow', 'orders', 'used', 'slow', 'miss']);
    assert.ok(cache.loading(table('slow')) && cache.loading(table('miss')));

    engine.drain();
    await settle();
    assert.equal(cache.loading(table('slow')), false, 'the refresh nobody waits on is dropped');
    assert.equal(cache.loading(table('miss')), true, "a client's miss goes on");
    const before = upstream.calls.length;
    clock.advance(30 * MINUTE); // refreshes and retries would all be due by now
    await settle();
    assert.equal(upstream.calls.length, before, 'no background refresh after drain');
    assert.deepEqual([...engine.scheduler.scheduledIds()], []);

    // A request received during the drain still loads.
    const late = await cache.get(table('late'));
    assert.equal(late.result, 'miss');

    // stop (the grace deadline): the miss still open is aborted, and nothing starts after it.
    engine.stop();
    assert.ok((await miss) instanceof LoadCancelled);
    const after = upstream.calls.length;
    await assert.rejects(cache.get(table('after')), LoadCancelled);
    assert.equal(upstream.calls.length, after, 'no upstream call after stop');
  });
});
