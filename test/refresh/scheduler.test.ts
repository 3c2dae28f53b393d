/** Background refresh in virtual time: the cache, the scheduler and a hand-written fake upstream. */
import assert from 'node:assert/strict';
import {
  CredentialCache,
  type EvictionReason,
  type Lane,
  NegativeCacheHit,
} from '../../src/cache/credential-cache.js';
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
  options: { nextRefreshFraction?: number; targets?: CredentialKey[]; random?: () => number } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const calls: { key: CredentialKey; lane: Lane; at: number }[] = [];
  const upstream = { lifetimeMs: 60 * MINUTE, failWith: undefined as UpstreamError | undefined };
  const load = async (key: CredentialKey, lane: Lane): Promise<IssuedCredentials<unknown>> => {
    calls.push({ key, lane, at: clock.now() });
    if (upstream.failWith) throw upstream.failWith;
    const now = clock.now();
    return {
      credentials: { serial: calls.length },
      expiration: now + upstream.lifetimeMs,
      ...(options.nextRefreshFraction !== undefined && {
        nextRefreshTime: now + options.nextRefreshFraction * upstream.lifetimeMs,
      }),
    };
  };
  const evictions: EvictionReason[] = [];
  const refreshes: RefreshOutcome[] = [];
  const scheduler: { current?: RefreshScheduler } = {};
  const cache = new CredentialCache({
    clock,
    load,
    minRemainingMs: 5 * MINUTE,
    onStore: (entry) => scheduler.current?.track(entry),
    onEvict: (entry, reason) => {
      evictions.push(reason);
      scheduler.current?.untrack(entry);
    },
  });
  const targets = new Set((options.targets ?? []).map((key) => key.id));
  scheduler.current = new RefreshScheduler({
    clock,
    cache,
    idleMs: 15 * MINUTE,
    isTarget: (key) => targets.has(key.id),
    random: options.random ?? (() => 0),
    onRefresh: (_key, result) => refreshes.push(result),
  });
  return { clock, cache, scheduler: scheduler.current, calls, upstream, evictions, refreshes };
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

  it('does not refresh an idle key, which then expires, but keeps refreshing a configured target', async () => {
    const { clock, cache, calls, evictions } = setup({ targets: [warehouse] });
    await cache.get(orders);
    await cache.get(warehouse);
    clock.advance(30 * MINUTE); // nobody asked since the load: both idle
    await settle();
    assert.deepEqual(
      calls.map((call) => call.key.id),
      [orders.id, warehouse.id, warehouse.id],
      'only the target is refreshed',
    );
    clock.advance(26 * MINUTE);
    cache.sweep(15 * MINUTE, (key) => key.id === warehouse.id);
    assert.deepEqual(evictions, ['expired']);
    assert.equal(cache.peek(orders), undefined);
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
