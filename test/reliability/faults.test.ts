/**
 * Faults under load. While several clients poll the daemon over loopback HTTP — the target route
 * (container-credentials and Redshift shapes), the three query routes, and in two cases the AWS
 * SDK's own container-credentials provider — faults are injected through the emulator's control
 * API: a total outage, a throttling storm, latency spikes, hangs, revocation, and a retry storm
 * on one failing operation. Every answer is held to docs/api.md and docs/engine.md: a cached credential
 * that is still valid keeps being served (hit, or stale while its refresh fails), never with less
 * than `minRemainingSeconds` left; every error is a documented code with its status (and
 * `Retry-After` when retryable); once the fault clears, every key serves a fresh credential within
 * the backoff bound; revocation reaches clients at the next refresh; no secret reaches an error
 * body or a log line.
 *
 * Real time: `startDaemon` takes a clock, but the built-in emulator `useDaemon` starts stamps
 * expirations and holds latency faults on the system clock, and a hang ends at the SDK's own
 * request timeout, so virtual time would not make these runs exact; credentials live seconds
 * (`credentialLifetimeSeconds`) with `minRemainingSeconds: 1`. Where the daemon's own state makes
 * an assertion exact, it is used: scheduled retry times from the scheduler, failure and eviction
 * times from the daemon's log, issue times and scopes from the emulator. Deadlines are derived
 * from `backoffDelay` and the configuration plus one call's slack; conditions are polled for with
 * a deadline, not slept on. Clients wait as `Retry-After` says, except the retry storm's.
 *
 * The last suite is the regression test, in virtual time, of the bug the retry storm found: a
 * client miss that joined a background refresh still queued in the upstream budget waited with
 * background priority, behind every other client's miss.
 */
import assert from 'node:assert/strict';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { type CacheEntry, CredentialCache } from '../../src/cache/credential-cache.js';
import { type CredentialKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { OperationName } from '../../src/emulator/state.js';
import type {
  DatabaseCredentials,
  IssuedCredentials,
  S3Credentials,
  TableCredentialsRequest,
} from '../../src/providers/types.js';
import { UpstreamBudget } from '../../src/refresh/budget.js';
import { backoffDelay } from '../../src/refresh/policy.js';
import { budgetedFetcher, providerFetcher } from '../../src/refresh/upstream-load.js';
import { type DaemonHandle, TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

const MIN_REMAINING_S = 1;
const MIN_REMAINING_MS = MIN_REMAINING_S * 1000;
/**
 * Besides one client per path, clients that poll every path in turn (as an engine reading several
 * tables would): one of them may wait on a failing path while the others go on.
 */
const ROAMING_CLIENTS = 2;
const POLL_PAUSE_MS = 10;
/**
 * One upstream call to the in-process emulator plus a client's next poll, with room for a loaded
 * two-core machine: the slack on top of every derived deadline.
 */
const CALL_SLACK_MS = 1_000;
/** How long the load keeps running once every path has recovered. */
const AFTER_RECOVERY_MS = 150;

/** A table no fault test denies: query routes ask for it. */
const RETURNS_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/returns';

type Format = 'container' | 'lakeformation' | 'redshift';

/** A path the clients poll, the shape its answers take and the upstream operation behind it. */
interface Polled {
  readonly name: string;
  readonly path: string;
  readonly format: Format;
  readonly operation: OperationName;
}

const ORDERS: Polled = {
  name: 'target orders',
  path: '/v1/targets/orders',
  format: 'container',
  operation: 'GetTemporaryGlueTableCredentials',
};
const ORDERS_2026: Polled = {
  name: 'target orders-2026',
  path: '/v1/targets/orders-2026',
  format: 'container',
  operation: 'GetTemporaryGluePartitionCredentials',
};
const WAREHOUSE: Polled = {
  name: 'target warehouse',
  path: '/v1/targets/warehouse',
  format: 'redshift',
  operation: 'GetCredentials',
};
const RETURNS_TABLE: Polled = {
  name: 'table query',
  path: `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(RETURNS_ARN)}&permissions=SELECT,DESCRIBE&durationSeconds=900`,
  format: 'lakeformation',
  operation: 'GetTemporaryGlueTableCredentials',
};
const RETURNS_PARTITION: Polled = {
  name: 'partition query',
  path: `/v1/lakeformation/partition-credentials?tableArn=${encodeURIComponent(RETURNS_ARN)}&permissions=SELECT&values=2025&values=12`,
  format: 'lakeformation',
  operation: 'GetTemporaryGluePartitionCredentials',
};
const REPORTING: Polled = {
  name: 'redshift query',
  path: '/v1/redshift-serverless/credentials?workgroupName=reporting&dbName=dev',
  format: 'redshift',
  operation: 'GetCredentials',
};
const TARGET_PATHS = [ORDERS, ORDERS_2026, WAREHOUSE];
const QUERY_PATHS = [RETURNS_TABLE, RETURNS_PARTITION, REPORTING];
const ALL_PATHS = [...TARGET_PATHS, ...QUERY_PATHS];

/** docs/api.md, "Errors": every code a client may get, its status, and whether it is retryable. */
const DOCUMENTED_ERRORS: Readonly<
  Record<string, { readonly status: number; readonly retryable: boolean }>
> = {
  InvalidRequest: { status: 400, retryable: false },
  Unauthorized: { status: 401, retryable: false },
  Forbidden: { status: 403, retryable: false },
  NotFound: { status: 404, retryable: false },
  MethodNotAllowed: { status: 405, retryable: false },
  PayloadTooLarge: { status: 413, retryable: false },
  UpstreamAccessDenied: { status: 403, retryable: false },
  UpstreamNotFound: { status: 404, retryable: false },
  UpstreamInvalidInput: { status: 400, retryable: false },
  UpstreamPermissionTypeMismatch: { status: 409, retryable: false },
  UpstreamThrottled: { status: 503, retryable: true },
  UpstreamUnavailable: { status: 502, retryable: true },
  UpstreamTimeout: { status: 504, retryable: true },
};

/**
 * The wait before retry `attempt` of a failed background refresh, from the policy itself:
 * `backoffDelay` is `d/2 + random × d/2` with `random` in [0, 1) and
 * `d = min(max, base × 2^(attempt − 1))` ("equal jitter"), so its value at `random = 0` is the
 * least wait and twice that is above every wait. The daemon builds its engine without a
 * `backoffPolicy` (src/daemon/main.ts), so the policy's defaults are the daemon's: 0.5–1 s before
 * the first retry, doubling; 2.5–5 s after throttling.
 */
function backoffWindow(attempt: number, throttled: boolean): { least: number; bound: number } {
  const least = backoffDelay(attempt, { throttled, random: () => 0 });
  return { least, bound: 2 * least };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function waitFor(what: string, condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${withinMs} ms waiting until ${what}`);
    await sleep(20);
  }
}

// ---- the load ----

interface Sample {
  readonly polled: Polled;
  readonly sentAt: number;
  readonly receivedAt: number;
  /** 0 when the request itself failed (connection refused or reset). */
  readonly status: number;
  readonly result: string | null;
  readonly retryAfter: string | null;
  readonly cacheControl: string | null;
  readonly text: string;
  readonly json: unknown;
}

/** One answer of the AWS SDK's container-credentials provider. */
interface SdkSample {
  readonly sentAt: number;
  readonly accessKeyId?: string;
  readonly expiration?: number;
  readonly error?: string;
}

async function sample(url: string, polled: Polled): Promise<Sample> {
  const sentAt = Date.now();
  try {
    const response = await fetch(`${url}${polled.path}`, { headers: { authorization: TOKEN } });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      polled,
      sentAt,
      receivedAt: Date.now(),
      status: response.status,
      result: response.headers.get('x-credcache-result'),
      retryAfter: response.headers.get('retry-after'),
      cacheControl: response.headers.get('cache-control'),
      text,
      json,
    };
  } catch (error) {
    const text = String(error);
    return {
      polled,
      sentAt,
      receivedAt: Date.now(),
      status: 0,
      result: null,
      retryAfter: null,
      cacheControl: null,
      text,
      json: undefined,
    };
  }
}

interface LoadOptions {
  /** The AWS SDK's container-credentials provider polls this target too. */
  readonly sdk?: { readonly target: Polled; readonly timeoutMs: number };
  /**
   * Clients that retry at once, ignoring `Retry-After` (a retry storm), one per path and no
   * roaming ones. By default clients wait as `Retry-After` says, as the API means them to.
   */
  readonly storm?: boolean;
}

/**
 * HTTP clients polling continuously until stopped — one per path, and `ROAMING_CLIENTS` going
 * through all of them — plus optionally the AWS SDK's container-credentials provider on one
 * target. Every answer is kept, in the order received.
 */
class Load {
  readonly samples: Sample[] = [];
  readonly sdkSamples: SdkSample[] = [];
  #running = true;
  readonly #workers: Promise<void>[] = [];
  readonly #timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  constructor(url: string, paths: readonly Polled[], options: LoadOptions = {}) {
    const storm = options.storm === true;
    for (const polled of paths) this.#workers.push(this.#poll(url, [polled], 0, storm));
    for (let client = 0; client < (storm ? 0 : ROAMING_CLIENTS); client++) {
      this.#workers.push(this.#poll(url, paths, client, false));
    }
    if (options.sdk) this.#workers.push(this.#pollWithSdk(url, options.sdk));
  }

  async #poll(url: string, paths: readonly Polled[], first: number, storm: boolean) {
    for (let turn = first; this.#running; turn++) {
      const polled = paths[turn % paths.length];
      if (!polled) return;
      const answer = await sample(url, polled);
      this.samples.push(answer);
      if (storm) continue;
      const retryAfter = answer.status === 200 ? Number.NaN : Number(answer.retryAfter ?? '');
      await this.#pause(Number.isFinite(retryAfter) ? retryAfter * 1000 : POLL_PAUSE_MS);
    }
  }

  /** The JS SDK reading the target as `AWS_CONTAINER_CREDENTIALS_FULL_URI`, without retries. */
  async #pollWithSdk(url: string, sdk: NonNullable<LoadOptions['sdk']>): Promise<void> {
    while (this.#running) {
      const sentAt = Date.now();
      try {
        const credentials = await fromHttp({
          awsContainerCredentialsFullUri: `${url}${sdk.target.path}`,
          awsContainerAuthorizationToken: TOKEN,
          maxRetries: 0,
          timeout: sdk.timeoutMs,
        })();
        this.sdkSamples.push({
          sentAt,
          accessKeyId: credentials.accessKeyId,
          ...(credentials.expiration && { expiration: credentials.expiration.getTime() }),
        });
      } catch (error) {
        this.sdkSamples.push({ sentAt, error: String(error) });
      }
      await this.#pause(5 * POLL_PAUSE_MS);
    }
  }

  /** A pause that `stop` cuts short. */
  #pause(ms: number): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#timers.add(entry);
    });
  }

  of(polled: Polled): Sample[] {
    return this.samples.filter((s) => s.polled === polled);
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const { timer, wake } of this.#timers) {
      clearTimeout(timer);
      wake();
    }
    this.#timers.clear();
    await Promise.all(this.#workers);
  }
}

// ---- reading answers ----

interface Served {
  readonly id: string;
  readonly expiration: number;
  readonly secrets: readonly string[];
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The credential of a 200 answer, its body held to the shape of its format (docs/api.md). */
function served(s: Sample): Served {
  assert.equal(s.status, 200);
  const body = s.json as Record<string, unknown>;
  assert.equal(typeof body, 'object', `${s.polled.name}: a JSON body`);
  const text = (field: string): string => {
    const value = body[field];
    assert.equal(typeof value, 'string', `${s.polled.name}: ${field} is a string`);
    return value as string;
  };
  const time = (field: string): number => {
    const value = text(field);
    assert.match(value, ISO_UTC, `${s.polled.name}: ${field} is ISO-8601 UTC ending in Z`);
    return Date.parse(value);
  };
  const fields = Object.keys(body).sort();
  switch (s.polled.format) {
    case 'container':
      assert.deepEqual(fields, ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
      return {
        id: text('AccessKeyId'),
        expiration: time('Expiration'),
        secrets: [text('SecretAccessKey'), text('Token')],
      };
    case 'lakeformation':
      assert.deepEqual(
        fields.filter((field) => field !== 'VendedS3Path'),
        ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'SessionToken'],
      );
      return {
        id: text('AccessKeyId'),
        expiration: time('Expiration'),
        secrets: [text('SecretAccessKey'), text('SessionToken')],
      };
    case 'redshift':
      assert.deepEqual(
        fields.filter((field) => field !== 'nextRefreshTime'),
        ['dbPassword', 'dbUser', 'expiration'],
      );
      // The emulator names a Redshift credential by its password.
      return {
        id: text('dbPassword'),
        expiration: time('expiration'),
        secrets: [text('dbPassword')],
      };
  }
}

/** The error of a non-200 answer, held to the API's error table (docs/api.md). */
function documentedError(s: Sample): { code: string; retryable: boolean } {
  assert.notEqual(s.status, 0, `${s.polled.name}: the request failed: ${s.text}`);
  const error = (s.json as { error?: { code?: unknown; message?: unknown; retryable?: unknown } })
    .error;
  assert.ok(error, `${s.polled.name}: status ${s.status} with an error body (got ${s.text})`);
  const { code, message, retryable } = error;
  assert.equal(typeof code, 'string');
  const documented = DOCUMENTED_ERRORS[code as string];
  assert.ok(documented, `${String(code)} is a code of the API's error table (docs/api.md)`);
  assert.equal(s.status, documented.status, `${String(code)} travels with ${documented.status}`);
  assert.equal(retryable, documented.retryable, `${String(code)}: retryable`);
  assert.ok(typeof message === 'string' && message !== '', `${String(code)}: a message`);
  if (documented.retryable) {
    assert.match(s.retryAfter ?? '', /^[1-9]\d*$/, `${String(code)}: Retry-After in seconds`);
  }
  return { code: code as string, retryable: documented.retryable };
}

/**
 * What docs/api.md holds for every answer, fault or not. A credential carries `no-store` and a
 * cache result, is exactly what the emulator issued for that operation, and had at least
 * `minRemainingSeconds` left when the daemon answered (it answered after the request was sent, so
 * `Expiration − sentAt` is a lower bound). Anything else is a documented error, of one of the
 * codes this fault may cause.
 */
function checkAnswers(
  samples: readonly Sample[],
  emulator: RunningEmulator,
  allowedErrors: readonly string[],
): void {
  assert.ok(samples.length > 0, 'clients were answered');
  for (const s of samples) {
    if (s.status !== 200) {
      const { code } = documentedError(s);
      assert.ok(
        allowedErrors.includes(code),
        `${s.polled.name}: ${code} is not caused by this fault`,
      );
      continue;
    }
    assert.equal(s.cacheControl, 'no-store');
    assert.ok(['hit', 'miss', 'coalesced', 'stale'].includes(s.result ?? ''), `result ${s.result}`);
    const credential = served(s);
    const left = credential.expiration - s.sentAt;
    assert.ok(left >= MIN_REMAINING_MS, `${s.polled.name}: served with ${left} ms left`);
    const issued = emulator.state.lookup(credential.id);
    assert.ok(issued, `${s.polled.name}: the emulator issued the credential served`);
    assert.equal(issued.operation, s.polled.operation);
    assert.equal(issued.expiration, credential.expiration);
  }
}

/**
 * From the fault until the path served a fresh credential (`recovery`), it answered only from its
 * cached credential: `hit`, or `stale` once its refresh had failed (and never `hit` again), always
 * with a credential issued before the fault; or a documented error once that credential could no
 * longer be served.
 */
function checkServedFromCache(
  load: Load,
  emulator: RunningEmulator,
  polled: Polled,
  fault: { readonly from: number; readonly recovery: Sample; readonly servableUntil: number },
): { stale: number } {
  const answers = load.of(polled);
  const during = answers
    .slice(0, answers.indexOf(fault.recovery))
    .filter((s) => s.sentAt >= fault.from);
  assert.ok(during.length > 0, `${polled.name}: answered during the fault`);
  let firstStale: number | undefined;
  let stale = 0;
  for (const s of during) {
    if (s.status !== 200) {
      assert.ok(
        s.receivedAt >= fault.servableUntil,
        `${polled.name}: an error ${fault.servableUntil - s.receivedAt} ms before the cached credential ran out`,
      );
      continue;
    }
    assert.ok(
      s.result === 'hit' || s.result === 'stale',
      `${polled.name}: ${s.result} during the fault`,
    );
    const issued = emulator.state.lookup(served(s).id);
    assert.ok(issued && issued.issuedAt < fault.from, `${polled.name}: issued before the fault`);
    if (s.result === 'stale') {
      stale++;
      firstStale ??= s.receivedAt;
    } else if (firstStale !== undefined) {
      assert.ok(
        s.sentAt <= firstStale,
        `${polled.name}: hit again after stale, with upstream down`,
      );
    }
  }
  return { stale };
}

// ---- the daemon's state and log ----

function emulatorOf(daemon: DaemonHandle): RunningEmulator {
  const emulator = daemon.current.emulator;
  assert.ok(emulator, 'the daemon runs the built-in emulator');
  return emulator;
}

async function control(daemon: DaemonHandle, path: string, body: unknown): Promise<void> {
  const answer = await daemon.control(path, body);
  assert.equal(answer.status, 200, `control ${path}: ${JSON.stringify(answer.body)}`);
}

function credentialId(entry: CacheEntry): string {
  const credentials = entry.issued.credentials as { accessKeyId?: string; dbPassword?: string };
  return credentials.accessKeyId ?? credentials.dbPassword ?? '';
}

function entryOf(daemon: DaemonHandle, key: CredentialKey | undefined): CacheEntry | undefined {
  return key && daemon.current.engine.cache.peek(key);
}

/**
 * Seconds-long credentials everywhere: the targets (prewarmed at start with hour-long ones) are
 * refreshed with `targetSeconds`, then every query path is asked once, loading `querySeconds`.
 * Returns the cache key behind each path.
 */
async function prepare(
  daemon: DaemonHandle,
  lifetimes: { readonly targetSeconds: number; readonly querySeconds: number },
): Promise<Map<Polled, CredentialKey>> {
  const { cache } = daemon.current.engine;
  await control(daemon, 'config', { credentialLifetimeSeconds: lifetimes.targetSeconds });
  await Promise.all(cache.entries().map((entry) => cache.refresh(entry.key)));
  await control(daemon, 'config', { credentialLifetimeSeconds: lifetimes.querySeconds });
  const keys = new Map<Polled, CredentialKey>();
  for (const polled of ALL_PATHS) {
    const answer = await sample(daemon.url, polled);
    assert.equal(answer.status, 200, `${polled.name}: ${answer.text}`);
    const id = served(answer).id;
    const entry = cache.entries().find((candidate) => credentialId(candidate) === id);
    assert.ok(entry, `${polled.name}: cached`);
    keys.set(polled, entry.key);
  }
  assert.equal(keys.size, ALL_PATHS.length);
  return keys;
}

function keyOf(keys: ReadonlyMap<Polled, CredentialKey>, polled: Polled): CredentialKey {
  const key = keys.get(polled);
  assert.ok(key);
  return key;
}

interface LogLine {
  readonly time: string;
  readonly msg: string;
  readonly key?: unknown;
  readonly source?: string;
  readonly error?: string;
  readonly kind?: string;
}

function logLines(daemon: DaemonHandle): LogLine[] {
  return daemon.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/** Log lines with message `msg` about `key` (the daemon logs a key's non-secret fields). */
function logsAbout(daemon: DaemonHandle, msg: string, key: CredentialKey): LogLine[] {
  const fields = JSON.stringify({ source: key.source, ...key.request });
  return logLines(daemon).filter((line) => line.msg === msg && JSON.stringify(line.key) === fields);
}

const timeOf = (line: LogLine) => Date.parse(line.time);

/** The first answer of `polled` with a credential the emulator issued after `after`. */
function firstFresh(load: Load, emulator: RunningEmulator, polled: Polled, after: number) {
  return load
    .of(polled)
    .filter((s) => s.status === 200)
    .find((s) => (emulator.state.lookup(served(s).id)?.issuedAt ?? 0) > after);
}

/**
 * After the fault clears at `clearedAt`, a path serves a fresh credential no later than its key's
 * next background retry — less than `backoffWindow(n).bound` after its n-th (last) failed refresh
 * — or, once its cached credential ran out, a client's next miss (clients come back when
 * `Retry-After` said); plus calls still in flight when the fault cleared (`inFlightMs`) and one
 * call's slack. From then on every answer is fresh. Consecutive failed refreshes are at least the
 * policy's least wait apart.
 */
function checkRecovered(
  daemon: DaemonHandle,
  load: Load,
  polled: Polled,
  key: CredentialKey,
  options: { readonly clearedAt: number; readonly throttled: boolean; readonly inFlightMs: number },
): void {
  const emulator = emulatorOf(daemon);
  const recovery = firstFresh(load, emulator, polled, options.clearedAt);
  assert.ok(recovery, `${polled.name}: a credential issued after the fault cleared was served`);
  const failures = logsAbout(daemon, 'background refresh failed', key)
    .map(timeOf)
    .filter((at) => at <= recovery.receivedAt);
  assert.ok(failures.length >= 1, `${polled.name}: its background refresh failed`);
  for (let attempt = 1; attempt < failures.length; attempt++) {
    const gap = (failures[attempt] ?? 0) - (failures[attempt - 1] ?? 0);
    const { least } = backoffWindow(attempt, options.throttled);
    // Log times are whole milliseconds: a millisecond either way.
    assert.ok(gap >= least - 1, `${polled.name}: retry ${attempt} after ${gap} ms < ${least} ms`);
  }
  const last = failures[failures.length - 1] ?? 0;
  const retryBy = last + backoffWindow(failures.length, options.throttled).bound;
  // A client told to come back in Retry-After seconds comes back then.
  const clientsBack = Math.max(
    0,
    ...load
      .of(polled)
      .filter((s) => s.status !== 200 && s.receivedAt < recovery.receivedAt)
      .map((s) => s.receivedAt + Number(s.retryAfter ?? 0) * 1000),
  );
  const deadline =
    Math.max(options.clearedAt + options.inFlightMs, retryBy, clientsBack) + CALL_SLACK_MS;
  assert.ok(
    recovery.receivedAt <= deadline,
    `${polled.name}: recovered ${recovery.receivedAt - deadline} ms after the backoff bound ` +
      `(${failures.length} failed refreshes, cleared ${recovery.receivedAt - options.clearedAt} ms before)`,
  );
  for (const s of load.of(polled).filter((later) => later.sentAt > recovery.receivedAt)) {
    assert.equal(s.status, 200, `${polled.name}: ${s.text} after recovery`);
    assert.notEqual(s.result, 'stale', `${polled.name}: stale after recovery`);
  }
}

/** Every secret the emulator issued or a client was served, searched for in errors and logs. */
function checkNoSecretLeaks(daemon: DaemonHandle, load: Load): void {
  const emulator = emulatorOf(daemon);
  const secrets = new Set<string>([TOKEN]);
  for (const issued of emulator.state.issuedCredentials()) {
    if (issued.secretAccessKey !== undefined) secrets.add(issued.secretAccessKey);
    if (issued.operation === 'GetCredentials') secrets.add(issued.id); // the password
  }
  for (const s of load.samples) {
    if (s.status === 200) for (const secret of served(s).secrets) secrets.add(secret);
  }
  assert.ok(secrets.size > ALL_PATHS.length, `${secrets.size} secrets to look for`);
  const errors = [
    ...load.samples.filter((s) => s.status !== 200).map((s) => s.text),
    ...load.sdkSamples.map((s) => s.error ?? ''),
  ].join('\n');
  const logs = daemon.logs.join('');
  assert.ok(logs.length > 0);
  for (const secret of secrets) {
    assert.ok(!errors.includes(secret), 'a secret appeared in an error body');
    assert.ok(!logs.includes(secret), "a secret appeared in the daemon's logs");
  }
}

/** When each path's cached credential stops being servable (`cache.minRemainingSeconds`). */
function servableUntil(
  daemon: DaemonHandle,
  keys: ReadonlyMap<Polled, CredentialKey>,
): Map<Polled, number> {
  const until = new Map<Polled, number>();
  for (const [polled, key] of keys) {
    const entry = entryOf(daemon, key);
    assert.ok(entry, `${polled.name}: cached when the fault began`);
    until.set(polled, entry.issued.expiration - MIN_REMAINING_MS);
  }
  return until;
}

function issuedBetween(emulator: RunningEmulator, from: number, to: number): string[] {
  return emulator.state
    .issuedCredentials()
    .filter((issued) => issued.issuedAt >= from && issued.issuedAt < to)
    .map((issued) => issued.operation);
}

/** Runs `body` while `load` polls, and stops the load whatever happens. */
async function underLoad<T>(load: Load, body: () => Promise<T>): Promise<T> {
  try {
    await waitFor(
      'every path answered',
      () => ALL_PATHS.every((p) => load.of(p).length > 0),
      5_000,
    );
    return await body();
  } finally {
    await load.stop();
  }
}

interface FaultRun {
  /** Set after the fault was in place. */
  readonly from: number;
  /** Set before the fault was cleared. */
  readonly clearedAt: number;
  /** When each path's cached credential (the one held when the fault began) ran out. */
  readonly until: ReadonlyMap<Polled, number>;
}

/**
 * Under `load`: puts `fault` on every operation, runs `whileFaulty`, clears the fault, and waits
 * until every path has served a credential issued after that.
 */
function runFault(
  daemon: DaemonHandle,
  load: Load,
  keys: ReadonlyMap<Polled, CredentialKey>,
  fault: Record<string, unknown>,
  whileFaulty: () => Promise<void>,
): Promise<FaultRun> {
  const emulator = emulatorOf(daemon);
  return underLoad(load, async () => {
    await control(daemon, 'faults', { operation: '*', ...fault });
    const from = Date.now();
    const until = servableUntil(daemon, keys);
    await whileFaulty();
    const clearedAt = Date.now();
    await control(daemon, 'faults', { operation: '*', mode: 'ok' });
    await waitFor(
      'every path served a credential issued after the fault cleared',
      () => ALL_PATHS.every((p) => firstFresh(load, emulator, p, clearedAt)),
      10_000,
    );
    await sleep(AFTER_RECOVERY_MS);
    return { from, clearedAt, until };
  });
}

/**
 * Whether a background refresh of `key` has failed, from the daemon's log (the entry itself may be
 * gone: housekeeping sweeps an expired key that is not a target).
 */
const failedRefresh = (daemon: DaemonHandle, key: CredentialKey | undefined) =>
  key !== undefined && logsAbout(daemon, 'background refresh failed', key).length > 0;

const answeredError = (load: Load, polled: Polled) => load.of(polled).some((s) => s.status !== 200);

/** The checks every fault shares, path by path: cached answers, then recovery. */
function checkFaultRun(
  daemon: DaemonHandle,
  load: Load,
  keys: ReadonlyMap<Polled, CredentialKey>,
  run: FaultRun,
  backoff: { readonly throttled: boolean; readonly inFlightMs: number },
): void {
  const emulator = emulatorOf(daemon);
  assert.deepEqual(
    issuedBetween(emulator, run.from, run.clearedAt),
    [],
    'nothing was issued while the fault lasted',
  );
  for (const polled of ALL_PATHS) {
    const recovery = firstFresh(load, emulator, polled, run.clearedAt);
    assert.ok(recovery, `${polled.name}: a credential issued after the fault cleared was served`);
    const servableUntil = run.until.get(polled) ?? 0;
    const { stale } = checkServedFromCache(load, emulator, polled, {
      from: run.from,
      recovery,
      servableUntil,
    });
    if (TARGET_PATHS.includes(polled)) {
      assert.ok(stale > 0, `${polled.name}: served stale while its refresh failed`);
    }
    checkRecovered(daemon, load, polled, keyOf(keys, polled), {
      clearedAt: run.clearedAt,
      ...backoff,
    });
  }
}

// ---- the suite ----

describe('reliability: faults injected through the emulator under load', function () {
  this.timeout(25_000);

  describe('total outage: every operation answers its 5xx', () => {
    // SDK retries as deployed (maxAttempts 3): a refresh fails after three attempts.
    const daemon = useDaemon({ cache: { minRemainingSeconds: MIN_REMAINING_S } });

    it('serves cached credentials (stale once refresh fails), 502 UpstreamUnavailable once they run out; recovers within the backoff bound', async () => {
      const emulator = emulatorOf(daemon);
      // Targets outlive their first failed refresh and its retry; query keys run out mid-outage.
      const keys = await prepare(daemon, { targetSeconds: 7, querySeconds: 3 });
      const load = new Load(daemon.url, ALL_PATHS, { sdk: { target: ORDERS, timeoutMs: 5_000 } });
      const run = await runFault(daemon, load, keys, { mode: 'error' }, () =>
        waitFor(
          'every key failed a background refresh and every query path answered an error',
          () =>
            ALL_PATHS.every((p) => failedRefresh(daemon, keys.get(p))) &&
            QUERY_PATHS.every((p) => answeredError(load, p)),
          15_000,
        ),
      );

      checkAnswers(load.samples, emulator, ['UpstreamUnavailable']);
      checkFaultRun(daemon, load, keys, run, { throttled: false, inFlightMs: 0 });
      for (const polled of ALL_PATHS) {
        for (const line of logsAbout(daemon, 'background refresh failed', keyOf(keys, polled))) {
          assert.equal(line.kind, 'Unavailable', `${polled.name}: ${line.error}`);
        }
      }
      // The targets never ran out: clients only ever got their cached credential, and the
      // background retry (not a client's miss) brought the fresh one.
      for (const polled of TARGET_PATHS) {
        for (const s of load.of(polled)) {
          assert.equal(s.status, 200, `${polled.name}: ${s.text}`);
          assert.ok(s.result === 'hit' || s.result === 'stale', `${polled.name}: ${s.result}`);
        }
      }
      for (const polled of QUERY_PATHS) assert.ok(load.of(polled).some((s) => s.status === 502));
      // The AWS SDK reading the target as container credentials never noticed the outage.
      assert.ok(load.sdkSamples.length > 0);
      for (const answer of load.sdkSamples) {
        assert.equal(answer.error, undefined, 'the SDK was always answered');
        const issued = emulator.state.lookup(answer.accessKeyId ?? '');
        assert.equal(issued?.scope.TableArn, TABLE_ARN);
        assert.ok((answer.expiration ?? 0) - answer.sentAt >= MIN_REMAINING_MS);
      }
      checkNoSecretLeaks(daemon, load);
    });
  });

  describe('throttling storm', () => {
    // One attempt per call: every background refresh is exactly one upstream call.
    const daemon = useDaemon({
      cache: { minRemainingSeconds: MIN_REMAINING_S },
      upstream: { maxAttempts: 1 },
    });

    it('answers stale without calling AWS, backs off as throttled, then 503 UpstreamThrottled with Retry-After; recovers within the backoff bound', async () => {
      const emulator = emulatorOf(daemon);
      const { scheduler } = daemon.current.engine;
      const keys = await prepare(daemon, { targetSeconds: 3, querySeconds: 3 });
      const load = new Load(daemon.url, ALL_PATHS);
      const window = { from: 0, to: 0, calls: 0 };
      const retries = new Map<Polled, { failures: number; at: number | undefined }>();
      const run = await runFault(daemon, load, keys, { mode: 'throttle' }, async () => {
        // From now until the first cached credential runs out, every key can be served.
        window.from = Date.now();
        const callsFrom = emulator.state.calls().total;
        window.to = Math.min(...servableUntil(daemon, keys).values()) - 100;
        const callsInWindow = new Promise<number>((resolve) =>
          setTimeout(
            () => resolve(emulator.state.calls().total - callsFrom),
            window.to - Date.now(),
          ),
        );
        await waitFor(
          'every key failed a background refresh',
          () => ALL_PATHS.every((p) => failedRefresh(daemon, keys.get(p))),
          10_000,
        );
        for (const [polled, key] of keys) {
          retries.set(polled, {
            failures: scheduler.failures(key)?.consecutive ?? 0,
            at: scheduler.scheduledAt(key),
          });
        }
        window.calls = await callsInWindow;
        await waitFor(
          'every path answered an error',
          () => ALL_PATHS.every((p) => answeredError(load, p)),
          10_000,
        );
      });

      // While every key could be served, the only upstream calls were the scheduled refreshes:
      // the clients' requests (answered hit, then stale) made none.
      const inWindow = load.samples.filter(
        (s) => s.sentAt >= window.from && s.receivedAt <= window.to,
      );
      assert.ok(
        inWindow.some((s) => s.result === 'stale'),
        'stale answers in the window',
      );
      for (const s of inWindow) {
        assert.ok(s.result === 'hit' || s.result === 'stale', `${s.polled.name}: ${s.text}`);
      }
      const refreshes = logLines(daemon).filter(
        (line) =>
          line.msg === 'background refresh failed' &&
          timeOf(line) >= window.from &&
          timeOf(line) <= window.to,
      );
      assert.equal(window.calls, refreshes.length, 'no upstream call but the scheduled refreshes');
      assert.equal(refreshes.length, ALL_PATHS.length, 'one refresh per key in the window');
      checkAnswers(load.samples, emulator, ['UpstreamThrottled']);
      checkFaultRun(daemon, load, keys, run, { throttled: true, inFlightMs: 0 });
      for (const [polled, key] of keys) {
        // The first retry waits as throttling asks (2.5–5 s), not as other failures (0.5–1 s).
        const [failure] = logsAbout(daemon, 'background refresh failed', key);
        assert.ok(failure, `${polled.name}: its refresh failure was logged`);
        assert.equal(failure.kind, 'Throttled');
        const retry = retries.get(polled);
        assert.equal(retry?.failures, 1);
        const wait = (retry.at ?? 0) - timeOf(failure);
        const { least, bound } = backoffWindow(1, true);
        assert.ok(wait >= least - 2 && wait <= bound + 2, `${polled.name}: retry after ${wait} ms`);
        assert.ok(load.of(polled).some((s) => s.status === 503));
        assert.ok(load.of(polled).some((s) => s.result === 'stale'));
      }
      checkNoSecretLeaks(daemon, load);
    });
  });

  describe('latency spikes', () => {
    const daemon = useDaemon({
      cache: { minRemainingSeconds: MIN_REMAINING_S },
      upstream: { maxAttempts: 1 },
    });
    const LATENCY_MS = 400;
    const BURST = 8;
    const adhoc: Polled = {
      name: 'cold redshift query',
      path: '/v1/redshift-serverless/credentials?workgroupName=adhoc&dbName=dev',
      format: 'redshift',
      operation: 'GetCredentials',
    };

    it('keeps answering hits while refreshes are slow; a burst of misses shares one slow call', async () => {
      const emulator = emulatorOf(daemon);
      const keys = await prepare(daemon, { targetSeconds: 3, querySeconds: 3 });
      const load = new Load(daemon.url, ALL_PATHS);
      const run = await underLoad(load, async () => {
        const generations = new Map(
          [...keys].map(([polled, key]) => [polled, entryOf(daemon, key)?.generation ?? 0]),
        );
        await control(daemon, 'faults', { operation: '*', mode: 'latency', latencyMs: LATENCY_MS });
        const from = Date.now();
        const burst = await Promise.all(
          Array.from({ length: BURST }, () => sample(daemon.url, adhoc)),
        );
        const burstCalls = emulator.state
          .issuedCredentials()
          .filter((issued) => issued.scope.workgroupName === 'adhoc').length;
        await waitFor(
          'every key was refreshed through the slow upstream',
          () =>
            [...keys].every(
              ([polled, key]) =>
                (entryOf(daemon, key)?.generation ?? 0) > (generations.get(polled) ?? 0),
            ),
          10_000,
        );
        await control(daemon, 'faults', { operation: '*', mode: 'ok' });
        const afterClear = await sample(daemon.url, {
          ...adhoc,
          path: `${adhoc.path}&durationSeconds=900`,
        });
        await sleep(AFTER_RECOVERY_MS);
        return { from, burst, burstCalls, afterClear };
      });

      checkAnswers([...load.samples, ...run.burst, run.afterClear], emulator, []);
      for (const polled of ALL_PATHS) {
        const answers = load.of(polled);
        // The slow refresh never made a client wait for it, nor see its credential as stale.
        for (const s of answers) assert.equal(s.result, 'hit', `${polled.name}: ${s.result}`);
        assert.ok(
          answers.some((s) => (emulator.state.lookup(served(s).id)?.issuedAt ?? 0) > run.from),
          `${polled.name}: served the credential of a slow refresh`,
        );
      }
      const coalesced = Array.from({ length: BURST - 1 }, () => 'coalesced');
      assert.deepEqual(run.burst.map((s) => s.result).sort(), [...coalesced, 'miss']);
      assert.equal(new Set(run.burst.map((s) => served(s).id)).size, 1, 'one credential');
      assert.equal(run.burstCalls, 1, 'one upstream call for the burst');
      assert.equal(run.afterClear.result, 'miss');
      // Every call was answered: slowness caused no failure and no duplicate call. (Once no call
      // is in flight: the emulator counts a call when it arrives, and issues after its latency.)
      const { budget } = daemon.current.engine;
      await waitFor('no upstream call in flight', () => budget.active === 0, 5_000);
      assert.equal(emulator.state.calls().total, emulator.state.issuedCredentials().length);
      checkNoSecretLeaks(daemon, load);
    });
  });

  describe('hangs', () => {
    const TIMEOUT_S = 1;
    const daemon = useDaemon({
      cache: { minRemainingSeconds: MIN_REMAINING_S },
      upstream: { maxAttempts: 1, timeoutSeconds: TIMEOUT_S },
    });

    it('a hung upstream never holds a client while a valid credential is cached; 504 UpstreamTimeout once it runs out; recovers within the backoff bound', async () => {
      const emulator = emulatorOf(daemon);
      // Targets outlive a hung refresh (timeoutSeconds); query keys run out.
      const keys = await prepare(daemon, { targetSeconds: 5, querySeconds: 3 });
      const load = new Load(daemon.url, ALL_PATHS);
      const run = await runFault(daemon, load, keys, { mode: 'hang' }, () =>
        waitFor(
          'every target failed a background refresh and every query path answered an error',
          () =>
            TARGET_PATHS.every((p) => failedRefresh(daemon, keys.get(p))) &&
            QUERY_PATHS.every((p) => answeredError(load, p)),
          15_000,
        ),
      );

      checkAnswers(load.samples, emulator, ['UpstreamTimeout']);
      // A call hung when the fault cleared ends at the upstream timeout.
      checkFaultRun(daemon, load, keys, run, { throttled: false, inFlightMs: TIMEOUT_S * 1000 });
      for (const [polled, key] of keys) {
        for (const line of logsAbout(daemon, 'background refresh failed', key)) {
          assert.equal(line.kind, 'Timeout', `${polled.name}: ${line.error}`);
        }
      }
      for (const polled of TARGET_PATHS) {
        // While its refresh hung (from the upstream timeout before the failure until it), the
        // target's clients were answered, from the cache.
        const [failure] = logsAbout(daemon, 'background refresh failed', keyOf(keys, polled));
        assert.ok(failure);
        const hungFrom = timeOf(failure) - TIMEOUT_S * 1000;
        const whileHung = load
          .of(polled)
          .filter((s) => s.sentAt > hungFrom + 100 && s.receivedAt < timeOf(failure) - 100);
        assert.ok(whileHung.length > 0, `${polled.name}: answered while its refresh hung`);
        for (const s of whileHung) assert.equal(s.result, 'hit');
      }
      for (const polled of QUERY_PATHS) assert.ok(load.of(polled).some((s) => s.status === 504));
      checkNoSecretLeaks(daemon, load);
    });
  });

  describe('revocation', () => {
    const NEGATIVE_TTL_S = 1;
    const daemon = useDaemon({
      cache: { minRemainingSeconds: MIN_REMAINING_S, negativeTtlSeconds: NEGATIVE_TTL_S },
      upstream: { maxAttempts: 1 },
    });

    it('reaches clients at the next refresh: 403 UpstreamAccessDenied, entry dropped, nothing issued before it served after it', async () => {
      const emulator = emulatorOf(daemon);
      const { scheduler, cache } = daemon.current.engine;
      const keys = await prepare(daemon, { targetSeconds: 3, querySeconds: 3 });
      const load = new Load(daemon.url, ALL_PATHS);
      const run = await underLoad(load, async () => {
        const issuedBefore = new Set(emulator.state.issuedCredentials().map((issued) => issued.id));
        // The targets' table and workgroup; the query paths ask for another table and workgroup.
        await control(daemon, 'config', { deny: [TABLE_ARN, 'analytics'] });
        const deniedAt = Date.now();
        const nextRefresh = new Map<Polled, number>();
        for (const polled of TARGET_PATHS) {
          const at = scheduler.scheduledAt(keyOf(keys, polled));
          assert.ok(at !== undefined && at > deniedAt, `${polled.name}: next refresh after deny`);
          nextRefresh.set(polled, at);
        }
        await waitFor(
          'every target was revoked and answered 403',
          () =>
            TARGET_PATHS.every(
              (p) =>
                cache.peek(keyOf(keys, p)) === undefined &&
                load.of(p).some((s) => s.status === 403),
            ),
          10_000,
        );
        await control(daemon, 'config', { deny: [] });
        const liftedAt = Date.now();
        await waitFor(
          'every target served a credential issued after the deny was lifted',
          () => TARGET_PATHS.every((p) => firstFresh(load, emulator, p, liftedAt)),
          10_000,
        );
        await sleep(AFTER_RECOVERY_MS);
        return { issuedBefore, nextRefresh, liftedAt };
      });

      checkAnswers(load.samples, emulator, ['UpstreamAccessDenied']);
      const evictions = await daemon.current.registry
        .getSingleMetric('credcache_evictions_total')
        ?.get();
      const revoked = (evictions?.values ?? []).filter((v) => v.labels.reason === 'revoked');
      assert.equal(
        revoked.reduce((sum, v) => sum + v.value, 0),
        TARGET_PATHS.length,
        'one revoked eviction per denied target',
      );
      const denials = logLines(daemon).filter(
        (line) => line.msg === 'upstream call failed' && line.error === 'AccessDeniedException',
      );
      for (const polled of TARGET_PATHS) {
        const key = keyOf(keys, polled);
        const [eviction, ...more] = logsAbout(
          daemon,
          'access revoked upstream; entry evicted',
          key,
        );
        assert.ok(eviction && more.length === 0, `${polled.name}: evicted once, as revoked`);
        const revokedAt = timeOf(eviction);
        const refreshAt = run.nextRefresh.get(polled) ?? 0;
        // Revocation waited for the scheduled refresh, and that very refresh brought it.
        assert.ok(revokedAt >= refreshAt - 1, `${polled.name}: revoked before its next refresh`);
        assert.ok(revokedAt <= refreshAt + CALL_SLACK_MS, `${polled.name}: revoked late`);
        assert.equal(
          denials.filter((line) => line.source === key.source && timeOf(line) <= revokedAt).length,
          1,
          `${polled.name}: one upstream call (the refresh) found the access revoked`,
        );
        const answers = load.of(polled).filter((s) => s.receivedAt < run.liftedAt);
        assert.ok(answers.some((s) => s.receivedAt < revokedAt && s.status === 200));
        for (const s of answers) {
          if (s.receivedAt < revokedAt) {
            // Until then the cached credential was still valid and served, as docs/engine.md says.
            assert.equal(s.result, 'hit', `${polled.name}: ${s.text}`);
            assert.ok(run.issuedBefore.has(served(s).id));
          } else if (s.sentAt > revokedAt) {
            assert.equal(s.status, 403, `${polled.name}: ${s.text} after revocation`);
            assert.equal(documentedError(s).code, 'UpstreamAccessDenied');
          }
        }
        // Nothing issued before the revocation is served after it, even once access returns.
        for (const s of load.of(polled).filter((later) => later.sentAt > revokedAt)) {
          if (s.status === 200) assert.ok(!run.issuedBefore.has(served(s).id), 'a revoked one');
        }
        // Lifting the deny is seen once the denial has aged out of the negative cache.
        const recovery = firstFresh(load, emulator, polled, run.liftedAt);
        assert.ok(recovery);
        const bound = run.liftedAt + NEGATIVE_TTL_S * 1000 + CALL_SLACK_MS;
        assert.ok(recovery.receivedAt <= bound, `${polled.name}: access returned late`);
      }
      // Revocation is per resource: the query paths never failed and kept being refreshed.
      for (const polled of QUERY_PATHS) {
        const answers = load.of(polled);
        for (const s of answers) assert.equal(s.status, 200, `${polled.name}: ${s.text}`);
        assert.ok(
          answers.some((s) => !run.issuedBefore.has(served(s).id)),
          `${polled.name}: refreshed meanwhile`,
        );
      }
      checkNoSecretLeaks(daemon, load);
    });
  });

  describe('a retry storm on one failing operation', () => {
    const RATE_PER_SECOND = 20; // the default of upstream.ratePerSecond, stated
    const daemon = useDaemon({
      cache: { minRemainingSeconds: MIN_REMAINING_S },
      upstream: { maxAttempts: 1, ratePerSecond: RATE_PER_SECOND },
    });
    /** Redshift keys whose clients retry at once, ignoring Retry-After. */
    const stormPaths: Polled[] = ['dev', 'prod', 'test', 'stage'].map((db) => ({
      name: `redshift ${db} (storm)`,
      path: `/v1/redshift-serverless/credentials?workgroupName=reporting&dbName=${db}`,
      format: 'redshift',
      operation: 'GetCredentials',
    }));
    const healthy = [ORDERS, ORDERS_2026, RETURNS_TABLE, RETURNS_PARTITION];

    it('neither holds the clients of healthy keys nor takes AWS past the rate budget', async () => {
      const emulator = emulatorOf(daemon);
      const keys = await prepare(daemon, { targetSeconds: 3, querySeconds: 3 });
      await control(daemon, 'faults', { operation: 'GetCredentials', mode: 'throttle' });
      const from = Date.now();
      const callsFrom = emulator.state.calls().byOperation.GetCredentials ?? 0;
      const storm = new Load(daemon.url, stormPaths, { storm: true });
      // The AWS SDK for JavaScript with its default container-credentials timeout (1 s).
      const load = new Load(daemon.url, healthy, { sdk: { target: ORDERS, timeoutMs: 1_000 } });
      try {
        // Every healthy key's credential ran out during the storm and was renewed.
        await waitFor(
          'every healthy path served a credential issued during the storm',
          () => healthy.every((p) => firstFresh(load, emulator, p, from)),
          10_000,
        );
        await sleep(AFTER_RECOVERY_MS);
      } finally {
        await Promise.all([load.stop(), storm.stop()]);
      }
      const to = Date.now();
      const calls = (emulator.state.calls().byOperation.GetCredentials ?? 0) - callsFrom;

      checkAnswers(load.samples, emulator, []);
      checkAnswers(storm.samples, emulator, ['UpstreamThrottled']);
      for (const polled of healthy) {
        assert.ok(entryOf(daemon, keyOf(keys, polled)), `${polled.name}: cached`);
        for (const s of load.of(polled)) assert.equal(s.status, 200, `${polled.name}: ${s.text}`);
      }
      assert.ok(load.sdkSamples.length > 0);
      for (const answer of load.sdkSamples) {
        assert.equal(answer.error, undefined, 'the SDK was answered within its timeout');
      }
      // Many more retries than calls: AWS saw no more than the budget lets through (its burst is
      // one second's worth).
      assert.ok(storm.samples.length > calls, `${storm.samples.length} retries, ${calls} calls`);
      const budget = RATE_PER_SECOND * ((to - from) / 1000 + 1);
      assert.ok(calls <= budget, `${calls} calls to the throttled operation, budget ${budget}`);
      checkNoSecretLeaks(daemon, load);
    });
  });
});

describe('regression: a client miss that joins a queued background refresh waits as on-demand', () => {
  const HOUR = 3_600_000;
  const MINUTE = 60_000;
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const table = (name: string) =>
    tableKey({
      tableArn: `arn:aws:glue:us-east-1:123456789012:table/sales/${name}`,
      permissions: ['SELECT'],
      supportedPermissionTypes: ['COLUMN_PERMISSION'],
      durationSeconds: 3600,
    });

  it('goes before misses queued after it joined, not after every miss there will ever be', async () => {
    const clock = new ManualClock();
    const started: string[] = [];
    const answer = new Map<string, () => void>();
    const unused = () => Promise.reject(new Error('not called'));
    const providers = {
      lakeformation_table: {
        source: 'lakeformation_table' as const,
        fetch(request: TableCredentialsRequest) {
          const name = request.tableArn.split('/').pop() ?? '';
          started.push(name);
          return new Promise<IssuedCredentials<S3Credentials>>((resolve) =>
            answer.set(name, () =>
              resolve({
                credentials: { accessKeyId: name, secretAccessKey: 's', sessionToken: 't' },
                expiration: clock.now() + HOUR,
              }),
            ),
          );
        },
      },
      lakeformation_partition: { source: 'lakeformation_partition' as const, fetch: unused },
      redshift_serverless: {
        source: 'redshift_serverless' as const,
        fetch: (): Promise<IssuedCredentials<DatabaseCredentials>> => unused(),
      },
      lakeformation_location: { source: 'lakeformation_location' as const, fetch: unused },
    };
    // One upstream call at a time, so the order in which waiting calls start is visible.
    const budget = new UpstreamBudget({ clock, maxConcurrent: 1, ratePerSecond: 1_000 });
    const cache = new CredentialCache({
      clock,
      fetcher: budgetedFetcher(providerFetcher(providers), budget),
      minRemainingMs: MINUTE,
    });
    const release = async (name: string) => {
      answer.get(name)?.();
      await settle();
    };

    const cold = cache.get(table('orders'));
    await settle();
    await release('orders');
    await cold;
    clock.advance(HOUR - MINUTE / 2); // orders can no longer be served: its clients miss
    const busy = cache.get(table('busy')); // a client's miss holds the only slot
    await settle();
    const refresh = cache.refresh(table('orders')); // queued in the background lane
    const before = cache.get(table('before')); // a miss queued before anyone waits on orders
    await settle();
    const client = cache.get(table('orders')); // now a client waits on the queued refresh
    const after = cache.get(table('after')); // and another miss queues after it
    await settle();
    assert.deepEqual(
      budget.waiting,
      { reserved: 0, on_demand: 3, background: 0 },
      'the refresh was promoted',
    );
    await release('busy');
    await release('before');
    assert.deepEqual(started, ['orders', 'busy', 'before', 'orders'], 'orders went before after');
    await release('orders');
    await release('after');
    const [lookup, refreshed] = await Promise.all([client, refresh, busy, before, after]);
    assert.equal(lookup.result, 'coalesced');
    assert.equal(lookup.entry, refreshed);
    assert.equal(budget.active, 0);
  });
});
