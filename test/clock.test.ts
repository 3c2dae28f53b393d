import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../src/clock.js';

describe('ManualClock', () => {
  it('moves only when advanced, and fires due timers in order', () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 200);
    assert.equal(clock.now(), 1_000);
    assert.equal(clock.pendingTimers, 3);
    assert.equal(clock.nextDueAt(), 1_100);
    clock.advance(150);
    assert.deepEqual(fired, ['a@1100']);
    assert.equal(clock.now(), 1_150);
    clock.advance(50);
    assert.deepEqual(fired, ['a@1100', 'b@1200', 'c@1200']);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(clock.nextDueAt(), undefined);
  });

  it('fires timers scheduled by timers within the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const tick = () => {
      fired.push(clock.now());
      if (fired.length < 5) clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    clock.advance(35);
    assert.deepEqual(fired, [10, 20, 30]);
    clock.advance(100);
    assert.deepEqual(fired, [10, 20, 30, 40, 50]);
  });

  it('does not fire cancelled timers and treats negative delays as zero', () => {
    const clock = new ManualClock(0);
    let fired = 0;
    const timer = clock.setTimeout(() => fired++, 10);
    timer.cancel();
    timer.cancel();
    clock.setTimeout(() => fired++, -5);
    clock.advance(0);
    assert.equal(fired, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  it('refuses to go backwards or start at a non-finite time', () => {
    assert.throws(() => new ManualClock(0).advance(-1), RangeError);
    assert.throws(() => new ManualClock(0).advance(Number.NaN), RangeError);
    assert.throws(() => new ManualClock(Number.POSITIVE_INFINITY), RangeError);
  });
});

describe('systemClock', () => {
  it('reads Date.now and runs real timers that can be cancelled', async () => {
    const before = Date.now();
    assert.ok(systemClock.now() >= before);
    let cancelledFired = false;
    systemClock.setTimeout(() => (cancelledFired = true), 1).cancel();
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    assert.equal(cancelledFired, false);
  });
});
