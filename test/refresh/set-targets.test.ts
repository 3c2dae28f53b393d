/**
 * Targets changed by a reload (virtual time): a new target's standing job starts at once and is
 * pinned; a removed one becomes an ordinary key, refreshed while used and gone when idle; the
 * reserved slot follows whether there are targets.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { MINUTE, SECOND, fakeProviders, settle, table } from '../races/helpers.js';

function engineWith(targets: string[], maxEntries = 100) {
  const clock = new ManualClock(Date.UTC(2026, 11, 5, 10, 0, 0));
  const upstream = fakeProviders(clock);
  const engine = createCredentialEngine({
    clock,
    providers: upstream.providers,
    minRemainingMs: 5 * MINUTE,
    idleMs: 15 * MINUTE,
    maxEntries,
    targets: targets.map(table),
    random: () => 0,
    budget: { maxConcurrent: 2, ratePerSecond: 1000, maxWaitMs: 10 * SECOND },
  });
  return { clock, upstream, engine };
}

describe('engine: targets replaced at run time (reload)', () => {
  it('a new target is loaded at once, with no client asking, and its failures are retried', async () => {
    const { clock, upstream, engine } = engineWith(['orders']);
    engine.start();
    await engine.warm();
    upstream.modes.set('returns', 'fail');
    const loaded = engine.setTargets([table('orders'), table('returns')]);
    await loaded;
    assert.deepEqual(
      upstream.calls.filter((name) => name === 'returns'),
      ['returns'],
      'the new target was asked for once, by its standing job',
    );
    assert.equal(engine.scheduler.failures(table('returns'))?.consecutive, 1);
    upstream.modes.set('returns', 'ok');
    clock.advance(2 * SECOND); // the first backoff is under 2 s
    await settle();
    assert.ok(engine.cache.peek(table('returns')), 'the retry loaded it: the standing job goes on');
    engine.stop();
  });

  it('a cached key that becomes a target is pinned: a flood of other keys does not evict it', async () => {
    const { upstream, engine } = engineWith([], 2);
    engine.start();
    await engine.cache.get(table('returns'));
    engine.setTargets([table('returns')]).catch(assert.fail);
    await settle();
    assert.deepEqual(upstream.calls, ['returns'], 'a servable entry is not loaded again');
    for (const name of ['a', 'b', 'c', 'd']) await engine.cache.get(table(name));
    assert.ok(engine.cache.peek(table('returns')), 'still held beside the LRU of 2');
    engine.stop();
  });

  it('a removed target becomes an ordinary key: LRU-evictable, and dropped when idle at its refresh', async () => {
    const { clock, upstream, engine } = engineWith(['orders', 'returns']);
    engine.start();
    await engine.warm();
    await engine.setTargets([table('orders')]);
    assert.ok(engine.cache.peek(table('returns')), 'its credential stays readable for now');
    const before = upstream.calls.length;
    clock.advance(40 * MINUTE); // past the refresh point of a 60-minute credential
    await settle();
    assert.equal(engine.cache.peek(table('returns')), undefined, 'nobody asked: it went (idle)');
    assert.ok(engine.cache.peek(table('orders')), 'the remaining target was refreshed');
    assert.deepEqual(upstream.calls.slice(before), ['orders'], 'only the target was refreshed');
    engine.stop();
  });

  it('a removed target that never loaded stops being retried', async () => {
    const { clock, upstream, engine } = engineWith(['orders', 'returns']);
    upstream.modes.set('returns', 'fail');
    engine.start();
    await engine.warm();
    await engine.setTargets([table('orders')]);
    const before = upstream.calls.length;
    clock.advance(10 * MINUTE);
    await settle();
    assert.deepEqual(
      upstream.calls.slice(before).filter((name) => name === 'returns'),
      [],
      'no retry of a key that is no longer a target',
    );
    assert.equal(engine.scheduler.failures(table('returns')), undefined);
    engine.stop();
  });

  it('the reserved slot follows the targets: none without targets, one with', async () => {
    const { upstream, engine } = engineWith([]);
    engine.start();
    for (const name of ['h1', 'h2']) upstream.modes.set(name, 'hang');
    const held = ['h1', 'h2'].map((name) =>
      engine.cache.get(table(name)).catch((error: unknown) => error),
    );
    await settle();
    assert.equal(engine.budget.active, 2, 'without targets both slots serve clients');
    upstream.releaseAll();
    await Promise.all(held);
    await engine.setTargets([table('orders')]);
    upstream.modes.set('h3', 'hang');
    upstream.modes.set('h4', 'hang');
    const more = ['h3', 'h4'].map((name) =>
      engine.cache.get(table(name)).catch((error: unknown) => error),
    );
    await settle();
    assert.equal(engine.budget.active, 1, 'with a target one slot is kept for it');
    upstream.releaseAll();
    await settle();
    engine.stop();
    await Promise.all(more);
  });
});
