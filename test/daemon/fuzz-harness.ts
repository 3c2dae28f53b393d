/**
 * What the fuzz properties (test/daemon/fuzz*.test.ts) share: a raw HTTP/1.1 client over
 * `node:net` (so any byte can be sent: no client-side header or path checks), a strict parser of
 * the answers, the oracle that turns a request's deliberate faults into the answer docs/api.md
 * prescribes, and the per-test watch over the daemon (secrets issued, error answers seen,
 * process-level crashes, error logs).
 *
 * Reproducing a failure: fast-check prints the `seed` and `path` of the shrunk counterexample.
 * Run the failing file alone with them, e.g.
 *
 *   FUZZ_SEED=1234 FUZZ_PATH="17:3:0" npx mocha --no-config --node-option import=tsx \
 *     --extension ts --timeout 10000 --require test/support/setup.ts test/daemon/fuzz.test.ts
 *
 * FUZZ_SEED alone replays the same sequence of generated requests (without it every run draws a
 * new seed, so `npm test` keeps exploring); FUZZ_RUNS=<factor> multiplies every property's
 * numRuns (FUZZ_RUNS=20 for a long soak); FUZZ_VERBOSE=1 has fast-check print every failing step;
 * FUZZ_STATS=1 prints, per property, how many answers of each status and error code it saw.
 *
 * Each property was checked to fail on a broken daemon (a validation throwing a TypeError, a
 * percent-decoding left uncaught, 405 without Allow, 401 mapped to another status, unknown body
 * members accepted, a 500 from onClientError, a secret in an error message, an unhandled
 * rejection, a Host allowed that is not loopback, a malformed Host parsed loosely, a repeated
 * Host or Authorization of which the first won).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Parameters } from 'fast-check';
import type { DaemonHandle } from '../support/daemon.js';
import { TARGETS, TOKEN } from '../support/daemon.js';

// ---- reproduction ----

function envNumber(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) throw new Error(`${name}: not a number: ${value}`);
  return number;
}

/** A property's mocha timeout: a minute, times FUZZ_RUNS when that is larger. */
export function fuzzTimeout(): number {
  return 60_000 * Math.max(1, envNumber('FUZZ_RUNS') ?? 1);
}

/** fast-check parameters for a property with `numRuns` runs by default (see the file comment). */
export function fuzzParameters<T>(numRuns: number): Parameters<T> {
  const seed = envNumber('FUZZ_SEED');
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: Math.max(1, Math.round(numRuns * (envNumber('FUZZ_RUNS') ?? 1))),
    ...(seed !== undefined && { seed }),
    ...(path !== undefined && path !== '' && { path }),
    ...(process.env.FUZZ_VERBOSE && { verbose: 2 }),
  };
}

// ---- docs/api.md ----

/** The error codes of the API's error table and their statuses. */
export const SPEC_ERRORS: Readonly<Record<string, number>> = {
  InvalidRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  PayloadTooLarge: 413,
  UpstreamAccessDenied: 403,
  UpstreamNotFound: 404,
  UpstreamInvalidInput: 400,
  UpstreamPermissionTypeMismatch: 409,
  UpstreamThrottled: 503,
  UpstreamUnavailable: 502,
  UpstreamTimeout: 504,
};
export type Code = keyof typeof SPEC_ERRORS;

export type RouteId =
  'table' | 'partition' | 'redshift' | 'target' | 'healthz' | 'readyz' | 'metrics';

export const ROUTES: Readonly<
  Record<RouteId, { readonly path: string; readonly auth: boolean; readonly allow: string }>
> = {
  table: { path: '/v1/lakeformation/table-credentials', auth: true, allow: 'GET, POST, HEAD' },
  partition: {
    path: '/v1/lakeformation/partition-credentials',
    auth: true,
    allow: 'GET, POST, HEAD',
  },
  redshift: { path: '/v1/redshift-serverless/credentials', auth: true, allow: 'GET, HEAD' },
  target: { path: '/v1/targets/', auth: true, allow: 'GET, HEAD' },
  healthz: { path: '/healthz', auth: false, allow: 'GET, HEAD' },
  readyz: { path: '/readyz', auth: false, allow: 'GET, HEAD' },
  metrics: { path: '/metrics', auth: false, allow: 'GET, HEAD' },
};
export const TARGET_NAMES: readonly string[] = TARGETS.map((target) => target.name);

/**
 * The reference route of a request path (docs/api.md: the fixed paths, and `/v1/targets/{name}` with
 * one percent-decoded segment).
 */
export type Resolved =
  | { readonly kind: 'route'; readonly id: RouteId; readonly name?: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' };

export function resolvePath(path: string): Resolved {
  for (const [id, route] of Object.entries(ROUTES) as [RouteId, (typeof ROUTES)[RouteId]][]) {
    if (id !== 'target' && path === route.path) return { kind: 'route', id };
  }
  const prefix = ROUTES.target.path;
  if (!path.startsWith(prefix)) return { kind: 'none' };
  const rest = path.slice(prefix.length);
  if (rest === '' || rest.includes('/')) return { kind: 'none' };
  try {
    return { kind: 'route', id: 'target', name: decodeURIComponent(rest) };
  } catch {
    return { kind: 'malformed' };
  }
}

// ---- the oracle: a request's faults → the answers that are right ----

/**
 * Where in the daemon's handling a fault is caught, first to last: Node's HTTP parser, the
 * request's headers on any route (a Host that is not one well-formed `host[:port]`, a repeated
 * Host or Authorization: 400), the route, the Host guard and the token (credential routes only),
 * the method, the body, then the request's fields (the order among faults of one stage is not
 * part of the contract).
 */
export const STAGES = [
  'parse',
  'headers',
  'route',
  'host',
  'auth',
  'method',
  'body',
  'fields',
] as const;
export type Stage = (typeof STAGES)[number];

export interface Fault {
  readonly stage: Stage;
  readonly code: Code;
  /** For InvalidRequest: what the message must start with (the field's name as the client spelt it). */
  readonly field?: string;
  /** Node may close the connection instead of answering (a request it cannot finish reading). */
  readonly closeOk?: boolean;
}

export interface Expect {
  /** A 2xx is right (the request is valid). */
  readonly ok: boolean;
  /** The right errors, any one of them (empty when only a 2xx is right). */
  readonly errors: readonly Fault[];
  /** A close without an answer is acceptable. */
  readonly closeOk: boolean;
  /** Node's own bodiless answers with these statuses are tolerated: see KNOWN_NODE_ANSWERS. */
  readonly nodeAnswers?: readonly number[];
}

/**
 * KNOWN ISSUE, outside the files of this fuzz's fixes: Node's http.Server answers an HTTP/1.1
 * request without Host with a bare 400 (`requireHostHeader`, on by default since Node 20) and an
 * Expect other than 100-continue with a bare 417, before the daemon's listener runs, so neither
 * is an API error body. The fix belongs in main.ts, where the servers are made:
 * `createServer({ requireHostHeader: false, … })` (the front then answers; a Host-less request
 * cannot come from a browser, so the rebinding guard loses nothing) and
 * `server.on('checkExpectation', front.listener)` (an unknown expectation is ignored, as RFC 9110
 * allows). Until then the properties tolerate exactly those two bare answers; set this to false
 * once main.ts is fixed, and they hold the JSON answers instead.
 */
export const KNOWN_NODE_ANSWERS = false;

/** Whether `answer` is one of Node's own bodiless answers tolerated by KNOWN_NODE_ANSWERS. */
function isNodeAnswer(answer: Answer, statuses: readonly number[]): boolean {
  return (
    KNOWN_NODE_ANSWERS &&
    statuses.includes(answer.status) &&
    !answer.headers.has('content-type') &&
    answer.body === ''
  );
}

/** Either answer is right (where the contract leaves a choice, e.g. to Node's parser). */
export function either(a: Expect, b: Expect): Expect {
  return {
    ok: a.ok || b.ok,
    errors: [...a.errors, ...b.errors],
    closeOk: a.closeOk || b.closeOk,
    nodeAnswers: [...(a.nodeAnswers ?? []), ...(b.nodeAnswers ?? [])],
  };
}

/** Node's parser refuses the request: a JSON 400 (http.ts onClientError). */
export const REFUSED: Expect = {
  ok: false,
  errors: [{ stage: 'parse', code: 'InvalidRequest' }],
  closeOk: false,
};

/**
 * Whether Node's parser may refuse a request target: not origin-form, or holding a byte a URL
 * may not (its exact set is Node's business, not the contract's).
 */
export function targetMayBeRefused(target: string): boolean {
  return !target.startsWith('/') || /[^\x21-\x7e]|[\\"<>^`{|}]/.test(target);
}

/** Node's limit on a request's head (http.maxHeaderSize). */
export const HEAD_LIMIT = 16 * 1024;

/**
 * A request head's size as Node counts it against HEAD_LIMIT: the request target and each
 * header's name and value, without the separators (so 300 short headers take ~1.2 KB less than
 * their bytes).
 */
export function headSize(head: Buffer | string): number {
  const text = typeof head === 'string' ? head : head.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const [requestLine = '', ...lines] = (end === -1 ? text : text.slice(0, end)).split('\r\n');
  let size = requestLine.split(' ')[1]?.length ?? requestLine.length;
  for (const line of lines) {
    const colon = line.indexOf(':');
    size += colon === -1 ? line.length : colon + line.slice(colon + 1).trim().length;
  }
  return size;
}

/**
 * `expected` for a request whose head (see headSize) is `size`: past Node's limit, Node's parser
 * refuses it; within a few bytes of it either may happen (exactly where is Node's business).
 */
export function withHeadSize(expected: Expect, size: number): Expect {
  if (size > HEAD_LIMIT + 64) return REFUSED;
  return size > HEAD_LIMIT - 64 ? either(expected, REFUSED) : expected;
}

export const fault = (stage: Stage, code: Code, field?: string): Fault => ({
  stage,
  code,
  ...(field !== undefined && { field }),
});

/** The answer for a request with `faults`, on a route that checks Host and token or not. */
export function expectFrom(faults: readonly (Fault | undefined)[], authRoute: boolean): Expect {
  const applicable = faults.filter(
    (item): item is Fault =>
      item !== undefined && (authRoute || (item.stage !== 'host' && item.stage !== 'auth')),
  );
  if (applicable.length === 0) return { ok: true, errors: [], closeOk: false };
  const first = Math.min(...applicable.map((item) => STAGES.indexOf(item.stage)));
  const errors = applicable.filter((item) => STAGES.indexOf(item.stage) === first);
  return { ok: false, errors, closeOk: errors.some((item) => item.closeOk === true) };
}

/**
 * How an error message shows a client-chosen name (requests.ts `shown`): JSON-quoted, cut at 80
 * characters; returned without the quotes, as a message starts with it after a `"`.
 */
export function shownName(name: string): string {
  return JSON.stringify(name.length > 80 ? name.slice(0, 80) : name).slice(1, -1);
}

// ---- raw HTTP/1.1 over node:net ----

export interface Answer {
  readonly status: number;
  /** Status line and header lines as received. */
  readonly head: string;
  /** Lower-case names; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

type Parsed =
  | { readonly kind: 'answer'; readonly answer: Answer; readonly used: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly why: string };

const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One response at the start of `data`; `bodyless` for an answer to HEAD; `ended`: no more bytes. */
export function parseAnswer(data: Buffer, bodyless: boolean, ended: boolean): Parsed {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) {
    return ended
      ? { kind: 'invalid', why: `truncated head: ${JSON.stringify(data.toString('latin1'))}` }
      : { kind: 'incomplete' };
  }
  const head = data.subarray(0, end).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = /^HTTP\/1\.[01] ([1-5]\d\d) [^\r\n]*$/.exec(statusLine);
  if (!status) return { kind: 'invalid', why: `status line ${JSON.stringify(statusLine)}` };
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !TOKEN_CHARS.test(name)) {
      return { kind: 'invalid', why: `header line ${JSON.stringify(line)}` };
    }
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  const code = Number(status[1]);
  const bodyStart = end + 4;
  const answer = (body: Buffer, used: number): Parsed => ({
    kind: 'answer',
    answer: { status: code, head, headers, body: body.toString('utf8') },
    used,
  });
  if (bodyless || code < 200 || code === 204 || code === 304) {
    return answer(Buffer.alloc(0), bodyStart);
  }
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const chunks: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd === -1)
        return ended ? { kind: 'invalid', why: 'truncated chunk' } : { kind: 'incomplete' };
      const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
      if (!Number.isInteger(size)) return { kind: 'invalid', why: 'chunk size' };
      if (size === 0) {
        const trailerEnd = data.indexOf('\r\n', lineEnd + 2);
        if (trailerEnd === -1)
          return ended ? { kind: 'invalid', why: 'truncated trailer' } : { kind: 'incomplete' };
        return answer(Buffer.concat(chunks), trailerEnd + 2);
      }
      if (data.length < lineEnd + 2 + size + 2) {
        return ended ? { kind: 'invalid', why: 'truncated chunk' } : { kind: 'incomplete' };
      }
      chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = headers.get('content-length');
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) return { kind: 'invalid', why: `content-length ${length}` };
    const size = Number(length);
    if (data.length < bodyStart + size) {
      return ended ? { kind: 'invalid', why: 'truncated body' } : { kind: 'incomplete' };
    }
    return answer(data.subarray(bodyStart, bodyStart + size), bodyStart + size);
  }
  return ended ? answer(data.subarray(bodyStart), data.length) : { kind: 'incomplete' };
}

export interface Exchange {
  /** Final (non-1xx) answers, in order. */
  readonly answers: readonly Answer[];
  /** Bytes the server sent that are not a well-formed HTTP/1.1 answer. */
  readonly invalid?: string;
  /** Neither an answer nor a close came within the time limit. */
  readonly hung: boolean;
}

export interface ExchangeOptions {
  /** The request is HEAD: its answer has no body. */
  readonly head?: boolean;
  /**
   * Send the end of the stream after the request and collect every answer until the server
   * closes (raw bytes, pipelines); otherwise wait for the first final answer only.
   */
  readonly all?: boolean;
  /** Half-close after sending (a request whose declared body is longer than what is sent). */
  readonly halfClose?: boolean;
}

const EXCHANGE_TIMEOUT_MS = 5_000;

/** Sends `parts` (written one by one, a turn of the event loop apart) and reads the answer(s). */
export function exchange(
  url: string,
  parts: readonly (Buffer | string)[],
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (ended: boolean, hung = false) => {
      if (done) return;
      const answers: Answer[] = [];
      let invalid: string | undefined;
      let rest = data;
      while (rest.length > 0) {
        const parsed = parseAnswer(rest, options.head === true && answers.length === 0, ended);
        if (parsed.kind === 'incomplete') {
          if (!ended && !hung && (options.all === true || answers.length === 0)) return;
          break;
        }
        if (parsed.kind === 'invalid') {
          invalid = parsed.why;
          break;
        }
        rest = rest.subarray(parsed.used);
        if (parsed.answer.status >= 200) {
          answers.push(parsed.answer);
          if (options.all !== true) break;
        }
      }
      if (!ended && !hung && (options.all === true || answers.length === 0)) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, ...(invalid !== undefined && { invalid }), hung });
    };
    const timer = setTimeout(() => finish(false, true), EXCHANGE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      finish(false);
    });
    // A reset after the server refused the request is a close, like any other.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
    socket.once('connect', () => {
      void (async () => {
        for (const part of parts) {
          if (socket.destroyed) return;
          socket.write(part);
          await new Promise((next) => setImmediate(next));
        }
        if ((options.all === true || options.halfClose === true) && !socket.destroyed) {
          socket.end();
        }
      })();
    });
  });
}

/** A request's bytes: request line, header lines (as given, in order), blank line, body. */
export function requestBytes(
  method: string,
  target: string,
  headers: readonly (readonly [string, string])[],
  version = 'HTTP/1.1',
): string {
  return `${method} ${target} ${version}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

// ---- the watch over one daemon ----

const SECRET_FIELDS = ['SecretAccessKey', 'SessionToken', 'Token', 'dbPassword'];
/** The emulator's session tokens start with this: one in an unasked-for answer is a leak. */
const SESSION_TOKEN_PREFIX = 'IQoJb3JpZ2luX2VtdWxhdG9y';
const RESULTS = new Set(['hit', 'miss', 'coalesced', 'stale']);

/**
 * Checks every answer against its expectation and remembers what the end-of-test checks need:
 * secrets served, every answer that was not a 2xx, crashes of the process.
 */
export class Watch {
  readonly served = new Set<string>();
  readonly refused: Answer[] = [];
  /** How many answers of each status (FUZZ_STATS=1 prints them). */
  readonly statuses = new Map<number, number>();
  /** How many answers carried each error code, and how many were closes or Node's own. */
  readonly codes = new Map<string, number>();

  count(what: string): void {
    this.codes.set(what, (this.codes.get(what) ?? 0) + 1);
  }

  answers = 0;
  #uncaught = 0;
  #rejections = 0;
  readonly #onUncaught = () => {
    this.#uncaught += 1;
  };
  readonly #onRejection = () => {
    this.#rejections += 1;
  };

  constructor(private readonly daemon: DaemonHandle) {}

  start(): void {
    this.served.clear();
    this.refused.length = 0;
    this.statuses.clear();
    this.codes.clear();
    this.answers = 0;
    this.#uncaught = 0;
    this.#rejections = 0;
    process.on('uncaughtExceptionMonitor', this.#onUncaught);
    process.on('unhandledRejection', this.#onRejection);
  }

  stop(): void {
    process.off('uncaughtExceptionMonitor', this.#onUncaught);
    process.off('unhandledRejection', this.#onRejection);
  }

  /**
   * Holds one exchange to `expect`: a well-formed answer (or an allowed close), never a 5xx, a
   * 2xx only for a valid request, otherwise the API error shape with one of the right codes.
   */
  check(result: Exchange, expect: Expect, context: { head?: boolean } = {}): void {
    assert.equal(result.hung, false, 'the daemon neither answered nor closed the connection');
    assert.equal(result.invalid, undefined, `not an HTTP/1.1 answer: ${result.invalid ?? ''}`);
    const [answer] = result.answers;
    if (answer === undefined) {
      assert.ok(expect.closeOk, 'the connection closed without an answer');
      this.count('closed');
      return;
    }
    if (isNodeAnswer(answer, expect.nodeAnswers ?? [])) {
      this.count(`node ${answer.status}`);
      return;
    }
    this.answer(answer, context.head === true);
    const wanted = expect.ok
      ? '2xx'
      : expect.errors
          .map(
            (item) =>
              `${SPEC_ERRORS[item.code]} ${item.code}${item.field ? ` (${item.field})` : ''}`,
          )
          .join(' or ');
    const shown = `${answer.status} ${answer.body.slice(0, 300)}; expected ${wanted}`;
    if (answer.status < 300) {
      assert.ok(expect.ok, `a 2xx for an invalid request: ${shown}`);
      return;
    }
    assert.ok(expect.errors.length > 0, `an error for a valid request: ${shown}`);
    const code = context.head ? undefined : errorOf(answer).code;
    const right = expect.errors.filter(
      (item) =>
        SPEC_ERRORS[item.code] === answer.status && (code === undefined || item.code === code),
    );
    assert.ok(right.length > 0, `the wrong error: ${shown}`);
    if (code === 'InvalidRequest' && right.every((item) => item.field !== undefined)) {
      const { message } = errorOf(answer);
      assert.ok(
        // Messages start with the field (`tableArn: …`), or a client-chosen name quoted.
        right.some(
          (item) =>
            item.field !== undefined &&
            (message.startsWith(item.field) || message.startsWith(`"${item.field}`)),
        ),
        `the message does not name the field: ${shown}`,
      );
    }
  }

  /** What holds of any answer: status, the error shape and its headers, credential headers. */
  answer(answer: Answer, head: boolean, nodeAnswers: readonly number[] = []): void {
    this.answers += 1;
    this.statuses.set(answer.status, (this.statuses.get(answer.status) ?? 0) + 1);
    if (isNodeAnswer(answer, nodeAnswers)) {
      this.count(`node ${answer.status}`);
      return;
    }
    assert.ok(
      (answer.status >= 200 && answer.status < 300) ||
        (answer.status >= 400 && answer.status < 500),
      `status ${answer.status}: ${answer.head} ${answer.body.slice(0, 300)}`,
    );
    if (answer.status < 300) {
      if (head || !/^application\/json/.test(answer.headers.get('content-type') ?? '')) return;
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      const secrets = SECRET_FIELDS.filter((field) => typeof body[field] === 'string');
      if (secrets.length > 0) {
        assert.equal(answer.headers.get('cache-control'), 'no-store');
        assert.ok(RESULTS.has(answer.headers.get('x-credcache-result') ?? ''), answer.head);
        for (const field of secrets) this.served.add(String(body[field]));
      }
      return;
    }
    this.refused.push(answer);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, answer.head);
    assert.equal(answer.headers.get('cache-control'), 'no-store', answer.head);
    if (answer.status === 405) assert.ok(answer.headers.get('allow'), '405 without Allow');
    if (head) return;
    const error = errorOf(answer);
    this.count(error.code);
    assert.equal(
      SPEC_ERRORS[error.code],
      answer.status,
      `${error.code} with status ${answer.status}`,
    );
    if (error.retryable) assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/);
  }

  /**
   * After a run: the daemon still answers, nothing crashed or logged an error, and no secret
   * the emulator issued (nor the API token) is in an error answer or in the probes' output.
   */
  async finish(): Promise<void> {
    if (process.env.FUZZ_STATS) {
      const sorted = (map: Map<string | number, number>) =>
        [...map].sort(([a], [b]) => String(a).localeCompare(String(b)));
      process.stderr.write(
        `      fuzz: ${this.answers} answers; statuses ${JSON.stringify(sorted(this.statuses))}; codes ${JSON.stringify(sorted(this.codes))}\n`,
      );
    }
    // The generators reach both sides: valid requests served, bad ones refused.
    const statuses = [...this.statuses.keys()];
    assert.ok(
      statuses.some((status) => status < 300),
      'no request was served (a 2xx)',
    );
    assert.ok(
      statuses.some((status) => status >= 400),
      'no request was refused (a 4xx)',
    );
    const probes: Answer[] = [];
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const result = await exchange(this.daemon.url, [
        requestBytes('GET', path, [['Host', 'localhost']]),
      ]);
      const [answer] = result.answers;
      assert.ok(answer, `no answer from ${path}`);
      assert.equal(answer.status, 200, `${path}: ${answer.status} ${answer.body.slice(0, 300)}`);
      probes.push(answer);
    }
    assert.equal(this.#uncaught, 0, 'uncaught exceptions');
    assert.equal(this.#rejections, 0, 'unhandled rejections');
    const errors = this.daemon.logs.filter((line) => /"level":"(error|fatal)"/.test(line));
    assert.deepEqual(errors, [], 'error logs');

    const emulator = this.daemon.current.emulator;
    assert.ok(emulator);
    const issued = emulator.state.issuedCredentials();
    assert.ok(issued.length > 0, 'the emulator issued credentials');
    const secrets = new Set([TOKEN, ...this.served]);
    for (const credential of issued) {
      secrets.add(credential.secretAccessKey ?? credential.id); // dbPassword is the id
    }
    for (const answer of [...this.refused, ...probes]) {
      const text = `${answer.head}\r\n\r\n${answer.body}`;
      assert.ok(!text.includes(SESSION_TOKEN_PREFIX), `a session token in ${text.slice(0, 300)}`);
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret in ${text.slice(0, 300)}`);
      }
    }
  }
}

export interface ErrorShape {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** The `error` of an API error body, which must be exactly `{"error":{code,message,retryable}}`. */
export function errorOf(answer: Answer): ErrorShape {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    assert.fail(`an error body that is not JSON: ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  const error = (parsed as { error?: unknown } | null)?.error as
    Record<string, unknown> | undefined;
  assert.ok(
    typeof parsed === 'object' &&
      parsed !== null &&
      Object.keys(parsed).length === 1 &&
      typeof error === 'object' &&
      error !== null,
    `not the error shape: ${answer.body.slice(0, 300)}`,
  );
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'retryable'], answer.body);
  assert.equal(typeof error.code, 'string');
  assert.ok(typeof error.message === 'string' && error.message.length > 0, answer.body);
  assert.equal(typeof error.retryable, 'boolean');
  assert.ok(
    String(error.code) in SPEC_ERRORS,
    `code ${String(error.code)} is not in the API's error table`,
  );
  return error as unknown as ErrorShape;
}
