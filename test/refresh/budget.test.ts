/** The shared upstream budget in virtual time. */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { UpstreamBudget } from '../../src/refresh/budget.js';

/** A call that stays open until `finish()`; records its start order. */
function controllable(log: string[], name: string) {
  let finish: () => void = () => undefined;
  const done = new Promise<string>((resolve) => (finish = () => resolve(name)));
  return { call: () => (log.push(name), done), finish: () => finish() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

const ON_DEMAND = { lane: 'on_demand' } as const;
const BACKGROUND = { lane: 'background' } as const;

describe('UpstreamBudget', () => {
  it('runs at most maxConcurrent calls at once, on-demand before background', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 2, ratePerSecond: 1000 });
    const started: string[] = [];
    const calls = ['bg1', 'bg2', 'bg3', 'od1', 'od2'].map((name) => ({
      name,
      ...controllable(started, name),
    }));
    const results = calls.map(({ name, call }) =>
      budget.run(call, { lane: name.startsWith('od') ? 'on_demand' : 'background' }),
    );
    assert.deepEqual(started, ['bg1', 'bg2']);
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 2, background: 1 });
    calls[0]?.finish();
    await settle();
    assert.deepEqual(
      started,
      ['bg1', 'bg2', 'od1'],
      'a waiting client goes before a waiting refresh',
    );
    calls[1]?.finish();
    await settle();
    assert.deepEqual(started, ['bg1', 'bg2', 'od1', 'od2']);
    calls[3]?.finish();
    await settle();
    assert.deepEqual(started, ['bg1', 'bg2', 'od1', 'od2', 'bg3']);
    for (const call of calls) call.finish();
    assert.deepEqual(await Promise.all(results), ['bg1', 'bg2', 'bg3', 'od1', 'od2']);
    assert.equal(budget.active, 0);
  });

  it('passes on a rejection and frees the slot', async () => {
    const budget = new UpstreamBudget({ clock: new ManualClock(0), maxConcurrent: 1 });
    await assert.rejects(
      budget.run(() => Promise.reject(new Error('upstream down')), ON_DEMAND),
      /upstream down/,
    );
    assert.equal(await budget.run(() => Promise.resolve(42), ON_DEMAND), 42);
  });

  it('keeps to the rate: a burst, then one call per token as time passes', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 100, ratePerSecond: 10, burst: 3 });
    const started: number[] = [];
    const runs = Array.from({ length: 8 }, (_, i) =>
      budget.run(() => (started.push(i), Promise.resolve(i)), BACKGROUND),
    );
    assert.equal(started.length, 3, 'the burst');
    clock.advance(99);
    assert.equal(started.length, 3);
    clock.advance(1);
    assert.equal(started.length, 4, 'one token per 100 ms');
    clock.advance(400);
    assert.equal(started.length, 8);
    await Promise.all(runs);
    assert.equal(clock.pendingTimers, 0, 'no timer left once the queue is empty');
  });

  it('refills no more than the burst after a quiet spell', () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 100, ratePerSecond: 10, burst: 2 });
    clock.advance(60_000);
    let started = 0;
    for (let i = 0; i < 5; i++) void budget.run(() => (started++, Promise.resolve()), ON_DEMAND);
    assert.equal(started, 2);
  });

  it('checks its options', () => {
    const clock = new ManualClock(0);
    assert.throws(() => new UpstreamBudget({ clock, maxConcurrent: 0 }), /maxConcurrent/);
    assert.throws(() => new UpstreamBudget({ clock, ratePerSecond: Number.NaN }), /ratePerSecond/);
    assert.throws(() => new UpstreamBudget({ clock, burst: -1 }), /burst/);
  });
});
