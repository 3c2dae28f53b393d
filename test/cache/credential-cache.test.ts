/** The credential cache in virtual time, with a hand-written fake upstream. */
import assert from 'node:assert/strict';
import {
  type CacheEntry,
  CredentialCache,
  type EvictionReason,
  NegativeCacheHit,
  RefreshTooSoon,
} from '../../src/cache/credential-cache.js';
import {
  type CredentialFetcher,
  type FetchContext,
  type Lane,
  LoadCancelled,
} from '../../src/cache/fetcher.js';
import { type CredentialKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import { UpstreamError } from '../../src/providers/errors.js';
import type { IssuedCredentials } from '../../src/providers/types.js';
import { UpstreamBudget } from '../../src/refresh/budget.js';
import { budgetedFetcher } from '../../src/refresh/upstream-load.js';

const MINUTE = 60_000;

/** Lets promise callbacks run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * A fake upstream: issues numbered credentials of a set lifetime, or fails as told. Like the
 * real provider it gives up when its load's signal aborts, unless told to ignore it (a call
 * whose answer was already on its way).
 */
class FakeUpstream implements CredentialFetcher {
  calls: { key: CredentialKey; lane: Lane; context: FetchContext }[] = [];
  lifetimeMs = 60 * MINUTE;
  failWith: UpstreamError | undefined;
  ignoreAbort = false;
  /** When set, loads wait until `release()` is called. */
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  constructor(private readonly clock: ManualClock) {}

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async fetch(key: CredentialKey, context: FetchContext): Promise<IssuedCredentials<unknown>> {
    this.calls.push({ key, lane: context.lane, context });
    const serial = this.calls.length;
    await this.#gate;
    if (context.signal.aborted && !this.ignoreAbort) throw new LoadCancelled('aborted');
    if (this.failWith) throw this.failWith;
    return { credentials: { serial }, expiration: this.clock.now() + this.lifetimeMs };
  }
}

const orders = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});
const warehouse = redshiftKey({ workgroupName: 'analytics', durationSeconds: 900 });
const other = redshiftKey({ workgroupName: 'other', durationSeconds: 900 });

const serial = (entry: CacheEntry) => (entry.issued.credentials as { serial: number }).serial;

function setup(
  options: {
    maxEntries?: number;
    minRemainingMs?: number;
    negativeTtlMs?: number;
    refreshNowMinIntervalMs?: number;
    pinned?: CredentialKey[];
    /** Put the real upstream budget (one call at a time) between the cache and the fake. */
    budget?: boolean;
  } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const upstream = new FakeUpstream(clock);
  const budget = options.budget
    ? new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1000 })
    : undefined;
  const evictions: [string, EvictionReason][] = [];
  /** What the cache held of the key when each eviction was told. */
  const heldWhenTold: (CacheEntry | undefined)[] = [];
  const pinnedIds = new Set((options.pinned ?? []).map((key) => key.id));
  const cache = new CredentialCache({
    clock,
    fetcher: budget ? budgetedFetcher(upstream, budget) : upstream,
    minRemainingMs: 5 * MINUTE,
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
    ...(options.minRemainingMs !== undefined && { minRemainingMs: options.minRemainingMs }),
    ...(options.negativeTtlMs !== undefined && { negativeTtlMs: options.negativeTtlMs }),
    ...(options.refreshNowMinIntervalMs !== undefined && {
      refreshNowMinIntervalMs: options.refreshNowMinIntervalMs,
    }),
    pinned: (key) => pinnedIds.has(key.id),
  });
  cache.subscribe({
    evicted: (entry, reason) => {
      evictions.push([entry.key.id, reason]);
      heldWhenTold.push(cache.peek(entry.key));
    },
  });
  return { clock, upstream, cache, evictions, heldWhenTold, budget };
}

/** Table keys `0`…`n-1`. */
const tables = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    tableKey({
      tableArn: `arn:aws:glue:us-east-1:123456789012:table/sales/t${i}`,
      permissions: ['SELECT'],
      supportedPermissionTypes: ['COLUMN_PERMISSION'],
      durationSeconds: 3600,
    }),
  );

describe('CredentialCache', () => {
  it('loads on a miss, then answers hits from memory', async () => {
    const { cache, upstream } = setup();
    const first = await cache.get(orders);
    assert.equal(first.result, 'miss');
    const second = await cache.get(orders);
    assert.equal(second.result, 'hit');
    assert.equal(second.entry, first.entry);
    assert.equal(upstream.calls.length, 1);
    assert.equal(upstream.calls[0]?.lane, 'on_demand');
  });

  it('makes exactly one upstream call for 1,000 concurrent requests of a cold key', async () => {
    const { cache, upstream } = setup();
    upstream.hold();
    const lookups = Array.from({ length: 1000 }, () => cache.get(orders));
    upstream.release();
    const results = await Promise.all(lookups);
    assert.equal(upstream.calls.length, 1);
    assert.equal(results.filter((r) => r.result === 'miss').length, 1);
    assert.equal(results.filter((r) => r.result === 'coalesced').length, 999);
    assert.ok(results.every((r) => serial(r.entry) === 1));
  });

  it('keeps keys apart', async () => {
    const { cache, upstream } = setup();
    await Promise.all([cache.get(orders), cache.get(warehouse), cache.get(orders)]);
    assert.equal(upstream.calls.length, 2);
    assert.deepEqual(cache.countBySource(), {
      lakeformation_table: 1,
      lakeformation_partition: 0,
      redshift_serverless: 1,
      lakeformation_location: 0,
    });
  });

  it('never hands out a credential with less than minRemaining left: it loads a new one', async () => {
    const { cache, upstream, clock } = setup();
    await cache.get(orders);
    clock.advance(55 * MINUTE - 1); // 5 min + 1 ms left
    assert.equal((await cache.get(orders)).result, 'hit');
    clock.advance(1); // exactly 5 min left: still servable
    assert.equal((await cache.get(orders)).result, 'hit');
    clock.advance(1); // under 5 min
    const renewed = await cache.get(orders);
    assert.equal(renewed.result, 'miss');
    assert.equal(serial(renewed.entry), 2);
    assert.equal(upstream.calls.length, 2);
  });

  it('refuses a credential that arrives with less than minRemaining of validity', async () => {
    const { cache, upstream } = setup();
    upstream.lifetimeMs = 4 * MINUTE;
    await assert.rejects(
      cache.get(orders),
      (error: unknown) =>
        error instanceof UpstreamError &&
        error.kind === 'Unavailable' &&
        error.awsName === 'InvalidResponse',
    );
  });

  it('remembers a deterministic error for negativeTtl, then asks upstream again', async () => {
    const { cache, upstream, clock } = setup({ negativeTtlMs: 10_000 });
    upstream.failWith = new UpstreamError('AccessDenied', 'AccessDeniedException', 'denied');
    await assert.rejects(cache.get(orders), { name: 'UpstreamError', kind: 'AccessDenied' });
    clock.advance(4_000);
    const remembered = await cache.get(orders).then(
      () => assert.fail('expected a rejection'),
      (error: unknown) => error,
    );
    assert.ok(remembered instanceof NegativeCacheHit);
    assert.equal(remembered.retryAfterMs, 6_000);
    assert.equal(remembered.error.kind, 'AccessDenied');
    assert.equal(upstream.calls.length, 1, 'answered from memory');
    clock.advance(6_000);
    upstream.failWith = undefined;
    assert.equal((await cache.get(orders)).result, 'miss');
    assert.equal(upstream.calls.length, 2);
  });

  it('drops an unservable entry when a client miss finds access revoked', async () => {
    const { cache, upstream, clock, evictions } = setup();
    await cache.get(orders);
    clock.advance(56 * MINUTE);
    upstream.failWith = new UpstreamError('AccessDenied', 'AccessDeniedException', 'revoked');
    await assert.rejects(cache.get(orders), { kind: 'AccessDenied' });
    assert.deepEqual(evictions, [[orders.id, 'revoked']]);
    assert.equal(cache.size, 0);
  });

  it('does not remember retryable errors', async () => {
    const { cache, upstream } = setup();
    upstream.failWith = new UpstreamError('Throttled', 'ThrottlingException', 'Rate exceeded');
    await assert.rejects(cache.get(orders), { kind: 'Throttled' });
    await assert.rejects(cache.get(orders), { kind: 'Throttled' });
    assert.equal(upstream.calls.length, 2);
  });

  it('serves an entry whose refresh is failing as stale, and a refresh failure keeps the entry', async () => {
    const { cache, upstream } = setup();
    const { entry } = await cache.get(orders);
    upstream.failWith = new UpstreamError('Unavailable', 'InternalServiceException', 'down');
    assert.equal((await cache.get(orders)).result, 'hit');
    await assert.rejects(cache.refresh(orders), { kind: 'Unavailable' });
    assert.equal(cache.peek(orders), entry, 'the still-valid credential stays');
    assert.equal((await cache.get(orders)).result, 'stale');
    upstream.failWith = undefined;
    await cache.refresh(orders);
    assert.equal((await cache.get(orders)).result, 'hit', 'a refresh that succeeds ends stale');
  });

  it('refresh loads in the background lane, replaces the entry, and shares a concurrent miss', async () => {
    const { cache, upstream, clock } = setup();
    await cache.get(orders);
    clock.advance(56 * MINUTE); // under minRemaining: a client request is a miss now
    upstream.hold();
    const refreshing = cache.refresh(orders);
    const client = cache.get(orders);
    upstream.release();
    const [refreshed, lookup] = await Promise.all([refreshing, client]);
    assert.equal(lookup.result, 'coalesced');
    assert.equal(lookup.entry, refreshed);
    assert.equal(serial(refreshed), 2);
    assert.deepEqual(
      upstream.calls.map((call) => call.lane),
      ['on_demand', 'background'],
    );
  });

  it('is bounded: the least recently used entry goes when full', async () => {
    const { cache, evictions } = setup({ maxEntries: 2 });
    await cache.get(orders);
    await cache.get(warehouse);
    await cache.get(orders); // orders is now the most recently used
    await cache.get(other);
    assert.equal(cache.size, 2);
    assert.equal(cache.peek(warehouse), undefined);
    assert.deepEqual(evictions, [[warehouse.id, 'lru']]);
  });

  it('sweeps idle and expired entries but never pinned ones', async () => {
    const { cache, clock, evictions } = setup({ pinned: [warehouse] });
    await cache.get(orders);
    await cache.get(warehouse);
    clock.advance(10 * MINUTE);
    await cache.get(other);
    assert.equal(cache.sweep(15 * MINUTE), 0);
    clock.advance(5 * MINUTE);
    // orders and warehouse were last used 15 min ago; warehouse is a configured target.
    assert.equal(cache.sweep(15 * MINUTE), 1);
    assert.deepEqual(evictions, [[orders.id, 'idle']]);
    clock.advance(41 * MINUTE); // other: 14 min left, not idle in 60 min; warehouse: unservable
    assert.equal(cache.sweep(60 * MINUTE), 0);
    clock.advance(10 * MINUTE); // other: 4 min left
    assert.equal(cache.sweep(60 * MINUTE), 1);
    assert.deepEqual(evictions.at(-1), [other.id, 'expired']);
    assert.ok(cache.peek(warehouse), 'a pinned entry waits for its refresher, not the sweep');
  });

  it('evicts only the entry it was asked about', async () => {
    const { cache, evictions } = setup();
    const { entry: first } = await cache.get(orders);
    const second = await cache.refresh(orders);
    assert.equal(
      cache.evict(orders, 'revoked', first),
      false,
      'an older entry is not the current one',
    );
    assert.equal(cache.evict(orders, 'revoked', second), true);
    assert.deepEqual(evictions, [[orders.id, 'revoked']]);
    assert.equal(cache.size, 0);
  });

  it('checks its options', () => {
    const clock = new ManualClock();
    const fetcher = new FakeUpstream(clock);
    assert.throws(() => new CredentialCache({ clock, fetcher, maxEntries: 0 }), /maxEntries/);
    assert.throws(
      () => new CredentialCache({ clock, fetcher, minRemainingMs: -1 }),
      /minRemainingMs/,
    );
    assert.throws(
      () => new CredentialCache({ clock, fetcher, negativeTtlMs: Number.NaN }),
      /negativeTtlMs/,
    );
  });

  describe('pinned keys (configured targets)', () => {
    it('are never LRU-evicted and do not count against maxEntries', async () => {
      const { cache, evictions } = setup({ maxEntries: 50, pinned: [orders, warehouse] });
      await cache.get(orders);
      await cache.get(warehouse);
      for (const key of tables(200)) await cache.get(key);
      assert.ok(cache.peek(orders) && cache.peek(warehouse), 'both targets stay');
      assert.equal(cache.size, 52);
      assert.equal(evictions.length, 150);
      assert.ok(evictions.every(([id, reason]) => reason === 'lru' && id.includes('/sales/t')));
    });

    it('may be refreshed with no entry at all, in the reserved share', async () => {
      const { cache, upstream } = setup({ pinned: [orders] });
      const entry = await cache.refresh(orders);
      assert.equal(cache.peek(orders), entry);
      assert.deepEqual(
        upstream.calls.map(({ lane, context }) => [lane, context.priority.queue]),
        [['background', 'reserved']],
      );
      await assert.rejects(
        cache.refresh(warehouse),
        LoadCancelled,
        'an unpinned key needs its entry',
      );
      assert.equal(upstream.calls.length, 1);
    });
  });

  describe('entries that leave take their refresh with them', () => {
    it('tells subscribers after the key is gone (LRU included)', async () => {
      const { cache, evictions, heldWhenTold } = setup({ maxEntries: 1 });
      await cache.get(orders);
      await cache.get(warehouse);
      assert.deepEqual(evictions, [[orders.id, 'lru']]);
      assert.deepEqual(heldWhenTold, [undefined]);
    });

    it('LRU eviction drops a refresh still queued in the budget: no call, nothing stored', async () => {
      const { cache, upstream, budget } = setup({ maxEntries: 2, budget: true });
      await cache.get(orders);
      await cache.get(warehouse);
      upstream.hold(); // the next call holds the budget's only slot
      const busy = cache.get(other); // a miss: stored, it evicts orders (least recently used)
      const queued = cache.refresh(orders);
      await settle();
      assert.equal(budget?.waiting.background, 1, 'the refresh of orders waits');
      upstream.release();
      await busy;
      await assert.rejects(queued, LoadCancelled);
      await settle();
      assert.deepEqual(
        upstream.calls.map((call) => call.key.id),
        [orders.id, warehouse.id, other.id],
        'the refresh of the evicted entry never reached upstream',
      );
      assert.equal(budget?.waiting.background, 0, 'it left the queue');
      assert.equal(cache.peek(orders), undefined);
    });

    it('eviction while a refresh is in flight: the result is dropped', async () => {
      const { cache, upstream } = setup();
      const { entry } = await cache.get(orders);
      upstream.hold();
      upstream.ignoreAbort = true; // the answer was already on its way
      const refreshing = cache.refresh(orders);
      await settle();
      assert.equal(upstream.calls.at(-1)?.context.signal.aborted, false);
      assert.equal(cache.evict(orders, 'idle', entry), true);
      assert.equal(upstream.calls.at(-1)?.context.signal.aborted, true, 'the call is cancelled');
      upstream.release();
      await assert.rejects(refreshing, LoadCancelled);
      assert.equal(cache.peek(orders), undefined, 'nothing resurrected');
      assert.equal(cache.flights, 0);
    });

    it("a refresh a client waits on survives the eviction: it is that client's miss", async () => {
      const { cache, upstream, clock } = setup();
      const { entry } = await cache.get(orders);
      clock.advance(56 * MINUTE); // unservable: a client request waits on the refresh
      upstream.hold();
      const refreshing = cache.refresh(orders);
      const client = cache.get(orders);
      await settle();
      cache.evict(orders, 'expired', entry);
      upstream.release();
      const lookup = await client;
      assert.equal(await refreshing, lookup.entry);
      assert.equal(cache.peek(orders), lookup.entry);
    });

    it('a background load never counts as use', async () => {
      const { cache, clock } = setup();
      await cache.get(orders);
      const usedAt = cache.lastUsedAt(orders);
      clock.advance(10 * MINUTE);
      await cache.refresh(orders);
      assert.equal(cache.lastUsedAt(orders), usedAt);
      clock.advance(5 * MINUTE);
      assert.equal(cache.sweep(15 * MINUTE), 1, 'idle since the client last asked');
    });
  });

  describe('clients that hang up', () => {
    it('a miss whose only client hung up before its call started is dropped uncalled', async () => {
      const { cache, upstream, budget } = setup({ budget: true });
      upstream.hold();
      const busy = cache.get(warehouse); // holds the only slot
      const hangUp = new AbortController();
      const gone = cache.get(orders, { signal: hangUp.signal });
      await settle();
      assert.equal(budget?.waiting.on_demand, 1);
      hangUp.abort();
      await assert.rejects(gone, LoadCancelled);
      assert.equal(budget?.waiting.on_demand, 0);
      upstream.release();
      await busy;
      await settle();
      assert.deepEqual(
        upstream.calls.map((call) => call.key.id),
        [warehouse.id],
      );
      assert.equal(cache.flights, 0);
    });

    it('the load goes on while another client still waits, and once it has started', async () => {
      const { cache, upstream, budget } = setup({ budget: true });
      upstream.hold();
      const busy = cache.get(warehouse);
      const first = new AbortController();
      const leaving = cache.get(orders, { signal: first.signal });
      const staying = cache.get(orders);
      await settle();
      first.abort();
      await settle();
      assert.equal(budget?.waiting.on_demand, 1, 'still queued for the client that stayed');
      upstream.release();
      await busy;
      assert.equal((await staying).result, 'coalesced');
      await leaving.then(
        () => undefined,
        () => undefined,
      );
      // Started, then abandoned: the call is paid for, so its credential is kept.
      upstream.hold();
      const late = new AbortController();
      const started = cache.get(other, { signal: late.signal });
      await settle();
      late.abort();
      upstream.release();
      await started.then(
        () => undefined,
        () => undefined,
      );
      assert.ok(cache.peek(other));
      assert.equal(upstream.calls.length, 3);
    });

    it('a client already gone never starts a load', async () => {
      const { cache, upstream } = setup();
      const hangUp = new AbortController();
      hangUp.abort();
      await assert.rejects(cache.get(orders, { signal: hangUp.signal }), LoadCancelled);
      assert.equal(upstream.calls.length, 0);
    });
  });
});

describe('CredentialCache.forceRefresh (refreshNow)', () => {
  const SECOND = 1_000;

  it('fetches anew now, stores the result and answers it', async () => {
    const { cache, upstream } = setup();
    const first = await cache.get(orders);
    const forced = await cache.forceRefresh(orders);
    assert.equal(forced.result, 'miss');
    assert.equal(serial(forced.entry), 2);
    assert.equal(forced.entry.generation, first.entry.generation + 1);
    assert.equal(upstream.calls.length, 2);
    assert.equal(upstream.calls[1]?.lane, 'on_demand');
    const after = await cache.get(orders);
    assert.equal(after.result, 'hit');
    assert.equal(after.entry, forced.entry, 'the forced credential replaced the old one');
  });

  it('starts at most one forced fetch of a key per interval; other keys are apart', async () => {
    const { cache, upstream, clock } = setup({ refreshNowMinIntervalMs: 10 * SECOND });
    await cache.forceRefresh(orders);
    clock.advance(4 * SECOND);
    const refused = await cache.forceRefresh(orders).then(
      () => assert.fail('expected a rejection'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof RefreshTooSoon);
    assert.equal(refused.retryAfterMs, 6 * SECOND);
    assert.equal((await cache.forceRefresh(warehouse)).result, 'miss', 'another key is free');
    assert.equal(upstream.calls.length, 2);
    clock.advance(6 * SECOND);
    assert.equal(serial((await cache.forceRefresh(orders)).entry), 3);
  });

  it('shares one upstream call between concurrent forced fetches and an in-flight miss', async () => {
    const { cache, upstream } = setup({ refreshNowMinIntervalMs: 10 * SECOND });
    upstream.hold();
    const miss = cache.get(orders);
    const forced = Array.from({ length: 50 }, () => cache.forceRefresh(orders));
    upstream.release();
    const results = await Promise.all([miss, ...forced]);
    assert.equal(upstream.calls.length, 1);
    assert.ok(results.every((lookup) => serial(lookup.entry) === 1));
    assert.ok(forced.length === 50 && results.slice(1).every((l) => l.result === 'coalesced'));
    // Joining a load already under way starts no forced fetch: the key may be forced once now.
    assert.equal(serial((await cache.forceRefresh(orders)).entry), 2);
    await assert.rejects(cache.forceRefresh(orders), RefreshTooSoon);
  });

  it('concurrent forced fetches of a cached key share one call and all get the new credential', async () => {
    const { cache, upstream } = setup();
    await cache.get(orders);
    upstream.hold();
    const forced = Array.from({ length: 20 }, () => cache.forceRefresh(orders));
    await settle();
    upstream.release();
    const results = await Promise.all(forced);
    assert.equal(upstream.calls.length, 2);
    assert.ok(results.every((lookup) => serial(lookup.entry) === 2));
    assert.equal(results.filter((lookup) => lookup.result === 'miss').length, 1);
  });

  it('a failed forced fetch keeps the still-valid entry for everyone else, and uses up its interval', async () => {
    const { cache, upstream, clock, evictions } = setup({ refreshNowMinIntervalMs: 10 * SECOND });
    const first = await cache.get(orders);
    upstream.failWith = new UpstreamError('AccessDenied', 'AccessDeniedException', 'denied');
    await assert.rejects(cache.forceRefresh(orders), {
      name: 'UpstreamError',
      kind: 'AccessDenied',
    });
    const served = cache.getServable(orders);
    assert.equal(served?.entry, first.entry, 'the old credential is still served');
    assert.equal(served.result, 'hit');
    assert.deepEqual(evictions, []);
    upstream.failWith = new UpstreamError('Unavailable', 'InternalServerException', 'boom');
    await assert.rejects(cache.forceRefresh(orders), RefreshTooSoon);
    assert.equal(upstream.calls.length, 2, 'the failing upstream was asked once');
    clock.advance(10 * SECOND);
    await assert.rejects(cache.forceRefresh(orders), { kind: 'Unavailable' });
    assert.equal(cache.getServable(orders)?.entry, first.entry);
  });

  it('keeps its interval memory bounded by maxEntries under a flood of distinct keys', async () => {
    const { cache, upstream } = setup({ maxEntries: 3, refreshNowMinIntervalMs: 10 * SECOND });
    const keys = tables(10);
    for (const key of keys) await cache.forceRefresh(key);
    assert.equal(upstream.calls.length, 10);
    // The newest keys are remembered; the oldest were forgotten to keep the bound.
    await assert.rejects(cache.forceRefresh(keys[9] ?? orders), RefreshTooSoon);
    assert.equal((await cache.forceRefresh(keys[0] ?? orders)).result, 'miss');
    assert.equal(upstream.calls.length, 11);
  });

  it('answers a remembered deterministic error from memory', async () => {
    const { cache, upstream } = setup({ negativeTtlMs: 60 * SECOND, refreshNowMinIntervalMs: 0 });
    upstream.failWith = new UpstreamError('NotFound', 'EntityNotFoundException', 'gone');
    await assert.rejects(cache.forceRefresh(orders), { kind: 'NotFound' });
    await assert.rejects(cache.forceRefresh(orders), NegativeCacheHit);
    assert.equal(upstream.calls.length, 1);
  });

  it('has no interval when it is 0', async () => {
    const { cache, upstream } = setup({ refreshNowMinIntervalMs: 0 });
    for (let i = 0; i < 3; i += 1) await cache.forceRefresh(orders);
    assert.equal(upstream.calls.length, 3);
  });
});
