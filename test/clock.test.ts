import assert from 'node:assert/strict';
import { createTask } from 'node-cron';
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

describe('ManualClock.schedule (cron)', () => {
  it('fires at every matching second, in UTC, until cancelled', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7, 250));
    const fired: string[] = [];
    const task = clock.schedule('*/15 * * * * *', () =>
      fired.push(new Date(clock.now()).toISOString()),
    );
    clock.advance(40_000);
    assert.deepEqual(fired, [
      '2026-11-24T10:00:15.000Z',
      '2026-11-24T10:00:30.000Z',
      '2026-11-24T10:00:45.000Z',
    ]);
    task.cancel();
    clock.advance(60_000);
    assert.equal(fired.length, 3);
    assert.equal(clock.pendingTimers, 0);
  });

  it('reads hours in UTC, not in the host time zone', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 22, 59, 0));
    const fired: number[] = [];
    clock.schedule('0 0 23 * * *', () => fired.push(clock.now()));
    clock.advance(3_600_000);
    assert.deepEqual(fired, [Date.UTC(2026, 10, 24, 23, 0, 0)]);
  });

  it('finds matches far apart: once a year', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    const fired: number[] = [];
    clock.schedule('0 0 0 1 1 *', () => fired.push(clock.now()));
    clock.advance(500 * 86_400_000);
    assert.deepEqual(fired, [Date.UTC(2027, 0, 1), Date.UTC(2028, 0, 1)]);
  });

  it('fires on the days node-cron matches, when the day fields restrict them', () => {
    const start = Date.UTC(2026, 10, 24);
    const days = 120;
    for (const [expression, timeOfDay] of [
      ['0 0 12 * * 1-5', 12 * 3_600_000],
      ['0 0 0 L * *', 0],
      ['0 30 6 1,15 * *', 6 * 3_600_000 + 30 * 60_000],
      ['0 0 9 * 2 0#2', 9 * 3_600_000],
      ['59 59 23 * 1,2 *', 86_399_000],
    ] as const) {
      const clock = new ManualClock(start);
      const fired = new Set<number>();
      const task = clock.schedule(expression, () => fired.add(clock.now()));
      clock.advance(days * 86_400_000);
      task.cancel();
      const matcher = createTask(expression, () => undefined, { timezone: 'Etc/UTC' });
      const expected = new Set<number>();
      for (let day = 0; day < days; day++) {
        const at = start + day * 86_400_000 + timeOfDay;
        if (at > start && matcher.match(new Date(at))) expected.add(at);
      }
      void matcher.destroy();
      assert.ok(expected.size > 0, expression);
      assert.deepEqual([...fired], [...expected], expression);
    }
  });

  it('needs no Intl for an expression that does not restrict days', () => {
    const original = Intl.DateTimeFormat;
    let made = 0;
    Intl.DateTimeFormat = function (...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
      made += 1;
      return new original(...args);
    } as typeof Intl.DateTimeFormat;
    try {
      const clock = new ManualClock(Date.UTC(2026, 10, 24));
      const task = clock.schedule('*/15 * * * * *', () => undefined);
      clock.advance(3_600_000);
      task.cancel();
      systemClock.schedule('*/15 * * * * *', () => undefined).cancel();
    } finally {
      Intl.DateTimeFormat = original;
    }
    assert.equal(made, 0);
  });

  it('keeps firing after a run that throws', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    let runs = 0;
    clock.schedule('* * * * * *', () => {
      runs += 1;
      throw new Error(`run ${runs}`);
    });
    assert.throws(() => clock.advance(1_000), /run 1/);
    assert.throws(() => clock.advance(1_000), /run 2/);
    assert.equal(clock.pendingTimers, 1);
  });

  it('rejects what is not a cron expression, and what does not fire within a year', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 24));
    assert.throws(() => clock.schedule('every minute', () => undefined), /not a cron expression/);
    // 29 February: the next one is more than a year away.
    assert.throws(() => clock.schedule('0 0 0 29 2 *', () => undefined), /within a year/);
    assert.equal(clock.pendingTimers, 0);
    assert.throws(() => systemClock.schedule('61 * * * * *', () => undefined), /not a cron/);
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

  it('runs cron schedules on real timers and stops them on cancel', async function () {
    this.timeout(5_000);
    let runs = 0;
    await new Promise<void>((resolve) => {
      const task = systemClock.schedule('* * * * * *', () => {
        runs += 1;
        task.cancel();
        resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal(runs, 1);
  });
});
