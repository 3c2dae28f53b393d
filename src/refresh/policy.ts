/**
 * Pure refresh policies: when to replace a cached credential in the background, and how long to
 * wait before retrying a refresh that failed. Nothing here reads the clock or draws random
 * numbers itself: times come in as epoch milliseconds and randomness as a `random` function
 * returning a number in [0, 1), so a given input and a given `random` always give one answer.
 */

import { DEFAULT_MIN_REMAINING_MS } from '../cache/credential-cache.js';

/** Default for `minRemainingMs`: the cache's own floor; it never serves a credential with less left. */
export { DEFAULT_MIN_REMAINING_MS };

/** Default for `refreshFraction`: refresh at half the credential's lifetime. */
export const DEFAULT_REFRESH_FRACTION = 0.5;

/** Default for `jitterFraction`: refresh up to 10 % of the time-to-refresh earlier. */
export const DEFAULT_JITTER_FRACTION = 0.1;

/**
 * Jitter of the first refresh after a cold load: up to 90 % of the time-to-refresh earlier. A
 * fleet started together loads together; the first refresh then lands anywhere between the floor
 * (5 % of the lifetime, a tenth of the time-to-refresh with the defaults) and the usual point, a
 * span nearly as long as one refresh cycle, so the fleet's refreshes are out of step from the
 * first cycle on, and the narrow jitter of later refreshes keeps them so (10 % alone spreads them
 * only slowly). Measured in bench/scenarios/fleet.ts: 1,000 daemons are then as spread as
 * independent random call times, for about 2.5 % more calls than a 50 % first jitter.
 */
export const DEFAULT_FIRST_JITTER_FRACTION = 0.9;

/**
 * Default for `clientRefreshWindowMs` (15 min). Clients refresh on their own when little
 * validity remains: botocore when less than 15 min remain, the AWS SDK for JavaScript when less
 * than 5 min. A credential replaced before it enters the widest of those windows means a client
 * that refreshes always gets a new credential rather than the one it already holds.
 */
export const DEFAULT_CLIENT_REFRESH_WINDOW_MS = 15 * 60_000;

/**
 * Default for `clientRefreshWindowMinFraction`: the client-window cap applies only when it
 * still leaves at least a quarter of the lifetime before the refresh.
 */
export const DEFAULT_CLIENT_REFRESH_WINDOW_MIN_FRACTION = 0.25;

/** Default for `minRefreshIntervalMs`: never refresh less than 1 s after issue. */
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 1_000;

/**
 * Default for `minRefreshIntervalFraction`: never refresh before 5 % of the lifetime has passed,
 * so a credential issued with a very short lifetime is refreshed at most about 20 times per
 * lifetime rather than in a tight loop.
 */
export const DEFAULT_MIN_REFRESH_INTERVAL_FRACTION = 0.05;

/** Default for `baseDelayMs`: the first retry of a failed refresh waits 0.5–1 s. */
export const DEFAULT_BACKOFF_BASE_DELAY_MS = 1_000;

/** Default for `maxDelayMs`: retries of a failed refresh wait at most 60 s. */
export const DEFAULT_BACKOFF_MAX_DELAY_MS = 60_000;

/** Default for `throttledBaseDelayMs`: the first retry after throttling waits 2.5–5 s. */
export const DEFAULT_THROTTLED_BACKOFF_BASE_DELAY_MS = 5_000;

/** Default for `throttledMaxDelayMs`: retries after throttling wait at most 120 s. */
export const DEFAULT_THROTTLED_BACKOFF_MAX_DELAY_MS = 120_000;

/** What `refreshAt` needs to know about an issued credential; all times in epoch ms. */
export interface RefreshAtInput {
  /** When the credential was received from upstream. */
  readonly issuedAt: number;
  /** When the credential stops being valid; must be after `issuedAt`. */
  readonly expiration: number;
  /** Redshift Serverless `nextRefreshTime`, when upstream sets one: refresh no later than this. */
  readonly nextRefreshTime?: number | undefined;
}

/** Tuning for `refreshAt`; every field but `random` has a default (`DEFAULT_*`). */
export interface RefreshAtOptions {
  /** The cache stops serving a credential with less validity left than this, in ms. */
  readonly minRemainingMs?: number | undefined;
  /** Share of the lifetime after which to refresh, in (0, 1]. */
  readonly refreshFraction?: number | undefined;
  /** Largest share of the time-to-refresh by which jitter moves the refresh earlier, in [0, 1]. */
  readonly jitterFraction?: number | undefined;
  /** Replace the credential before this much validity is left, when the lifetime allows (ms). */
  readonly clientRefreshWindowMs?: number | undefined;
  /**
   * The client-window cap applies only when `expiration − clientRefreshWindowMs` is at least
   * this share of the lifetime after `issuedAt`, in [0, 1].
   */
  readonly clientRefreshWindowMinFraction?: number | undefined;
  /** Never refresh sooner than this many ms after `issuedAt`; at least 1. */
  readonly minRefreshIntervalMs?: number | undefined;
  /** Never refresh before this share of the lifetime has passed, in [0, 1]. */
  readonly minRefreshIntervalFraction?: number | undefined;
  /** Source of jitter: returns a number in [0, 1). Called exactly once per `refreshAt`. */
  readonly random: () => number;
}

/**
 * When (epoch ms) to refresh a credential in the background.
 *
 * With `lifetime = expiration − issuedAt`, the answer is computed in four steps:
 *
 * 1. The latest acceptable point is the earliest of
 *    - `issuedAt + refreshFraction × lifetime` (half-life by default);
 *    - `nextRefreshTime`, when set (Redshift Serverless says when it wants a new password);
 *    - `expiration − minRemainingMs`: the cache stops serving a credential with less than that
 *      left, so the replacement must be under way before then;
 *    - `expiration − clientRefreshWindowMs`, but only when that point is still at least
 *      `clientRefreshWindowMinFraction × lifetime` after `issuedAt`. Long credentials are then
 *      replaced before clients (botocore: < 15 min left) start refreshing on their own, and a
 *      client that refreshes gets a new credential. Short ones (a 900 s credential is inside the
 *      window the moment it is issued) cannot be helped, and capping them would only multiply
 *      upstream calls, so the cap is dropped. With the defaults the cap binds only for lifetimes
 *      from 20 min to just under 30 min; the step at 20 min (refresh at 25 % above it, at 50 %
 *      below it) is deliberate.
 * 2. Jitter moves it earlier, never later, so a fleet started together spreads its refreshes
 *    out: `latest − random() × jitterFraction × (latest − issuedAt)`.
 * 3. A floor keeps short lifetimes from causing refresh loops: the answer is never before
 *    `issuedAt + max(minRefreshIntervalMs, minRefreshIntervalFraction × lifetime)`. When the floor
 *    is after `expiration − minRemainingMs` (a credential too short to be served for long, or a
 *    `nextRefreshTime` at or before issue), the floor is returned anyway: refreshing
 *    immediately would only fetch another credential just as short, in a loop, whereas refreshing
 *    at the floor bounds the upstream rate at one call per floor interval per key.
 * 4. Nothing is later than `expiration`: a credential whose whole lifetime is shorter than the
 *    floor is refreshed when it expires.
 *
 * So `issuedAt < result ≤ expiration` for every valid input.
 *
 * @throws RangeError when a time is not finite, `expiration` is not after `issuedAt`, an option
 *   is out of range, or `random()` returns a value outside [0, 1); the message names the field.
 */
export function refreshAt(input: RefreshAtInput, options: RefreshAtOptions): number {
  const { issuedAt, expiration, nextRefreshTime } = input;
  requireFinite('refreshAt', 'issuedAt', issuedAt);
  requireFinite('refreshAt', 'expiration', expiration);
  if (!(expiration > issuedAt)) {
    throw new RangeError(
      `refreshAt: expiration (${expiration}) must be after issuedAt (${issuedAt})`,
    );
  }
  if (nextRefreshTime !== undefined) requireFinite('refreshAt', 'nextRefreshTime', nextRefreshTime);

  const minRemainingMs = atLeast(
    'minRemainingMs',
    options.minRemainingMs,
    DEFAULT_MIN_REMAINING_MS,
  );
  const refreshFraction = fraction(
    'refreshFraction',
    options.refreshFraction,
    DEFAULT_REFRESH_FRACTION,
  );
  if (refreshFraction === 0) {
    throw new RangeError('refreshAt: options.refreshFraction must be in (0, 1], got 0');
  }
  const jitterFraction = fraction(
    'jitterFraction',
    options.jitterFraction,
    DEFAULT_JITTER_FRACTION,
  );
  const clientRefreshWindowMs = atLeast(
    'clientRefreshWindowMs',
    options.clientRefreshWindowMs,
    DEFAULT_CLIENT_REFRESH_WINDOW_MS,
  );
  const clientRefreshWindowMinFraction = fraction(
    'clientRefreshWindowMinFraction',
    options.clientRefreshWindowMinFraction,
    DEFAULT_CLIENT_REFRESH_WINDOW_MIN_FRACTION,
  );
  const minRefreshIntervalMs = atLeast(
    'minRefreshIntervalMs',
    options.minRefreshIntervalMs,
    DEFAULT_MIN_REFRESH_INTERVAL_MS,
  );
  if (minRefreshIntervalMs < 1) {
    throw new RangeError(
      `refreshAt: options.minRefreshIntervalMs must be at least 1, got ${minRefreshIntervalMs}`,
    );
  }
  const minRefreshIntervalFraction = fraction(
    'minRefreshIntervalFraction',
    options.minRefreshIntervalFraction,
    DEFAULT_MIN_REFRESH_INTERVAL_FRACTION,
  );
  const random = draw('refreshAt', options.random);

  const lifetime = expiration - issuedAt;

  // 1. The latest acceptable point.
  let latest = issuedAt + refreshFraction * lifetime;
  if (nextRefreshTime !== undefined) latest = Math.min(latest, nextRefreshTime);
  latest = Math.min(latest, expiration - minRemainingMs);
  const clientWindowStart = expiration - clientRefreshWindowMs;
  if (clientWindowStart >= issuedAt + clientRefreshWindowMinFraction * lifetime) {
    latest = Math.min(latest, clientWindowStart);
  }

  // 2. Jitter, earlier only (no span when `latest` is already at or before issue).
  const jittered = latest - random * jitterFraction * Math.max(0, latest - issuedAt);

  // 3 and 4. The floor, itself never after expiration.
  const floor = Math.min(
    expiration,
    issuedAt + Math.max(minRefreshIntervalMs, minRefreshIntervalFraction * lifetime),
  );
  return Math.min(expiration, Math.max(jittered, floor));
}

/** Tuning for `backoffDelay`; every field but `random` has a default (`DEFAULT_*`). */
export interface BackoffDelayOptions {
  /** Delay bound for the first retry, in ms; doubles with each attempt. Must be positive. */
  readonly baseDelayMs?: number | undefined;
  /** Largest delay bound, in ms. Must be positive. */
  readonly maxDelayMs?: number | undefined;
  /** Whether the failure was throttling: then the `throttled*` base and cap apply instead. */
  readonly throttled?: boolean | undefined;
  /** `baseDelayMs` used when `throttled`, in ms. Must be positive. */
  readonly throttledBaseDelayMs?: number | undefined;
  /** `maxDelayMs` used when `throttled`, in ms. Must be positive. */
  readonly throttledMaxDelayMs?: number | undefined;
  /** Source of jitter: returns a number in [0, 1). Called exactly once per `backoffDelay`. */
  readonly random: () => number;
}

/**
 * The delay in ms before retry number `attempt` (1 = the first retry) of a failed refresh:
 * capped exponential backoff with "equal jitter". With `d = min(maxDelayMs, baseDelayMs ×
 * 2^(attempt − 1))`, the result is `d/2 + random() × d/2`, uniform in [d/2, d): half the delay is
 * kept so a retry is never immediate, half is random so a fleet failing together does not retry
 * together. Throttling uses the larger `throttledBaseDelayMs` and `throttledMaxDelayMs`.
 * Any attempt number, however large, gives a finite delay no more than the cap.
 *
 * @throws RangeError when `attempt` is not an integer ≥ 1, a delay option is not a positive
 *   finite number, or `random()` returns a value outside [0, 1); the message names the field.
 */
export function backoffDelay(attempt: number, options: BackoffDelayOptions): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`backoffDelay: attempt must be an integer ≥ 1, got ${attempt}`);
  }
  const throttled = options.throttled === true;
  const baseDelayMs = throttled
    ? positive(
        'throttledBaseDelayMs',
        options.throttledBaseDelayMs,
        DEFAULT_THROTTLED_BACKOFF_BASE_DELAY_MS,
      )
    : positive('baseDelayMs', options.baseDelayMs, DEFAULT_BACKOFF_BASE_DELAY_MS);
  const maxDelayMs = throttled
    ? positive(
        'throttledMaxDelayMs',
        options.throttledMaxDelayMs,
        DEFAULT_THROTTLED_BACKOFF_MAX_DELAY_MS,
      )
    : positive('maxDelayMs', options.maxDelayMs, DEFAULT_BACKOFF_MAX_DELAY_MS);
  const random = draw('backoffDelay', options.random);

  // Past 2^1023 the product is Infinity at best; stop doubling once the cap is certainly reached
  // so no intermediate value overflows or turns into NaN.
  const doublings = Math.min(attempt - 1, 1_023);
  const bound = Math.min(maxDelayMs, baseDelayMs * 2 ** doublings);
  const half = bound / 2;
  return half + random * half;
}

function requireFinite(fn: string, field: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${fn}: ${field} must be a finite number, got ${String(value)}`);
  }
}

/** An option that must be a finite number ≥ 0, or its default when absent. */
function atLeast(field: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved < 0) {
    throw new RangeError(
      `refreshAt: options.${field} must be a finite number ≥ 0, got ${String(resolved)}`,
    );
  }
  return resolved;
}

/** An option that must be a fraction in [0, 1], or its default when absent. */
function fraction(field: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!(resolved >= 0 && resolved <= 1)) {
    throw new RangeError(`refreshAt: options.${field} must be in [0, 1], got ${String(resolved)}`);
  }
  return resolved;
}

/** A backoff option that must be a positive finite number, or its default when absent. */
function positive(field: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved <= 0) {
    throw new RangeError(
      `backoffDelay: options.${field} must be a positive finite number, got ${String(resolved)}`,
    );
  }
  return resolved;
}

/** Calls `random` once and checks that it kept its side of the contract. */
function draw(fn: string, random: () => number): number {
  const value = random();
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`${fn}: options.random() must return a number in [0, 1), got ${value}`);
  }
  return value;
}
