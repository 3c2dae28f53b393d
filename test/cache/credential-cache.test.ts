/** The credential cache in virtual time, with a hand-written fake upstream. */
import assert from 'node:assert/strict';
import {
  type CacheEntry,
  CredentialCache,
  type EvictionReason,
  type Lane,
  NegativeCacheHit,
} from '../../src/cache/credential-cache.js';
import { type CredentialKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import { UpstreamError } from '../../src/providers/errors.js';
import type { IssuedCredentials } from '../../src/providers/types.js';

const MINUTE = 60_000;

/** A fake upstream: issues numbered credentials of a set lifetime, or fails as told. */
class FakeUpstream {
  calls: { key: CredentialKey; lane: Lane }[] = [];
  lifetimeMs = 60 * MINUTE;
  failWith: UpstreamError | undefined;
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

  readonly load = async (key: CredentialKey, lane: Lane): Promise<IssuedCredentials<unknown>> => {
    this.calls.push({ key, lane });
    const serial = this.calls.length;
    await this.#gate;
    if (this.failWith) throw this.failWith;
    return { credentials: { serial }, expiration: this.clock.now() + this.lifetimeMs };
  };
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
  options: { maxEntries?: number; minRemainingMs?: number; negativeTtlMs?: number } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const upstream = new FakeUpstream(clock);
  const evictions: [string, EvictionReason][] = [];
  const cache = new CredentialCache({
    clock,
    load: upstream.load,
    minRemainingMs: 5 * MINUTE,
    ...options,
    onEvict: (entry, reason) => evictions.push([entry.key.id, reason]),
  });
  return { clock, upstream, cache, evictions };
}

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
    await assert.rejects(cache.refresh(orders), { kind: 'Unavailable' });
    assert.equal(cache.peek(orders), entry, 'the still-valid credential stays');
    entry.refreshFailure = upstream.failWith;
    assert.equal((await cache.get(orders)).result, 'stale');
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

  it('sweeps idle and expired entries but keeps the ones it is told to', async () => {
    const { cache, clock, evictions } = setup();
    await cache.get(orders);
    await cache.get(warehouse);
    clock.advance(10 * MINUTE);
    await cache.get(other);
    assert.equal(cache.sweep(15 * MINUTE), 0);
    clock.advance(5 * MINUTE);
    // orders and warehouse were last used 15 min ago; warehouse is a configured target.
    assert.equal(
      cache.sweep(15 * MINUTE, (key) => key.id === warehouse.id),
      1,
    );
    assert.deepEqual(evictions, [[orders.id, 'idle']]);
    clock.advance(41 * MINUTE); // warehouse: 4 min left; other: 14 min left but idle
    assert.equal(cache.sweep(60 * MINUTE), 1);
    assert.deepEqual(evictions.at(-1), [warehouse.id, 'expired']);
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
    const load = new FakeUpstream(clock).load;
    assert.throws(() => new CredentialCache({ clock, load, maxEntries: 0 }), /maxEntries/);
    assert.throws(() => new CredentialCache({ clock, load, minRemainingMs: -1 }), /minRemainingMs/);
    assert.throws(
      () => new CredentialCache({ clock, load, negativeTtlMs: Number.NaN }),
      /negativeTtlMs/,
    );
  });
});
