/**
 * Found in review: a key the refresher found idle, but that a client used again before the sweep
 * removed it, was left cached with no refresh at all; its client then got a miss at the floor.
 * The rule now: an idle key goes at its refresh point, so it is never cached and unscheduled
 * (engine, virtual time, housekeeping every 15 s as in production).
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { MINUTE, SECOND, fakeProviders, settle, table } from './helpers.js';

describe('races: the idle check at refresh time', () => {
  it('a key found idle at its refresh point goes then; a client back before the sweep loads it anew and it is refreshed', async () => {
    // 10:00:07 UTC; housekeeping runs at :00, :15, :30, :45 of every minute.
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7));
    const upstream = fakeProviders(clock, 60 * MINUTE);
    const orders = table('orders');
    const results: string[] = [];
    const engine = createCredentialEngine({
      clock,
      providers: upstream.providers,
      idleMs: 15 * MINUTE,
      minRemainingMs: 5 * MINUTE,
      random: () => 0, // refresh exactly at half-life: 10:30:07
      on: { lookup: (_key, result) => results.push(result) },
    });
    engine.start();
    try {
      await engine.cache.get(orders); // loaded at 10:00:07
      clock.advance(14 * MINUTE + 56 * SECOND); // 10:15:03
      await settle();
      engine.cache.getServable(orders); // last use 10:15:03: idle from 10:30:03
      clock.advance(15 * MINUTE + 4 * SECOND); // 10:30:07: the refresh point; idle by 4 s
      await settle();
      clock.advance(3 * SECOND); // 10:30:10, before the 10:30:15 sweep
      await settle();
      assert.equal(engine.cache.peek(orders), undefined, 'gone at its refresh point');
      assert.equal((await engine.cache.get(orders)).result, 'miss');
      assert.ok(engine.scheduler.working(orders), 'loaded anew, and scheduled');
      // Polling every 30 s from here on: every answer a hit, refreshed ahead of the floor.
      results.length = 0;
      for (let t = 0; t < 60 * MINUTE; t += 30 * SECOND) {
        clock.advance(30 * SECOND);
        await settle();
        await engine.cache.get(orders);
      }
      assert.deepEqual([...new Set(results)], ['hit']);
      assert.equal(
        upstream.calls.length,
        4,
        'loads at 10:00 and 10:30, refreshes at 11:00 and 11:30',
      );
    } finally {
      engine.stop();
    }
  });
});
