/** The refresh scheduler's queue: one clock timer, callbacks in due order, replacement and cancel. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock.js';
import { DueQueue } from '../../src/refresh/due-queue.js';

describe('DueQueue', () => {
  it('runs callbacks at their times, in order, on a single clock timer', () => {
    const clock = new ManualClock(0);
    const queue = new DueQueue<() => void>(clock, (run) => run());
    const ran: string[] = [];
    for (const [id, at] of [
      ['c', 300],
      ['a', 100],
      ['b', 200],
      ['a2', 100],
    ] as const) {
      queue.schedule(id, at, () => ran.push(`${id}@${clock.now()}`));
    }
    assert.equal(clock.pendingTimers, 1);
    clock.advance(99);
    assert.deepEqual(ran, []);
    clock.advance(1);
    assert.deepEqual(ran, ['a@100', 'a2@100']);
    clock.advance(200);
    assert.deepEqual(ran, ['a@100', 'a2@100', 'b@200', 'c@300']);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(queue.size, 0);
  });

  it('replaces the pending callback of an id, and cancels', () => {
    const clock = new ManualClock(0);
    const queue = new DueQueue<() => void>(clock, (run) => run());
    const ran: string[] = [];
    queue.schedule('k', 100, () => ran.push('first'));
    queue.schedule('k', 50, () => ran.push('second'));
    queue.schedule('j', 70, () => ran.push('j'));
    queue.cancel('j');
    assert.equal(queue.dueAt('k'), 50);
    assert.equal(queue.dueAt('j'), undefined);
    clock.advance(1_000);
    assert.deepEqual(ran, ['second']);
  });

  it('compacts replaced nodes so churn does not grow the heap', () => {
    const clock = new ManualClock(0);
    const queue = new DueQueue<() => void>(clock, (run) => run());
    for (let i = 0; i < 10_000; i++) queue.schedule(`k${i % 10}`, 1_000_000 - i, () => undefined);
    assert.equal(queue.size, 10);
    assert.ok(queue.heapSize <= 2 * 10 + 65, `heap holds ${queue.heapSize} nodes`);
  });

  it('matches a naive model for any sequence of schedules, cancels and advances (property)', () => {
    type Op =
      | { kind: 'schedule'; id: number; delay: number }
      | { kind: 'cancel'; id: number }
      | { kind: 'advance'; ms: number };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('schedule' as const),
        id: fc.nat(5),
        delay: fc.nat(100),
      }),
      fc.record({ kind: fc.constant('cancel' as const), id: fc.nat(5) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(60) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
        const clock = new ManualClock(0);
        const queue = new DueQueue<() => void>(clock, (run) => run());
        const ran: string[] = [];
        const model = new Map<number, { at: number; seq: number }>();
        const expected: string[] = [];
        let seq = 0;
        const drainModel = (until: number) => {
          const due = [...model.entries()]
            .filter(([, p]) => p.at <= until)
            .sort((a, b) => a[1].at - b[1].at || a[1].seq - b[1].seq);
          for (const [id, p] of due) {
            model.delete(id);
            expected.push(`${id}@${Math.max(p.at, 0)}`);
          }
        };
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const at = clock.now() + o.delay;
            seq += 1;
            model.set(o.id, { at, seq });
            queue.schedule(String(o.id), at, () => ran.push(`${o.id}@${clock.now()}`));
          } else if (o.kind === 'cancel') {
            model.delete(o.id);
            queue.cancel(String(o.id));
          } else {
            drainModel(clock.now() + o.ms);
            clock.advance(o.ms);
          }
        }
        // Callbacks at equal times may fire in one batch: compare as multisets of id@time.
        assert.deepEqual([...ran].sort(), [...expected].sort());
      }),
      { numRuns: 300 },
    );
  });
});
