/** The shared upstream budget in virtual time. */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { LoadCancelled, Priority } from '../../src/cache/fetcher.js';
import { BudgetExceeded, UpstreamBudget } from '../../src/refresh/budget.js';

/** A call that stays open until `finish()`; records its start order. */
function controllable(log: string[], name: string) {
  let finish: () => void = () => undefined;
  const done = new Promise<string>((resolve) => (finish = () => resolve(name)));
  return { call: () => (log.push(name), done), finish: () => finish() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A ticket of its own for each call: a priority belongs to one load. */
const asMiss = () => ({ priority: new Priority('on_demand') });
const asRefresh = () => ({ priority: new Priority('background') });
const asTarget = () => ({ priority: new Priority('reserved') });

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
      budget.run(call, {
        priority: new Priority(name.startsWith('od') ? 'on_demand' : 'background'),
      }),
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
      budget.run(() => Promise.reject(new Error('upstream down')), asMiss()),
      /upstream down/,
    );
    assert.equal(await budget.run(() => Promise.resolve(42), asMiss()), 42);
  });

  it('keeps to the rate: a burst, then one call per token as time passes', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 100, ratePerSecond: 10, burst: 3 });
    const started: number[] = [];
    const runs = Array.from({ length: 8 }, (_, i) =>
      budget.run(() => (started.push(i), Promise.resolve(i)), asRefresh()),
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
    for (let i = 0; i < 5; i++) void budget.run(() => (started++, Promise.resolve()), asMiss());
    assert.equal(started, 2);
  });

  it('checks its options', () => {
    const clock = new ManualClock(0);
    assert.throws(() => new UpstreamBudget({ clock, maxConcurrent: 0 }), /maxConcurrent/);
    assert.throws(() => new UpstreamBudget({ clock, ratePerSecond: Number.NaN }), /ratePerSecond/);
    assert.throws(() => new UpstreamBudget({ clock, burst: -1 }), /burst/);
    assert.throws(() => new UpstreamBudget({ clock, maxWaitMs: 0 }), /maxWaitMs/);
    assert.throws(() => new UpstreamBudget({ clock, maxQueue: 0 }), /maxQueue/);
    assert.throws(
      () => new UpstreamBudget({ clock, maxConcurrent: 2, reservedSlots: 2 }),
      /reservedSlots/,
      'at least one slot is left for the rest',
    );
    assert.throws(() => new UpstreamBudget({ clock, reservedSlots: 0.5 }), /reservedSlots/);
  });

  it('serves the reserved queue first, and keeps one slot for it while others fill the rest', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({
      clock,
      maxConcurrent: 3,
      ratePerSecond: 1000,
      reservedSlots: 1,
    });
    const started: string[] = [];
    const calls = new Map<string, ReturnType<typeof controllable>>();
    const results: Promise<string>[] = [];
    const run = (name: string, ticket: Parameters<typeof budget.run>[1]) => {
      const call = controllable(started, name);
      calls.set(name, call);
      results.push(budget.run(call.call, ticket));
    };
    const finish = async (name: string) => {
      calls.get(name)?.finish();
      await settle();
    };
    for (const name of ['od1', 'od2', 'od3']) run(name, asMiss());
    run('bg1', asRefresh());
    assert.deepEqual(started, ['od1', 'od2'], 'other calls leave the kept slot free');
    assert.equal(budget.active, 2);
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 1, background: 1 });
    run('r1', asTarget());
    assert.deepEqual(started, ['od1', 'od2', 'r1'], 'a reserved call takes the kept slot at once');
    run('r2', asTarget());
    assert.deepEqual(budget.waiting, { reserved: 1, on_demand: 1, background: 1 });
    await finish('od1');
    assert.deepEqual(
      started,
      ['od1', 'od2', 'r1', 'r2'],
      'a reserved call goes ahead of calls that waited longer',
    );
    await finish('r1');
    assert.deepEqual(
      started,
      ['od1', 'od2', 'r1', 'r2'],
      'a slot is free, but taking it would leave none for a reserved call',
    );
    assert.equal(budget.active, 2);
    await finish('r2');
    assert.deepEqual(started, ['od1', 'od2', 'r1', 'r2', 'od3']);
    assert.equal(budget.active, 2, 'od2 and od3: the third slot stays kept');
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 0, background: 1 });
    run('r3', asTarget());
    assert.deepEqual(
      started,
      ['od1', 'od2', 'r1', 'r2', 'od3', 'r3'],
      'and a target finds it free',
    );
    await finish('r3');
    assert.deepEqual(started, ['od1', 'od2', 'r1', 'r2', 'od3', 'r3']);
    await finish('od2');
    assert.deepEqual(started, ['od1', 'od2', 'r1', 'r2', 'od3', 'r3', 'bg1']);
    for (const call of calls.values()) call.finish();
    await Promise.all(results);
    assert.equal(budget.active, 0);
  });

  it('refuses a miss at once when maxQueue misses already wait: BudgetExceeded queue_full with Retry-After', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1, maxQueue: 5 });
    const started: string[] = [];
    const busy = controllable(started, 'busy');
    const running = budget.run(busy.call, asMiss());
    const queued = Array.from({ length: 5 }, (_, i) =>
      budget.run(controllable(started, `od${i}`).call, asMiss()),
    );
    for (const waiting of queued) waiting.catch(() => undefined); // refused later, at maxWaitMs
    assert.equal(budget.waiting.on_demand, 5);
    let refusal: BudgetExceeded | undefined;
    budget.run(controllable(started, 'refused').call, asMiss()).catch((error: unknown) => {
      assert.ok(error instanceof BudgetExceeded, `refused with ${String(error)}`);
      refusal = error;
    });
    await settle(); // no time passes
    assert.ok(refusal, 'refused at once');
    assert.equal(refusal.reason, 'queue_full');
    assert.equal(refusal.kind, 'Throttled', 'a refusal is throttling: retryable, never cached');
    assert.match(refusal.message, /upstream\.maxQueue/);
    // Five misses ahead at one call per second: trying again sooner has no chance.
    assert.ok(
      refusal.retryAfterMs >= 5_000 && refusal.retryAfterMs <= 60_000,
      `retry after ${refusal.retryAfterMs} ms`,
    );
    assert.equal(budget.waiting.on_demand, 5, 'the refused miss did not queue');
    assert.ok(!started.includes('refused'));
    // The bound is on clients' misses: refreshes still queue (they have no client to answer).
    const background = budget.run(controllable(started, 'bg').call, asRefresh());
    const reserved = budget.run(controllable(started, 'r').call, asTarget());
    assert.deepEqual(budget.waiting, { reserved: 1, on_demand: 5, background: 1 });
    busy.finish();
    await running;
    void background.catch(() => undefined);
    void reserved.catch(() => undefined);
  });

  it('refuses a miss that waited maxWaitMs for its turn: BudgetExceeded wait_exceeded, in virtual time', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({
      clock,
      maxConcurrent: 1,
      ratePerSecond: 1000,
      maxWaitMs: 2_000,
    });
    const started: string[] = [];
    const busy = controllable(started, 'busy');
    const running = budget.run(busy.call, asMiss());
    let lateRefusal: unknown;
    budget.run(controllable(started, 'late').call, asMiss()).catch((error: unknown) => {
      lateRefusal = error;
    });
    const refusalOf = () => lateRefusal; // read anew each time (no narrowing across awaits)
    const background = controllable(started, 'bg');
    const refresh = budget.run(background.call, asRefresh());
    clock.advance(1_000);
    const soon = controllable(started, 'soon');
    const inTime = budget.run(soon.call, asMiss()); // its deadline is at 3 000 ms
    clock.advance(999);
    await settle();
    assert.equal(refusalOf(), undefined, 'not before maxWaitMs');
    clock.advance(1);
    await settle();
    const refusal = refusalOf();
    assert.ok(refusal instanceof BudgetExceeded, `refused at maxWaitMs, got ${String(refusal)}`);
    assert.equal(refusal.reason, 'wait_exceeded');
    assert.ok(refusal.retryAfterMs >= 1_000, `retry after ${refusal.retryAfterMs} ms`);
    assert.match(refusal.message, /upstream\.maxWaitSeconds \(2 s\)/);
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 1, background: 1 });
    busy.finish();
    await running;
    await settle();
    assert.deepEqual(started, ['busy', 'soon'], 'the refused miss never runs');
    clock.advance(10_000);
    soon.finish();
    assert.equal(await inTime, 'soon', 'a miss that started in time is not refused');
    await settle();
    assert.deepEqual(started, ['busy', 'soon', 'bg'], 'a refresh waits as long as it takes');
    background.finish();
    assert.equal(await refresh, 'bg');
    assert.equal(clock.pendingTimers, 0, 'no deadline left behind');
  });

  it('takes a waiting call whose signal is aborted out of its queue: it never runs', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1000 });
    const started: string[] = [];
    const busy = controllable(started, 'busy');
    const running = budget.run(busy.call, asMiss());
    const hungUp = new AbortController();
    let toldStarted = false;
    const dropped = budget.run(controllable(started, 'dropped').call, {
      ...asMiss(),
      signal: hungUp.signal,
      started: () => (toldStarted = true),
    });
    const left = new AbortController();
    const refresh = budget.run(controllable(started, 'refresh').call, {
      ...asRefresh(),
      signal: left.signal,
    });
    const next = controllable(started, 'next');
    const after = budget.run(next.call, asMiss());
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 2, background: 1 });
    hungUp.abort(new LoadCancelled('every client waiting on it hung up'));
    left.abort(); // no reason given
    await assert.rejects(dropped, (error: unknown) => {
      assert.ok(error instanceof LoadCancelled);
      assert.equal(error.reason, 'every client waiting on it hung up');
      return true;
    });
    await assert.rejects(refresh, LoadCancelled);
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 1, background: 0 });
    busy.finish();
    await running;
    await settle();
    next.finish();
    assert.equal(await after, 'next');
    assert.deepEqual(started, ['busy', 'next'], 'the dropped calls never ran');
    assert.equal(toldStarted, false);
    await settle();
    assert.equal(budget.active, 0);
    assert.equal(clock.pendingTimers, 0, "the dropped miss's deadline went with it");
    // Already aborted: refused without queuing.
    let ran = false;
    await assert.rejects(
      budget.run(() => ((ran = true), Promise.resolve()), { ...asMiss(), signal: hungUp.signal }),
      LoadCancelled,
    );
    assert.equal(ran, false);
  });

  it('leaves a started call alone when its signal is aborted: it runs on and holds its slot', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1000 });
    const started: string[] = [];
    const controller = new AbortController();
    let toldStarted = 0;
    const call = controllable(started, 'call');
    const running = budget.run(call.call, {
      ...asMiss(),
      signal: controller.signal,
      started: () => (toldStarted += 1),
    });
    assert.equal(toldStarted, 1, 'told when it left the queue');
    const next = controllable(started, 'next');
    const after = budget.run(next.call, asMiss());
    controller.abort(new LoadCancelled('its entry left the cache'));
    await settle();
    assert.equal(budget.active, 1, 'the started call keeps its slot');
    assert.deepEqual(started, ['call'], 'and the next waits for it');
    call.finish();
    assert.equal(await running, 'call', 'what the call gives is passed on, not a cancellation');
    await settle();
    next.finish();
    assert.equal(await after, 'next');
    assert.equal(toldStarted, 1);
  });

  it('moves a waiting refresh a client comes to wait on to the end of the on-demand queue', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1000 });
    const started: string[] = [];
    const busy = controllable(started, 'busy');
    const running = budget.run(busy.call, asMiss());
    const priority = new Priority('background');
    const refresh = budget.run(() => (started.push('refresh'), Promise.resolve('refresh')), {
      priority,
    });
    const other = budget.run(() => (started.push('other'), Promise.resolve('other')), asRefresh());
    const before = budget.run(() => (started.push('before'), Promise.resolve('before')), asMiss());
    priority.raise('on_demand');
    // At once, not a microtask later: a miss started right after cannot overtake it.
    const after = budget.run(() => (started.push('after'), Promise.resolve('after')), asMiss());
    assert.deepEqual(budget.waiting, { reserved: 0, on_demand: 3, background: 1 });
    busy.finish();
    await Promise.all([running, refresh, other, before, after]);
    assert.deepEqual(started, ['busy', 'before', 'refresh', 'after', 'other']);
  });

  it('is fair: a key re-queued after each failure cannot starve the calls waiting behind it', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1_000_000 });
    const N = 5;
    const started: string[] = [];
    let retries = 0;
    // A client retrying its failing key in a loop, at once after each failure.
    const retrying = (): Promise<void> =>
      budget
        .run(() => (started.push('retrying'), Promise.reject(new Error('throttled'))), asMiss())
        .catch(() => (++retries < 4 * N ? retrying() : undefined));
    const loop = retrying();
    const others = Array.from({ length: N }, (_, i) =>
      budget.run(() => (started.push(`other${i}`), Promise.resolve()), asMiss()),
    );
    await Promise.all([loop, ...others]);
    for (let i = 0; i < N; i++) {
      const at = started.indexOf(`other${i}`);
      assert.ok(at !== -1 && at < N + 1, `other${i} started at dispatch ${at + 1}: ${started}`);
    }
    assert.equal(started.filter((name) => name === 'retrying').length, 4 * N);
    assert.equal(budget.active, 0);
  });

  it('is fair in the background lane too, and behind the rate limit', async () => {
    const clock = new ManualClock(0);
    const budget = new UpstreamBudget({ clock, maxConcurrent: 4, ratePerSecond: 10, burst: 1 });
    const N = 3;
    const started: string[] = [];
    let retries = 0;
    const retrying = (): Promise<void> =>
      budget
        .run(() => (started.push('retrying'), Promise.reject(new Error('down'))), asRefresh())
        .catch(() => (++retries < 3 * N ? retrying() : undefined));
    const loop = retrying();
    const others = Array.from({ length: N }, (_, i) =>
      budget.run(() => (started.push(`other${i}`), Promise.resolve()), asRefresh()),
    );
    // One token per 100 ms: one dispatch per tick.
    for (let tick = 0; tick < 3 * N + N; tick++) {
      await settle();
      clock.advance(100);
    }
    await Promise.all([loop, ...others]);
    for (let i = 0; i < N; i++) {
      const at = started.indexOf(`other${i}`);
      assert.ok(at !== -1 && at < N + 1, `other${i} started at dispatch ${at + 1}: ${started}`);
    }
  });
});
