/**
 * Review: random interleavings through the real engine (budget included), with concurrent
 * client misses that hang up, evictions, sweeps, upstream failures/hangs and clock steps.
 * Invariants: nothing outside the cache is scheduled; every target is worked on.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { EvictionReason } from '../../src/cache/credential-cache.js';
import { ManualClock } from '../../src/clock.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { MINUTE, SECOND, fakeProviders, settle, table } from './helpers.js';

const names = ['t0', 't1', 'k2', 'k3', 'k4', 'k5'];
const keys = names.map(table);
const targets = keys.slice(0, 2);
let totalCalls = 0;
// The runs make real upstream calls (about 13,000 over all runs): a property over no calls proves nothing.
after(() => assert.ok(totalCalls > 1_000, `only ${totalCalls} upstream calls over all runs`));

describe('races: property over engine interleavings', () => {
  it('nothing outside the cache is scheduled, every target is always worked on', async () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.nat(5), hangUp: fc.boolean() }),
      fc.record({
        op: fc.constant('evict' as const),
        key: fc.nat(5),
        reason: fc.constantFrom<EvictionReason>('lru', 'expired', 'idle', 'revoked'),
      }),
      fc.record({
        op: fc.constant('advance' as const),
        ms: fc.integer({ min: 1, max: 20 * MINUTE }),
      }),
      fc.record({ op: fc.constant('sweep' as const) }),
      fc.record({
        op: fc.constant('mode' as const),
        key: fc.nat(5),
        mode: fc.constantFrom('ok', 'fail', 'hang' as const),
      }),
      fc.record({ op: fc.constant('release' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 60 }), async (steps) => {
        const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7));
        const upstream = fakeProviders(clock);
        const engine = createCredentialEngine({
          clock,
          providers: upstream.providers,
          idleMs: 15 * MINUTE,
          minRemainingMs: 5 * MINUTE,
          maxEntries: 2,
          targets,
          random: () => 0.5,
          budget: { maxConcurrent: 2, ratePerSecond: 5, maxQueue: 3, maxWaitMs: 10 * SECOND },
        });
        engine.start();
        const pending: Promise<unknown>[] = [];
        try {
          await settle();
          for (const s of steps) {
            const key = 'key' in s ? keys[s.key] : undefined;
            switch (s.op) {
              case 'get': {
                if (!key) break;
                const hangUp = new AbortController();
                pending.push(
                  engine.cache.get(key, { signal: hangUp.signal }).catch(() => undefined),
                );
                if (s.hangUp) {
                  await settle();
                  hangUp.abort();
                }
                break;
              }
              case 'evict':
                if (key) engine.cache.evict(key, s.reason);
                break;
              case 'advance':
                clock.advance(s.ms);
                break;
              case 'sweep':
                engine.cache.sweep(15 * MINUTE);
                break;
              case 'mode':
                upstream.modes.set(names[s.key] ?? '', s.mode);
                break;
              case 'release':
                upstream.releaseAll();
                break;
            }
            await settle();
            for (const id of engine.scheduler.scheduledIds()) {
              const known = keys.find((k) => k.id === id);
              assert.ok(known, 'unknown id scheduled');
              assert.ok(
                targets.includes(known) || engine.cache.peek(known) !== undefined,
                `scheduled but not in the cache: ${names[keys.indexOf(known)]}`,
              );
            }
            for (const target of targets) {
              assert.ok(
                engine.scheduler.working(target),
                `target ${names[keys.indexOf(target)]} is not worked on`,
              );
            }
          }
        } finally {
          totalCalls += upstream.calls.length;
          upstream.releaseAll();
          engine.stop();
          await Promise.all(pending);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
