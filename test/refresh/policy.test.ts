import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_BACKOFF_BASE_DELAY_MS,
  DEFAULT_BACKOFF_MAX_DELAY_MS,
  DEFAULT_CLIENT_REFRESH_WINDOW_MIN_FRACTION,
  DEFAULT_CLIENT_REFRESH_WINDOW_MS,
  DEFAULT_JITTER_FRACTION,
  DEFAULT_MIN_REFRESH_INTERVAL_FRACTION,
  DEFAULT_MIN_REFRESH_INTERVAL_MS,
  DEFAULT_MIN_REMAINING_MS,
  DEFAULT_REFRESH_FRACTION,
  DEFAULT_THROTTLED_BACKOFF_BASE_DELAY_MS,
  DEFAULT_THROTTLED_BACKOFF_MAX_DELAY_MS,
  backoffDelay,
  refreshAt,
} from '../../src/refresh/policy.js';
import type {
  BackoffDelayOptions,
  RefreshAtInput,
  RefreshAtOptions,
} from '../../src/refresh/policy.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 10, 23, 7, 0, 0);

/** The largest double below 1: what "random fixed at 0.999…" means here. */
const ALMOST_ONE = 1 - 2 ** -53;
const randomZero = (): number => 0;
const randomAlmostOne = (): number => ALMOST_ONE;

describe('refresh policy', () => {
  describe('default constants', () => {
    it('are the documented values', () => {
      assert.equal(DEFAULT_MIN_REMAINING_MS, 300_000);
      assert.equal(DEFAULT_REFRESH_FRACTION, 0.5);
      assert.equal(DEFAULT_JITTER_FRACTION, 0.1);
      assert.equal(DEFAULT_CLIENT_REFRESH_WINDOW_MS, 15 * MINUTE);
      assert.equal(DEFAULT_CLIENT_REFRESH_WINDOW_MIN_FRACTION, 0.25);
      assert.equal(DEFAULT_MIN_REFRESH_INTERVAL_MS, 1_000);
      assert.equal(DEFAULT_MIN_REFRESH_INTERVAL_FRACTION, 0.05);
      assert.equal(DEFAULT_BACKOFF_BASE_DELAY_MS, 1_000);
      assert.equal(DEFAULT_BACKOFF_MAX_DELAY_MS, 60_000);
      assert.equal(DEFAULT_THROTTLED_BACKOFF_BASE_DELAY_MS, 5_000);
      assert.equal(DEFAULT_THROTTLED_BACKOFF_MAX_DELAY_MS, 120_000);
    });
  });

  describe('refreshAt', () => {
    interface Case {
      readonly name: string;
      /** Lifetime of the credential, issued at T0. */
      readonly lifetimeMs: number;
      /** Redshift nextRefreshTime, relative to T0. */
      readonly nextRefreshAfterMs?: number;
      readonly options?: Omit<RefreshAtOptions, 'random'>;
      /** Expected refresh point relative to T0 with random() = 0. */
      readonly withRandomZero: number;
      /** Expected refresh point relative to T0 with random() = 0.999…. */
      readonly withRandomAlmostOne: number;
    }

    const cases: readonly Case[] = [
      {
        name: '1 h Lake Formation credential: half-life, jitter up to 10 % earlier',
        lifetimeMs: HOUR,
        withRandomZero: 30 * MINUTE,
        withRandomAlmostOne: 27 * MINUTE,
      },
      {
        name: '6 h credential: the half-life, 3 h',
        lifetimeMs: 6 * HOUR,
        withRandomZero: 3 * HOUR,
        withRandomAlmostOne: 3 * HOUR - 18 * MINUTE,
      },
      {
        name: '900 s credential, minRemaining 300 s: half-life (no client-window cap)',
        lifetimeMs: 900 * SECOND,
        options: { minRemainingMs: 300 * SECOND },
        withRandomZero: 450 * SECOND,
        withRandomAlmostOne: 405 * SECOND,
      },
      {
        name: 'Redshift nextRefreshTime before the half-life wins',
        lifetimeMs: HOUR,
        nextRefreshAfterMs: 20 * MINUTE,
        withRandomZero: 20 * MINUTE,
        withRandomAlmostOne: 18 * MINUTE,
      },
      {
        name: 'Redshift nextRefreshTime after the half-life changes nothing',
        lifetimeMs: HOUR,
        nextRefreshAfterMs: 45 * MINUTE,
        withRandomZero: 30 * MINUTE,
        withRandomAlmostOne: 27 * MINUTE,
      },
      {
        name: 'Redshift nextRefreshTime at issue: the floor (5 % of the lifetime), no loop',
        lifetimeMs: HOUR,
        nextRefreshAfterMs: 0,
        withRandomZero: 3 * MINUTE,
        withRandomAlmostOne: 3 * MINUTE,
      },
      {
        name: '10 s credential, minRemaining 2 s: half-life, 5 s',
        lifetimeMs: 10 * SECOND,
        options: { minRemainingMs: 2 * SECOND },
        withRandomZero: 5 * SECOND,
        withRandomAlmostOne: 4.5 * SECOND,
      },
      {
        name: '3 s credential, minRemaining 2 s: capped at 1 s, which is also the floor',
        lifetimeMs: 3 * SECOND,
        options: { minRemainingMs: 2 * SECOND },
        withRandomZero: 1 * SECOND,
        withRandomAlmostOne: 1 * SECOND,
      },
      {
        name: '2.5 s credential, minRemaining 2 s (too short to serve): the 1 s floor anyway',
        lifetimeMs: 2.5 * SECOND,
        options: { minRemainingMs: 2 * SECOND },
        withRandomZero: 1 * SECOND,
        withRandomAlmostOne: 1 * SECOND,
      },
      {
        name: '60 s credential, minRemaining 300 s (never servable): the floor, 5 % = 3 s',
        lifetimeMs: 60 * SECOND,
        withRandomZero: 3 * SECOND,
        withRandomAlmostOne: 3 * SECOND,
      },
      {
        name: 'a credential shorter than the 1 s floor: at its expiration',
        lifetimeMs: 500,
        options: { minRemainingMs: 0 },
        withRandomZero: 500,
        withRandomAlmostOne: 500,
      },
      {
        name: '12 h credential: the half-life, 6 h (the client-window cap, 11 h 45, is later)',
        lifetimeMs: 12 * HOUR,
        withRandomZero: 6 * HOUR,
        withRandomAlmostOne: 6 * HOUR - 36 * MINUTE,
      },
      {
        name: '12 h credential refreshed at 99 %: capped at expiration − 15 min',
        lifetimeMs: 12 * HOUR,
        options: { refreshFraction: 0.99 },
        withRandomZero: 11 * HOUR + 45 * MINUTE,
        withRandomAlmostOne: 10 * HOUR + 34 * MINUTE + 30 * SECOND,
      },
      {
        name: '24 min credential: capped at expiration − 15 min (37.5 % of the lifetime)',
        lifetimeMs: 24 * MINUTE,
        withRandomZero: 9 * MINUTE,
        withRandomAlmostOne: 8 * MINUTE + 6 * SECOND,
      },
      {
        name: '20 min credential: the client-window cap at exactly 25 % still applies',
        lifetimeMs: 20 * MINUTE,
        withRandomZero: 5 * MINUTE,
        withRandomAlmostOne: 4 * MINUTE + 30 * SECOND,
      },
      {
        name: '19 min credential: the client-window cap (21 %) is dropped, half-life',
        lifetimeMs: 19 * MINUTE,
        withRandomZero: 9 * MINUTE + 30 * SECOND,
        withRandomAlmostOne: 8 * MINUTE + 33 * SECOND,
      },
      {
        name: '30 min credential: half-life and client-window cap coincide',
        lifetimeMs: 30 * MINUTE,
        withRandomZero: 15 * MINUTE,
        withRandomAlmostOne: 13 * MINUTE + 30 * SECOND,
      },
      {
        name: 'client window disabled: 24 min credential at its half-life',
        lifetimeMs: 24 * MINUTE,
        options: { clientRefreshWindowMs: 0 },
        withRandomZero: 12 * MINUTE,
        withRandomAlmostOne: 10 * MINUTE + 48 * SECOND,
      },
      {
        name: 'no jitter: random has no effect',
        lifetimeMs: HOUR,
        options: { jitterFraction: 0 },
        withRandomZero: 30 * MINUTE,
        withRandomAlmostOne: 30 * MINUTE,
      },
    ];

    for (const c of cases) {
      it(c.name, () => {
        const input: RefreshAtInput = {
          issuedAt: T0,
          expiration: T0 + c.lifetimeMs,
          nextRefreshTime:
            c.nextRefreshAfterMs === undefined ? undefined : T0 + c.nextRefreshAfterMs,
        };
        const atZero = refreshAt(input, { ...c.options, random: randomZero });
        const atAlmostOne = refreshAt(input, { ...c.options, random: randomAlmostOne });
        assert.equal(atZero - T0, c.withRandomZero, 'random() = 0');
        assert.equal(atAlmostOne - T0, c.withRandomAlmostOne, 'random() = 0.999…');
      });
    }

    it('spreads a 1 h credential over 27–30 min as random() varies', () => {
      const input = { issuedAt: T0, expiration: T0 + HOUR };
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, ALMOST_ONE]) {
        const at = refreshAt(input, { random: () => r }) - T0;
        assert.ok(at >= 27 * MINUTE && at <= 30 * MINUTE, `random ${r}: ${at}`);
        assert.equal(at, 30 * MINUTE - r * 3 * MINUTE);
      }
    });

    it('does not loop on a credential too short to serve', () => {
      // Each refresh fetches another 3 s credential with minRemaining 2 s; over a minute the
      // refreshes are at least the 1 s floor apart.
      let issuedAt = T0;
      let refreshes = 0;
      while (issuedAt < T0 + MINUTE) {
        const next = refreshAt(
          { issuedAt, expiration: issuedAt + 3 * SECOND },
          { minRemainingMs: 2 * SECOND, random: randomAlmostOne },
        );
        assert.ok(next - issuedAt >= SECOND, `refresh ${next - issuedAt} ms after issue`);
        issuedAt = next;
        refreshes++;
      }
      assert.equal(refreshes, 60);
    });

    it('calls random exactly once', () => {
      let calls = 0;
      refreshAt(
        { issuedAt: T0, expiration: T0 + HOUR },
        {
          random: () => {
            calls++;
            return 0.5;
          },
        },
      );
      assert.equal(calls, 1);
    });

    describe('rejects invalid input, naming the field', () => {
      const valid = { issuedAt: T0, expiration: T0 + HOUR };
      const rejections: readonly [string, RefreshAtInput, Partial<RefreshAtOptions>, RegExp][] = [
        ['expiration before issuedAt', { issuedAt: T0, expiration: T0 - 1 }, {}, /expiration/],
        ['expiration equal to issuedAt', { issuedAt: T0, expiration: T0 }, {}, /expiration/],
        ['NaN issuedAt', { issuedAt: Number.NaN, expiration: T0 }, {}, /issuedAt/],
        ['infinite expiration', { issuedAt: T0, expiration: Infinity }, {}, /expiration/],
        ['NaN nextRefreshTime', { ...valid, nextRefreshTime: Number.NaN }, {}, /nextRefreshTime/],
        ['negative minRemainingMs', valid, { minRemainingMs: -1 }, /minRemainingMs/],
        ['zero refreshFraction', valid, { refreshFraction: 0 }, /refreshFraction/],
        ['refreshFraction above 1', valid, { refreshFraction: 1.5 }, /refreshFraction/],
        ['negative jitterFraction', valid, { jitterFraction: -0.1 }, /jitterFraction/],
        [
          'NaN clientRefreshWindowMs',
          valid,
          { clientRefreshWindowMs: NaN },
          /clientRefreshWindowMs/,
        ],
        [
          'clientRefreshWindowMinFraction above 1',
          valid,
          { clientRefreshWindowMinFraction: 2 },
          /clientRefreshWindowMinFraction/,
        ],
        ['zero minRefreshIntervalMs', valid, { minRefreshIntervalMs: 0 }, /minRefreshIntervalMs/],
        [
          'negative minRefreshIntervalFraction',
          valid,
          { minRefreshIntervalFraction: -1 },
          /minRefreshIntervalFraction/,
        ],
        ['random() returning 1', valid, { random: () => 1 }, /random/],
        ['random() returning NaN', valid, { random: () => NaN }, /random/],
      ];
      for (const [name, input, options, message] of rejections) {
        it(name, () => {
          assert.throws(
            () => refreshAt(input, { random: randomZero, ...options }),
            (error: unknown) => error instanceof RangeError && message.test(error.message),
          );
        });
      }
    });

    describe('properties', () => {
      const fractionArb = fc.double({ min: 0, max: 1, noNaN: true });
      const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
      const optionsArb = fc.record(
        {
          minRemainingMs: fc.integer({ min: 0, max: 2 * HOUR }),
          refreshFraction: fc.double({ min: 0.001, max: 1, noNaN: true }),
          jitterFraction: fractionArb,
          clientRefreshWindowMs: fc.integer({ min: 0, max: 2 * HOUR }),
          clientRefreshWindowMinFraction: fractionArb,
          minRefreshIntervalMs: fc.integer({ min: 1, max: 10 * MINUTE }),
          minRefreshIntervalFraction: fractionArb,
        },
        { requiredKeys: [] },
      );
      const inputArb = fc
        .record({
          issuedAt: fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }),
          lifetimeMs: fc.integer({ min: 1, max: 24 * HOUR }),
          nextRefreshOffsetMs: fc.option(fc.integer({ min: -HOUR, max: 25 * HOUR }), {
            nil: undefined,
          }),
        })
        .map(({ issuedAt, lifetimeMs, nextRefreshOffsetMs }): RefreshAtInput => ({
          issuedAt,
          expiration: issuedAt + lifetimeMs,
          nextRefreshTime:
            nextRefreshOffsetMs === undefined ? undefined : issuedAt + nextRefreshOffsetMs,
        }));

      /** The documented floor, recomputed independently of the implementation. */
      function floorOf(input: RefreshAtInput, options: Omit<RefreshAtOptions, 'random'>): number {
        const lifetime = input.expiration - input.issuedAt;
        const interval = Math.max(
          options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS,
          (options.minRefreshIntervalFraction ?? DEFAULT_MIN_REFRESH_INTERVAL_FRACTION) * lifetime,
        );
        return Math.min(input.expiration, input.issuedAt + interval);
      }

      it('is strictly after issuedAt and no later than expiration', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, (input, options, r) => {
            const at = refreshAt(input, { ...options, random: () => r });
            return at > input.issuedAt && at <= input.expiration;
          }),
        );
      });

      it('is no later than nextRefreshTime when that is after the floor', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, (input, options, r) => {
            fc.pre(input.nextRefreshTime !== undefined);
            const at = refreshAt(input, { ...options, random: () => r });
            const nextRefreshTime = input.nextRefreshTime ?? Infinity;
            return nextRefreshTime <= floorOf(input, options) || at <= nextRefreshTime;
          }),
        );
      });

      it('is no later than expiration − minRemaining unless the floor forces it', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, (input, options, r) => {
            const at = refreshAt(input, { ...options, random: () => r });
            const minRemainingMs = options.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS;
            return at <= Math.max(floorOf(input, options), input.expiration - minRemainingMs);
          }),
        );
      });

      it('is never before the floor', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, (input, options, r) => {
            return refreshAt(input, { ...options, random: () => r }) >= floorOf(input, options);
          }),
        );
      });

      it('jitter only ever makes it earlier, and is deterministic for a given random', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, (input, options, r) => {
            const withoutJitter = refreshAt(input, { ...options, random: randomZero });
            const withJitter = refreshAt(input, { ...options, random: () => r });
            const again = refreshAt(input, { ...options, random: () => r });
            return withJitter <= withoutJitter && withJitter === again;
          }),
        );
      });

      it('is earlier or equal as random() grows', () => {
        fc.assert(
          fc.property(inputArb, optionsArb, randomArb, randomArb, (input, options, a, b) => {
            const [low, high] = a <= b ? [a, b] : [b, a];
            const atLow = refreshAt(input, { ...options, random: () => low });
            const atHigh = refreshAt(input, { ...options, random: () => high });
            return atHigh <= atLow;
          }),
        );
      });
    });
  });

  describe('backoffDelay', () => {
    const attempts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    /** Asserts each delay is within a millisecond below its bound, and never above it. */
    function assertNearBounds(delays: readonly number[], bounds: readonly number[]): void {
      assert.equal(delays.length, bounds.length);
      delays.forEach((delay, index) => {
        const bound = bounds[index] ?? Number.NaN;
        assert.ok(
          delay <= bound && delay > bound - 1,
          `attempt ${index + 1}: ${delay} vs ${bound}`,
        );
      });
    }

    it('doubles from 1 s to the 60 s cap, keeping at least half of each bound', () => {
      const bounds = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60].map((s) => s * SECOND);
      assert.deepEqual(
        attempts.map((a) => backoffDelay(a, { random: randomZero })),
        bounds.map((d) => d / 2),
      );
      assertNearBounds(
        attempts.map((a) => backoffDelay(a, { random: randomAlmostOne })),
        bounds,
      );
    });

    it('uses a longer base and cap when throttled: 5 s doubling to 120 s', () => {
      const bounds = [5, 10, 20, 40, 80, 120, 120, 120, 120, 120].map((s) => s * SECOND);
      assert.deepEqual(
        attempts.map((a) => backoffDelay(a, { throttled: true, random: randomZero })),
        bounds.map((d) => d / 2),
      );
      assertNearBounds(
        attempts.map((a) => backoffDelay(a, { throttled: true, random: randomAlmostOne })),
        bounds,
      );
    });

    it('honours custom bases and caps', () => {
      const options: BackoffDelayOptions = {
        baseDelayMs: 100,
        maxDelayMs: 1_000,
        throttledBaseDelayMs: 400,
        throttledMaxDelayMs: 3_000,
        random: randomZero,
      };
      assert.deepEqual(
        attempts.slice(0, 6).map((a) => backoffDelay(a, options)),
        [50, 100, 200, 400, 500, 500],
      );
      assert.deepEqual(
        attempts.slice(0, 6).map((a) => backoffDelay(a, { ...options, throttled: true })),
        [200, 400, 800, 1_500, 1_500, 1_500],
      );
    });

    it('is uniform between half the bound and the bound', () => {
      assert.equal(backoffDelay(3, { random: () => 0.5 }), 3_000);
      assert.equal(backoffDelay(3, { random: () => 0.25 }), 2_500);
    });

    it('stays at the cap for very large attempt numbers', () => {
      for (const attempt of [64, 1_024, 1_025, 100_000, Number.MAX_SAFE_INTEGER]) {
        assert.equal(backoffDelay(attempt, { random: randomZero }), 30_000);
        assert.equal(backoffDelay(attempt, { throttled: true, random: randomZero }), 60_000);
      }
    });

    describe('rejects invalid input, naming the field', () => {
      const rejections: readonly [string, number, Partial<BackoffDelayOptions>, RegExp][] = [
        ['attempt 0', 0, {}, /attempt/],
        ['a fractional attempt', 1.5, {}, /attempt/],
        ['a NaN attempt', Number.NaN, {}, /attempt/],
        ['an infinite attempt', Infinity, {}, /attempt/],
        ['zero baseDelayMs', 1, { baseDelayMs: 0 }, /baseDelayMs/],
        ['negative maxDelayMs', 1, { maxDelayMs: -5 }, /maxDelayMs/],
        [
          'infinite throttledMaxDelayMs',
          1,
          { throttled: true, throttledMaxDelayMs: Infinity },
          /throttledMaxDelayMs/,
        ],
        ['random() returning 1', 1, { random: () => 1 }, /random/],
      ];
      for (const [name, attempt, options, message] of rejections) {
        it(name, () => {
          assert.throws(
            () => backoffDelay(attempt, { random: randomZero, ...options }),
            (error: unknown) => error instanceof RangeError && message.test(error.message),
          );
        });
      }
    });

    describe('properties', () => {
      const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
      const optionsArb = fc.record(
        {
          baseDelayMs: fc.integer({ min: 1, max: 100_000 }),
          maxDelayMs: fc.integer({ min: 1, max: 10_000_000 }),
          throttled: fc.boolean(),
          throttledBaseDelayMs: fc.integer({ min: 1, max: 100_000 }),
          throttledMaxDelayMs: fc.integer({ min: 1, max: 10_000_000 }),
        },
        { requiredKeys: [] },
      );
      const attemptArb = fc.oneof(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      );

      /** The documented bound d, recomputed with exact-enough arithmetic for any attempt. */
      function boundOf(attempt: number, options: Omit<BackoffDelayOptions, 'random'>): number {
        const base = options.throttled
          ? (options.throttledBaseDelayMs ?? DEFAULT_THROTTLED_BACKOFF_BASE_DELAY_MS)
          : (options.baseDelayMs ?? DEFAULT_BACKOFF_BASE_DELAY_MS);
        const cap = options.throttled
          ? (options.throttledMaxDelayMs ?? DEFAULT_THROTTLED_BACKOFF_MAX_DELAY_MS)
          : (options.maxDelayMs ?? DEFAULT_BACKOFF_MAX_DELAY_MS);
        let bound = base;
        for (let i = 1; i < attempt && bound < cap; i++) bound *= 2;
        return Math.min(bound, cap);
      }

      it('is within [d/2, d] of its bound, finite, and never above the cap', () => {
        fc.assert(
          fc.property(attemptArb, optionsArb, randomArb, (attempt, options, r) => {
            const delay = backoffDelay(attempt, { ...options, random: () => r });
            const bound = boundOf(attempt, options);
            return Number.isFinite(delay) && delay >= bound / 2 && delay <= bound;
          }),
        );
      });

      it('is non-decreasing in attempt for a given random, and so is its upper bound', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 2_000 }),
            optionsArb,
            randomArb,
            (attempt, options, r) => {
              const next = (a: number, rr: number) =>
                backoffDelay(a, { ...options, random: () => rr });
              return (
                next(attempt, r) <= next(attempt + 1, r) &&
                next(attempt, ALMOST_ONE) <= next(attempt + 1, ALMOST_ONE) &&
                boundOf(attempt, options) <= boundOf(attempt + 1, options)
              );
            },
          ),
        );
      });

      it('waits at least as long when throttled, with the default bases and caps', () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 100 }), randomArb, (attempt, r) => {
            return (
              backoffDelay(attempt, { throttled: true, random: () => r }) >=
              backoffDelay(attempt, { random: () => r })
            );
          }),
        );
      });
    });
  });
});
