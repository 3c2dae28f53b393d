/** Background refresh in virtual time: the cache, the scheduler and a hand-written fake upstream. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CredentialCache,
  type EvictionReason,
  NegativeCacheHit,
} from '../../src/cache/credential-cache.js';
import type { CredentialFetcher, Lane } from '../../src/cache/fetcher.js';
import { type CredentialKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import { UpstreamError } from '../../src/providers/errors.js';
import type { IssuedCredentials } from '../../src/providers/types.js';
import { RefreshScheduler, type RefreshOutcome } from '../../src/refresh/scheduler.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const orders = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});
const warehouse = redshiftKey({ workgroupName: 'analytics', durationSeconds: 3600 });

/** Lets promise callbacks run after the clock fired timers. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A client asks for `orders` after `afterMs`, so the key is in use when its refresh is due. */
async function useAt(clock: ManualClock, cache: CredentialCache, afterMs: number) {
  clock.advance(afterMs);
  await cache.get(orders);
}

function setup(
  options: {
    nextRefreshFraction?: number;
    targets?: CredentialKey[];
    random?: () => number;
    maxEntries?: number;
  } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const calls: { key: CredentialKey; lane: Lane; at: number; reserved: boolean }[] = [];
  const upstream = {
    lifetimeMs: 60 * MINUTE,
    failWith: undefined as UpstreamError | undefined,
    /** Keys that fail with AccessDenied, as a revoked grant does. */
    denied: new Set<string>(),
  };
  const fetcher: CredentialFetcher = {
    fetch: async (key, context): Promise<IssuedCredentials<unknown>> => {
      calls.push({
        key,
        lane: context.lane,
        at: clock.now(),
        reserved: context.priority.queue === 'reserved',
      });
      if (upstream.denied.has(key.id)) {
        throw new UpstreamError('AccessDenied', 'AccessDeniedException', 'revoked');
      }
      if (upstream.failWith) throw upstream.failWith;
      const now = clock.now();
      return {
        credentials: { serial: calls.length },
        expiration: now + upstream.lifetimeMs,
        ...(options.nextRefreshFraction !== undefined && {
          nextRefreshTime: now + options.nextRefreshFraction * upstream.lifetimeMs,
        }),
      };
    },
  };
  const evictions: EvictionReason[] = [];
  const refreshes: RefreshOutcome[] = [];
  const targets = options.targets ?? [];
  const targetIds = new Set(targets.map((key) => key.id));
  const cache = new CredentialCache({
    clock,
    fetcher,
    minRemainingMs: 5 * MINUTE,
    pinned: (key) => targetIds.has(key.id),
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
  });
  const scheduler = new RefreshScheduler({
    clock,
    cache,
    idleMs: 15 * MINUTE,
    targets,
    random: options.random ?? (() => 0),
    onRefresh: (_key, result) => refreshes.push(result),
  });
  cache.subscribe({ evicted: (_entry, reason) => evictions.push(reason) });
  return { clock, cache, scheduler, calls, upstream, evictions, refreshes };
}

describe('RefreshScheduler', () => {
  it('refreshes a key in use at half its lifetime, in the background lane, before clients would', async () => {
    const { clock, cache, scheduler, calls } = setup();
    await cache.get(orders);
    assert.equal(scheduler.scheduledAt(orders), clock.now() + 30 * MINUTE);
    for (let minute = 0; minute < 29; minute++) {
      clock.advance(MINUTE);
      await cache.get(orders); // a client polling every minute
    }
    assert.equal(calls.length, 1);
    clock.advance(MINUTE);
    await settle();
    assert.equal(calls.length, 2);
    assert.equal(calls[1]?.lane, 'background');
    const { entry, result } = await cache.get(orders);
    assert.equal(result, 'hit');
    assert.equal((entry.issued.credentials as { serial: number }).serial, 2);
    assert.equal(
      scheduler.scheduledAt(orders),
      clock.now() + 30 * MINUTE,
      'the next one is scheduled',
    );
  });

  it('makes the number of upstream calls the schedule predicts over six hours of polling', async () => {
    const { clock, cache, calls } = setup();
    for (let second = 0; second < 6 * 3600; second += 10) {
      const { entry } = await cache.get(orders);
      assert.ok(entry.issued.expiration - clock.now() >= 5 * MINUTE, 'never below minRemaining');
      clock.advance(10 * SECOND);
      await settle();
    }
    // One load, then one refresh every 30 minutes: 1 + 12.
    assert.equal(calls.length, 13);
    assert.equal(calls.filter((call) => call.lane === 'on_demand').length, 1);
  });

  it('spreads the first refresh after a cold load widely (90 % of the time-to-refresh), later ones by 10 %', async () => {
    const { clock, cache, scheduler } = setup({ targets: [orders], random: () => 0.99 });
    await cache.get(orders);
    // Half-life 30 min, 99 % of the first jitter (0.9) earlier: 30 − 26.73 = 3.27 min, after the
    // floor (5 % of the hour: 3 min).
    const first = scheduler.scheduledAt(orders);
    assert.equal(first, clock.now() + 3.27 * MINUTE);
    clock.advance(3.27 * MINUTE);
    await settle();
    // A replacement: 99 % of the usual jitter (0.1) earlier: 30 − 2.97 = 27.03 min.
    assert.equal(scheduler.scheduledAt(orders), clock.now() + 27.03 * MINUTE);
  });

  it('refreshes no later than Redshift nextRefreshTime', async () => {
    const { clock, cache, scheduler } = setup({ nextRefreshFraction: 0.25 });
    await cache.get(warehouse);
    assert.equal(scheduler.scheduledAt(warehouse), clock.now() + 15 * MINUTE);
  });

  it('does not refresh an idle key, which goes at its refresh point, but keeps refreshing a configured target', async () => {
    const { clock, cache, calls, evictions, scheduler } = setup({ targets: [warehouse] });
    await cache.get(orders);
    await cache.get(warehouse);
    clock.advance(30 * MINUTE); // nobody asked since the load: both idle
    await settle();
    assert.deepEqual(
      calls.map((call) => call.key.id),
      [orders.id, warehouse.id, warehouse.id],
      'only the target is refreshed',
    );
    // Gone at once, not at the next sweep: a client coming back in between would otherwise
    // find an entry nobody refreshes.
    assert.deepEqual(evictions, ['idle']);
    assert.equal(cache.peek(orders), undefined);
    assert.equal(scheduler.scheduledAt(orders), undefined);
    clock.advance(26 * MINUTE);
    cache.sweep(15 * MINUTE);
    assert.deepEqual(evictions, ['idle'], 'a pinned target is never swept');
    assert.ok(cache.peek(warehouse));
  });

  it('keeps serving the still-valid credential as stale while refreshes fail, backing off, then recovers', async () => {
    const { clock, cache, calls, upstream, refreshes } = setup();
    await cache.get(orders);
    upstream.failWith = new UpstreamError('Unavailable', 'InternalServiceException', 'down');
    await useAt(clock, cache, 20 * MINUTE);
    clock.advance(10 * MINUTE);
    await settle();
    assert.equal((await cache.get(orders)).result, 'stale');
    // Backoff with random 0: 0.5 s, 1 s, 2 s, 4 s after each failure.
    const failuresAt = [0.5, 1, 2, 4].map((s) => s * SECOND);
    for (const delay of failuresAt) {
      clock.advance(delay - 1);
      await settle();
      const before = calls.length;
      clock.advance(1);
      await settle();
      assert.equal(calls.length, before + 1, `a retry after ${delay} ms`);
    }
    upstream.failWith = undefined;
    clock.advance(8 * SECOND);
    await settle();
    assert.equal((await cache.get(orders)).result, 'hit');
    assert.deepEqual(
      refreshes.map((r) => r.outcome),
      ['failure', 'failure', 'failure', 'failure', 'failure', 'success'],
    );
  });

  it('backs off longer after throttling', async () => {
    const { clock, cache, calls, upstream } = setup();
    await cache.get(orders);
    upstream.failWith = new UpstreamError('Throttled', 'ThrottlingException', 'Rate exceeded');
    await useAt(clock, cache, 20 * MINUTE);
    clock.advance(10 * MINUTE);
    await settle();
    const before = calls.length;
    clock.advance(2_499);
    await settle();
    assert.equal(calls.length, before, 'no retry before 2.5 s');
    clock.advance(1);
    await settle();
    assert.equal(calls.length, before + 1);
  });

  it('evicts on AccessDenied during refresh: revocation reaches clients at the next refresh', async () => {
    const { clock, cache, calls, upstream, evictions, refreshes, scheduler } = setup();
    await cache.get(orders);
    upstream.failWith = new UpstreamError('AccessDenied', 'AccessDeniedException', 'revoked');
    await useAt(clock, cache, 20 * MINUTE);
    clock.advance(10 * MINUTE);
    await settle();
    assert.deepEqual(evictions, ['revoked']);
    assert.equal(scheduler.scheduledAt(orders), undefined);
    assert.deepEqual(refreshes.at(-1), {
      outcome: 'failure',
      error: upstream.failWith,
      evicted: true,
    });
    // The next client gets the denial from the negative cache, without another upstream call.
    const callsBefore = calls.length;
    await assert.rejects(
      cache.get(orders),
      (error: unknown) => error instanceof NegativeCacheHit && error.error.kind === 'AccessDenied',
    );
    assert.equal(calls.length, callsBefore);
  });

  it('forgets the schedule of an entry the LRU evicts', async () => {
    const { cache, scheduler, evictions } = setup({ maxEntries: 1 });
    await cache.get(orders);
    assert.ok(scheduler.scheduledAt(orders));
    await cache.get(warehouse);
    assert.deepEqual(evictions, ['lru']);
    assert.equal(scheduler.scheduledAt(orders), undefined);
    assert.deepEqual([...scheduler.scheduledIds()], [warehouse.id]);
  });

  describe('configured targets: a standing job', () => {
    it('a target whose first load fails is retried with the capped backoff and heals with no client', async () => {
      const { clock, cache, scheduler, calls, upstream } = setup({ targets: [orders] });
      upstream.failWith = new UpstreamError('Unavailable', 'InternalServiceException', 'down');
      scheduler.start();
      await scheduler.warm();
      assert.equal(calls.length, 1);
      assert.equal(calls[0]?.reserved, true, 'in the reserved share');
      assert.equal(scheduler.failures(orders)?.consecutive, 1);
      assert.equal(scheduler.failures(orders)?.lastError.awsName, 'InternalServiceException');
      // Backoff with random 0 (half the capped exponential): 0.5, 1, 2, 4, … 30, 30 s.
      let waited = 0;
      for (let attempt = 1; attempt <= 10; attempt++) {
        const delay = Math.min(30 * SECOND, 0.5 * SECOND * 2 ** (attempt - 1));
        assert.equal(scheduler.scheduledAt(orders), clock.now() + delay, `retry ${attempt}`);
        clock.advance(delay);
        waited += delay;
        await settle();
        assert.equal(calls.length, attempt + 1);
      }
      upstream.failWith = undefined;
      clock.advance(30 * SECOND);
      await settle();
      const entry = cache.peek(orders);
      assert.ok(entry && cache.servable(entry), 'healed with no client request');
      assert.equal(scheduler.failures(orders), undefined);
      assert.ok(waited < 3 * MINUTE);
      assert.ok(calls.every((call) => call.lane === 'background'));
    });

    it('a revoked target is evicted, retried, and back once access is granted again', async () => {
      const { clock, cache, scheduler, calls, upstream, evictions } = setup({ targets: [orders] });
      scheduler.start();
      await scheduler.warm();
      assert.ok(cache.peek(orders));
      upstream.denied.add(orders.id);
      clock.advance(30 * MINUTE);
      await settle();
      assert.deepEqual(evictions, ['revoked']);
      assert.equal(cache.peek(orders), undefined);
      assert.ok(scheduler.working(orders), 'still being worked on');
      const before = calls.length;
      clock.advance(MINUTE);
      await settle();
      assert.ok(calls.length > before, 'retried while denied');
      upstream.denied.delete(orders.id);
      clock.advance(MINUTE);
      await settle();
      const entry = cache.peek(orders);
      assert.ok(entry && cache.servable(entry));
    });

    it('keeps a target fresh with nobody asking, for hours', async () => {
      const { clock, cache, scheduler, calls } = setup({ targets: [orders] });
      scheduler.start();
      await scheduler.warm();
      for (let minute = 0; minute < 6 * 60; minute++) {
        clock.advance(MINUTE);
        await settle();
        const entry = cache.peek(orders);
        assert.ok(entry && cache.servable(entry), `servable at minute ${minute}`);
      }
      assert.equal(calls.length, 13, 'one load, then every 30 minutes');
    });
  });

  it('property: no entry outside the cache is scheduled, and every target is always worked on', async () => {
    const keys = Array.from({ length: 6 }, (_, i) =>
      tableKey({
        tableArn: `arn:aws:glue:us-east-1:123456789012:table/sales/t${i}`,
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 3600,
      }),
    );
    const [first, second] = keys;
    const targets = [first, second].filter((key) => key !== undefined);
    const step = fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.nat(5) }),
      fc.record({
        op: fc.constant('evict' as const),
        key: fc.nat(5),
        reason: fc.constantFrom<EvictionReason>('lru', 'expired', 'idle', 'revoked'),
      }),
      fc.record({
        op: fc.constant('advance' as const),
        ms: fc.integer({ min: 1, max: 40 * MINUTE }),
      }),
      fc.record({ op: fc.constant('sweep' as const) }),
      fc.record({
        op: fc.constant('upstream' as const),
        mode: fc.constantFrom('ok', 'fail', 'deny'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const { clock, cache, scheduler, upstream } = setup({ targets, maxEntries: 3 });
        scheduler.start();
        await scheduler.warm();
        for (const s of steps) {
          const key = 'key' in s ? keys[s.key] : undefined;
          switch (s.op) {
            case 'get':
              if (key) await cache.get(key).catch(() => undefined);
              break;
            case 'evict':
              if (key) cache.evict(key, s.reason);
              break;
            case 'advance':
              clock.advance(s.ms);
              break;
            case 'sweep':
              cache.sweep(15 * MINUTE);
              break;
            case 'upstream':
              upstream.failWith =
                s.mode === 'fail'
                  ? new UpstreamError('Unavailable', 'InternalServiceException', 'down')
                  : undefined;
              if (s.mode === 'deny') keys.forEach((k) => upstream.denied.add(k.id));
              else upstream.denied.clear();
              break;
          }
          await settle();
          for (const id of scheduler.scheduledIds()) {
            const known = keys.find((k) => k.id === id);
            assert.ok(known, `an unknown id is scheduled: ${id}`);
            assert.ok(
              targets.includes(known) || cache.peek(known) !== undefined,
              `scheduled but not in the cache: ${id}`,
            );
          }
          for (const target of targets) {
            assert.ok(scheduler.working(target), `target ${target.id} is not worked on`);
          }
        }
        scheduler.stop();
      }),
      { numRuns: 150 },
    );
  });

  it('schedules nothing after stop', async () => {
    const { clock, cache, scheduler, calls } = setup();
    await cache.get(orders);
    scheduler.stop();
    assert.equal(clock.pendingTimers, 0);
    clock.advance(60 * MINUTE);
    await settle();
    assert.equal(calls.length, 1);
  });
});
