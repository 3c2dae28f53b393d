/** Review: interleavings in CredentialCache (virtual time). */
import assert from 'node:assert/strict';
import { CredentialCache } from '../../src/cache/credential-cache.js';
import { ManualClock } from '../../src/clock.js';
import { toApiError } from '../../src/daemon/http/errors.js';
import { UpstreamBudget } from '../../src/refresh/budget.js';
import { budgetedFetcher } from '../../src/refresh/upstream-load.js';
import { HeldUpstream, MINUTE, settle, table } from './helpers.js';

const orders = table('orders');
const busyKey = table('busy');

function setup(options: { budget?: boolean; maxEntries?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24));
  const upstream = new HeldUpstream(clock);
  const budget = options.budget
    ? new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1000 })
    : undefined;
  const cache = new CredentialCache({
    clock,
    fetcher: budget ? budgetedFetcher(upstream, budget) : upstream,
    minRemainingMs: 5 * MINUTE,
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
  });
  return { clock, upstream, budget, cache };
}

describe('races: CredentialCache interleavings', () => {
  it('a queued refresh whose entry left, joined by a client who then hung up, is dropped before its upstream call', async () => {
    const { clock, upstream, budget, cache } = setup({ budget: true });
    const { entry } = await cache.get(orders);
    clock.advance(56 * MINUTE); // below the floor: a client now waits on the refresh
    upstream.hold();
    const busy = cache.get(busyKey); // holds the budget's only slot
    await settle();
    const refreshing = cache.refresh(orders).catch((error: unknown) => error);
    const hangUp = new AbortController();
    const client = cache.get(orders, { signal: hangUp.signal }).catch((error: unknown) => error);
    await settle();
    assert.equal(budget?.waiting.on_demand, 1, 'the joined refresh waits as a miss');
    // The entry leaves (expired) while the client waits: the refresh is kept, as the client's miss.
    assert.equal(cache.evict(orders, 'expired', entry), true);
    // ...and then that client hangs up, before the call started.
    hangUp.abort();
    await settle();
    upstream.release();
    await busy;
    await refreshing;
    await client;
    await settle();
    const ordersCalls = upstream.calls.filter((call) => call.key.id === orders.id).length;
    assert.equal(
      ordersCalls,
      1,
      'nobody wants this load any more (entry gone, client gone): it must not cost an upstream call',
    );
  });

  it('a connected client asking for a key whose evicted refresh is still winding down gets a credential, not LoadCancelled (502)', async () => {
    const { upstream, cache } = setup();
    const { entry } = await cache.get(orders);
    upstream.hold();
    upstream.ignoreAbort = true; // the call does not end the moment its signal aborts
    const refreshing = cache.refresh(orders).catch((error: unknown) => error);
    await settle();
    assert.equal(cache.evict(orders, 'idle', entry), true); // the refresh is aborted
    // A client, still connected, asks now: there is no entry, so this is a miss.
    const client = cache.get(orders).then(
      (lookup) => lookup,
      (error: unknown) => error,
    );
    upstream.release();
    await refreshing;
    const answer = await client;
    assert.ok(
      !(answer instanceof Error),
      `the client got ${answer instanceof Error ? `${answer.name} → HTTP ${toApiError(answer).status} ${toApiError(answer).code}` : ''}`,
    );
  });

  it('a background refresh does not make its key the most recently used one in the LRU', async () => {
    const { clock, cache } = setup({ maxEntries: 2 });
    const a = table('a');
    const b = table('b');
    const c = table('c');
    await cache.get(a);
    clock.advance(MINUTE);
    await cache.get(b); // b is used after a
    clock.advance(MINUTE);
    await cache.refresh(a); // background: nobody asked for a
    clock.advance(MINUTE);
    await cache.get(c); // the cache is full: the least recently *used* key must go
    assert.ok(cache.peek(b), 'b, used more recently than a, was evicted');
    assert.equal(cache.peek(a), undefined);
  });
});
