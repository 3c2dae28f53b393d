/** Review: a configured target's load must take the reserved share, also when a client asked first. */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { MINUTE, SECOND, fakeProviders, settle, table } from './helpers.js';

describe('races: targets and the reserved share', () => {
  it("a target whose client asks while a flood fills the other slots is loaded in the target's reserved slot", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7));
    const upstream = fakeProviders(clock);
    const orders = table('orders');
    const engine = createCredentialEngine({
      clock,
      providers: upstream.providers,
      minRemainingMs: 5 * MINUTE,
      targets: [orders],
      random: () => 0,
      // 2 slots: 1 kept for targets, 1 for everything else.
      budget: { maxConcurrent: 2, ratePerSecond: 1000, maxWaitMs: 10 * SECOND },
    });
    upstream.modes.set('orders', 'fail');
    engine.start();
    await engine.warm(); // the first load failed; retried after 0.5 s
    upstream.modes.set('orders', 'ok'); // upstream is back for the target

    // A flood of other keys: one holds the ordinary slot, the rest wait behind it.
    const flood = ['f0', 'f1', 'f2', 'f3', 'f4'].map((name) => {
      upstream.modes.set(name, 'hang');
      return engine.cache.get(table(name)).catch((error: unknown) => error);
    });
    await settle();
    // The target's own client polls it (e.g. the SDK of the job it serves).
    const client = engine.cache.get(orders).catch((error: unknown) => error);
    await settle();
    clock.advance(SECOND); // the scheduler's retry is due: it joins that client's load
    await settle();
    const targetCalls = upstream.calls.filter((name) => name === 'orders').length;
    const reservedIdle = engine.budget.active < 2;
    try {
      assert.equal(
        targetCalls,
        2,
        `the target's load waits in an on_demand queue of ${engine.budget.waiting.on_demand} misses ` +
          `(reserved slot idle: ${reservedIdle}); the standing job joined the client's on_demand miss`,
      );
    } finally {
      clock.advance(11 * SECOND); // let the 10 s wait run out, to show what the client gets
      await settle();
      const answer = await client;
      assert.ok(!(answer instanceof Error), `the target's client got ${String(answer)}`);
      assert.ok(engine.cache.peek(orders), 'the target holds a credential (/readyz 200)');
      upstream.releaseAll();
      engine.stop();
      await Promise.all(flood);
    }
  });
});
