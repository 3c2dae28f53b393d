/** Races found in review: the upstream budget and the engine around it (virtual time). */
import assert from 'node:assert/strict';
import { Priority } from '../../src/cache/fetcher.js';
import { type Clock, ManualClock } from '../../src/clock.js';
import { BudgetExceeded, UpstreamBudget } from '../../src/refresh/budget.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { SECOND, fakeProviders, settle, table } from './helpers.js';

/** A clock whose wall time can be stepped (NTP) while its monotonic time and timers go on. */
function steppableClock() {
  const manual = new ManualClock(Date.UTC(2026, 10, 24));
  let offset = 0;
  const clock: Clock = {
    now: () => manual.now() + offset,
    monotonic: () => manual.monotonic(),
    setTimeout: (callback, delayMs) => manual.setTimeout(callback, delayMs),
    schedule: (expression, callback) => manual.schedule(expression, callback),
  };
  return { manual, clock, step: (ms: number) => (offset += ms) };
}

describe('races: UpstreamBudget', () => {
  it('keeps its rate when the wall clock is stepped back (durations come from monotonic())', async () => {
    const { manual, clock, step } = steppableClock();
    const budget = new UpstreamBudget({ clock, ratePerSecond: 20, maxWaitMs: 10 * SECOND });
    await budget.run(() => Promise.resolve('first'), { priority: new Priority('on_demand') });
    step(-60 * SECOND); // NTP steps the wall clock back one minute
    let started = false;
    const second = budget
      .run(
        () => {
          started = true;
          return Promise.resolve('second');
        },
        { priority: new Priority('on_demand') },
      )
      .catch((error: unknown) => error);
    await settle();
    manual.advance(SECOND); // 19 tokens were left; a second passed in real terms
    await settle();
    manual.advance(10 * SECOND);
    const answer = await second;
    assert.ok(
      started,
      `a miss with 19 tokens in the bucket was never started: ${answer instanceof BudgetExceeded ? `BudgetExceeded ${answer.reason}` : String(answer)}`,
    );
  });

  it('a refresh a client joins moves up even past maxQueue (the client already waits; one per key)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    const budget = new UpstreamBudget({
      clock,
      maxConcurrent: 1,
      ratePerSecond: 1000,
      maxQueue: 2,
    });
    let free!: () => void;
    const busy = budget.run(() => new Promise<void>((resolve) => (free = resolve)), {
      priority: new Priority('on_demand'),
    });
    const priorities = [new Priority('background'), new Priority('background')];
    const started: string[] = [];
    const refreshes = priorities.map((priority, i) =>
      budget.run(() => (started.push(`refresh${i}`), Promise.resolve()), { priority }),
    );
    const misses = [0, 1].map((i) =>
      budget.run(() => (started.push(`miss${i}`), Promise.resolve()), {
        priority: new Priority('on_demand'),
      }),
    );
    for (const priority of priorities) priority.raise('on_demand'); // clients join the refreshes
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 4, background: 0 });
    // A new miss is still refused: the bound holds for misses that come on their own.
    await assert.rejects(
      budget.run(() => Promise.resolve(), { priority: new Priority('on_demand') }),
      (error: unknown) => error instanceof BudgetExceeded && error.reason === 'queue_full',
    );
    free();
    await Promise.all([busy, ...refreshes, ...misses]);
    assert.deepEqual(started, ['miss0', 'miss1', 'refresh0', 'refresh1']);
  });
});

describe('races: engine metrics and stop()', () => {
  it('a miss the budget refuses (queue_full) is not reported as an upstream load (credcache_refreshes_total)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    const upstream = fakeProviders(clock);
    const loads: { key: string; lane: string; error: string | undefined }[] = [];
    const engine = createCredentialEngine({
      clock,
      providers: upstream.providers,
      budget: { maxConcurrent: 1, ratePerSecond: 1000, maxQueue: 1 },
      on: {
        load: (key, lane, error) =>
          loads.push({
            key:
              String((key.request as { tableArn?: string }).tableArn ?? '')
                .split('/')
                .pop() ?? '',
            lane,
            error: error?.awsName,
          }),
      },
    });
    upstream.modes.set('a', 'hang');
    const a = engine.cache.get(table('a')); // runs (hangs)
    const b = engine.cache.get(table('b')); // waits
    const refused = await engine.cache.get(table('c')).catch((error: unknown) => error);
    assert.ok(refused instanceof BudgetExceeded);
    await settle();
    upstream.releaseAll();
    await Promise.all([a, b]);
    assert.deepEqual(upstream.calls, ['a', 'b'], 'c never reached upstream');
    assert.equal(
      loads.length,
      2,
      `loads reported: ${JSON.stringify(loads)} — a refusal that made no call counts as a failed on_demand load`,
    );
    engine.stop();
  });

  it('stop() leaves no timer behind, even with calls waiting for a token', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    const upstream = fakeProviders(clock);
    const engine = createCredentialEngine({
      clock,
      providers: upstream.providers,
      budget: { ratePerSecond: 1, burst: 1 },
    });
    engine.start();
    await engine.cache.get(table('a')); // takes the only token
    const waiting = engine.cache.get(table('b')).catch((error: unknown) => error); // waits for one
    await settle();
    engine.stop();
    await waiting;
    assert.equal(clock.pendingTimers, 0, `${clock.pendingTimers} timer(s) left after stop()`);
  });
});
