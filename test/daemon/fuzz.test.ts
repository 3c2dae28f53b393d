/**
 * Property-based fuzz of bad input against the real daemon over loopback HTTP (fast-check),
 * part 1: request paths, query strings and methods. Every generated request is a valid one with
 * deliberate faults (or none); the oracle in fuzz-harness.ts turns the faults into the answer
 * docs/api.md prescribes: a 2xx exactly when there is none, else the error of the first stage
 * that catches one, in the API error shape, naming the field. Never a 5xx, never a crash, never a
 * secret in an answer that was not asked for it (checked after each property).
 * Headers, bodies and raw malformed HTTP: fuzz-headers, fuzz-bodies, fuzz-raw.test.ts.
 *
 * Reproduce a failure with FUZZ_SEED / FUZZ_PATH (see fuzz-harness.ts).
 */
import assert from 'node:assert/strict';
import { METHODS } from 'node:http';
import fc from 'fast-check';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';
import {
  type Expect,
  type Fault,
  REFUSED,
  ROUTES,
  TARGET_NAMES,
  Watch,
  either,
  exchange,
  expectFrom,
  fault,
  fuzzParameters,
  fuzzTimeout,
  headSize,
  requestBytes,
  resolvePath,
  shownName,
  targetMayBeRefused,
  withHeadSize,
} from './fuzz-harness.js';
import {
  type Encoding,
  KNOWN,
  LF_PERMISSIONS,
  type Param,
  type QueryRoute,
  SINGLE,
  TYPES,
  cached,
  encode,
  encodingArb,
  text,
  validQueryArb,
} from './fuzz-values.js';

/** Values no API rule accepts, per parameter. */
const notDigits = (value: string) => !/^\d+$/.test(value);
const INVALID_VALUES: Readonly<Record<string, fc.Arbitrary<string>>> = {
  tableArn: fc.oneof(
    fc.constantFrom(
      'arn:aws:glue:us-east-1:123456789012:database/sales',
      'arn:aws:glue:us-east-1:12345678901:table/sales/orders',
      'arn:aws:glue:us-east-1:123456789012:table/sales',
      'arn:aws:glue:us-east-1:123456789012:table/sales/orders/extra',
      'arn:aws:glue:US-EAST-1:123456789012:table/sales/orders',
      'arn:aws:glue:us-east-1:123456789012:table/sa les/orders',
      'arn:aws:glue:us-east-1:123456789012:table//orders',
      'arn:aws:s3:::bucket',
      `${TABLE_ARN} `,
      ` ${TABLE_ARN}`,
      TABLE_ARN.toUpperCase(),
    ),
    text(60, 1).filter((value) => !value.startsWith('arn:')),
    fc.integer({ min: 256, max: 9000 }).map((length) => `${TABLE_ARN}${'x'.repeat(length)}`),
  ),
  permissions: fc.oneof(
    fc.constantFrom('select', 'Select', 'SELECT ', 'READ', '*', 'ALL_TABLES'),
    text(20, 1).filter((value) => !value.includes(',') && !LF_PERMISSIONS.includes(value)),
  ),
  supportedPermissionTypes: fc.oneof(
    fc.constantFrom('column_permission', 'COLUMN', 'ROW_PERMISSION'),
    text(20, 1).filter((value) => !value.includes(',') && !TYPES.includes(value)),
  ),
  durationSeconds: fc.oneof(
    fc.integer({ min: 0, max: 899 }).map(String),
    fc.integer({ min: 21_601, max: 999_999_999 }).map(String),
    fc.constantFrom('-1', '+900', '900.0', '9e2', '0x384', ' 900', '900 ', '１２００', 'NaN'),
    fc.constantFrom('9'.repeat(10), `${'0'.repeat(12)}900`, '9'.repeat(400)),
    text(12, 1).filter(notDigits),
  ),
  workgroupName: fc.oneof(
    fc.constantFrom('ab', 'Analytics', 'a_b_c', 'x'.repeat(65), 'ana lytics', 'ana.lytics'),
    text(20, 1).filter((value) => /[^a-z0-9-]/.test(value)),
  ),
  customDomainName: fc.oneof(
    fc.constantFrom(
      '-bad.example.com',
      'example',
      'exa_mple.com',
      'a..b.com',
      `x.${'a'.repeat(64)}.com`,
      'example.c',
      `${'a.'.repeat(130)}com`,
    ),
    text(20, 1).filter((value) => /[^A-Za-z0-9.-]/.test(value)),
  ),
  dbName: fc.oneof(
    fc.constantFrom('1db', '_db', 'select', 'SELECT', 'user', 'd$b', 'd b', 'x'.repeat(65), 'dé'),
    text(20, 1).filter((value) => /[^A-Za-z0-9_+.@-]/.test(value)),
  ),
  values: fc.integer({ min: 1025, max: 1400 }).map((length) => 'v'.repeat(length)),
};
/** The same for a Redshift duration. */
const INVALID_REDSHIFT_DURATION = fc.oneof(
  fc.constantFrom('899', '3601', '21600', '0'),
  INVALID_VALUES.durationSeconds ?? fc.constant('-1'),
);

/** Unknown parameter names that decode to what is written, or are bad encodings of nothing known. */
const unknownNameArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,30}$/),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'TableArn',
    'tablearn',
    'tableArn[]',
    'values[0]',
    'Permissions',
    'x',
  ),
  // Another route's parameters (filtered out where they are known).
  fc.constantFrom(...new Set(Object.values(KNOWN).flat())),
  text(40, 1),
  fc.integer({ min: 2000, max: 8000 }).map((length) => 'p'.repeat(length)),
);
const RAW_UNKNOWN_NAMES = ['%zz', '%', '%E0%A4%A', '%C0%AE', '%FF', 'a%2', '%00', '%2e', '%u0041'];

type QueryMutation =
  | { readonly kind: 'unknown'; readonly name: string; readonly value: string; readonly at: number }
  | { readonly kind: 'rawUnknown'; readonly raw: string; readonly at: number }
  | { readonly kind: 'repeat'; readonly param: string; readonly value: string }
  | { readonly kind: 'empty'; readonly param: string; readonly noEquals: boolean }
  | { readonly kind: 'invalid'; readonly param: string; readonly value: string }
  | { readonly kind: 'badEncoding'; readonly param: string; readonly value: string }
  | { readonly kind: 'remove'; readonly param: string }
  | { readonly kind: 'extraPermission'; readonly value: string }
  | { readonly kind: 'junk'; readonly text: string; readonly at: number }
  | { readonly kind: 'encodeName'; readonly param: string }
  | { readonly kind: 'overlong'; readonly length: number };

function mutationArb(route: QueryRoute): fc.Arbitrary<QueryMutation> {
  const known = KNOWN[route];
  const at = fc.nat(8);
  const unknown = fc.record({
    kind: fc.constant('unknown' as const),
    name: unknownNameArb.filter((name) => !known.includes(name)),
    value: text(20),
    at,
  });
  const junk = fc.record({
    kind: fc.constant('junk' as const),
    text: fc.constantFrom('&', '&&', ''),
    at,
  });
  const rawUnknown = fc.record({
    kind: fc.constant('rawUnknown' as const),
    raw: fc.constantFrom(...RAW_UNKNOWN_NAMES),
    at,
  });
  if (route === 'target') return fc.oneof(unknown, rawUnknown, junk);
  const single = known.filter((name) => SINGLE.includes(name));
  const invalidFor = (param: string) =>
    route === 'redshift' && param === 'durationSeconds'
      ? INVALID_REDSHIFT_DURATION
      : (INVALID_VALUES[param] ?? fc.constant('?'));
  const invalid = fc
    .constantFrom(...known)
    .chain((param) =>
      invalidFor(param).map((value) => ({ kind: 'invalid' as const, param, value })),
    );
  return fc.oneof(
    unknown,
    rawUnknown,
    junk,
    invalid,
    invalid,
    fc.record({
      kind: fc.constant('repeat' as const),
      param: fc.constantFrom(...single),
      value: text(10),
    }),
    fc.record({
      kind: fc.constant('empty' as const),
      param: fc.constantFrom(...known),
      noEquals: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('badEncoding' as const),
      param: fc.constantFrom(
        ...known.filter((name) =>
          ['durationSeconds', 'workgroupName', 'dbName', 'values'].includes(name),
        ),
      ),
      value: fc.constantFrom('9%zz00', 'an%zzly', 'a%', '%E0%A4%A', 'd%2'),
    }),
    fc.record({ kind: fc.constant('remove' as const), param: fc.constantFrom(...known) }),
    fc.record({ kind: fc.constant('encodeName' as const), param: fc.constantFrom(...known) }),
    ...(route === 'redshift'
      ? []
      : [
          fc.record({
            kind: fc.constant('extraPermission' as const),
            value: fc.constantFrom(...LF_PERMISSIONS),
          }),
        ]),
    fc.record({
      kind: fc.constant('overlong' as const),
      length: fc.integer({ min: 17_000, max: 24_000 }),
    }),
  );
}

/** The param a mutation is about, so no two mutations of one request touch the same one. */
function mutationSubject(mutation: QueryMutation): string {
  switch (mutation.kind) {
    case 'unknown':
      return `unknown:${mutation.name}`;
    case 'rawUnknown':
      return `raw:${mutation.raw}`;
    case 'junk':
      return `junk:${mutation.at}`;
    case 'extraPermission':
      return 'permissions';
    case 'overlong':
      return 'overlong';
    default:
      return mutation.param;
  }
}

interface BuiltQuery {
  readonly query: string;
  readonly faults: Fault[];
}

/** Applies the mutations and writes the query string; the faults are what the API makes of it. */
function buildQuery(
  route: QueryRoute,
  base: readonly Param[],
  mutations: readonly QueryMutation[],
  encodings: readonly Encoding[],
): BuiltQuery {
  let params = [...base];
  const faults: Fault[] = [];
  const junk: { text: string; at: number }[] = [];
  const encodedNames = new Set<string>();
  const insert = (param: Param, at: number) => {
    params.splice(Math.min(at, params.length), 0, param);
  };
  const invalid = (field: string) => faults.push(fault('fields', 'InvalidRequest', field));
  for (const mutation of mutations) {
    switch (mutation.kind) {
      case 'unknown':
        insert({ name: mutation.name, value: mutation.value }, mutation.at);
        invalid(shownName(mutation.name));
        break;
      case 'rawUnknown': {
        insert({ name: mutation.raw, value: '1', rawName: true }, mutation.at);
        const [decoded = ''] = new URLSearchParams(`${mutation.raw}=1`).keys();
        invalid(shownName(decoded));
        break;
      }
      case 'junk':
        junk.push(mutation);
        break;
      case 'repeat':
        params.push({ name: mutation.param, value: mutation.value });
        if (
          !params.some((param, index) => param.name === mutation.param && index < params.length - 1)
        ) {
          params.push({ name: mutation.param, value: mutation.value });
        }
        invalid(mutation.param);
        break;
      case 'empty': {
        const value = mutation.noEquals ? undefined : '';
        const index = params.findIndex((param) => param.name === mutation.param);
        if (index === -1) params.push({ name: mutation.param, value });
        else params[index] = { name: mutation.param, value };
        // A partition value may be empty; every other parameter may not.
        if (mutation.param !== 'values') invalid(mutation.param);
        break;
      }
      case 'invalid':
      case 'badEncoding': {
        const index = params.findIndex((param) => param.name === mutation.param);
        const param: Param = {
          name: mutation.param,
          value: mutation.value,
          ...(mutation.kind === 'badEncoding' && { rawValue: true as const }),
        };
        if (
          index === -1 ||
          mutation.param === 'permissions' ||
          mutation.param === 'supportedPermissionTypes'
        ) {
          params.push(param);
        } else params[index] = param;
        // A partition value is free text: a literal `%` in it is fine.
        if (!(mutation.kind === 'badEncoding' && mutation.param === 'values')) {
          invalid(mutation.param);
        }
        break;
      }
      case 'remove':
        params = params.filter((param) => param.name !== mutation.param);
        break;
      case 'extraPermission':
        params.push({ name: 'permissions', value: mutation.value });
        break;
      case 'encodeName':
        encodedNames.add(mutation.param);
        break;
      case 'overlong':
        params.push({ name: 'pad', value: 'x'.repeat(mutation.length) });
        faults.push(fault('parse', 'InvalidRequest'));
        break;
    }
  }
  // What is required, once everything is applied.
  const count = (name: string) => params.filter((param) => param.name === name).length;
  if ((route === 'table' || route === 'partition') && count('tableArn') === 0) invalid('tableArn');
  if (route === 'partition' && count('values') === 0) invalid('values');
  if (
    route === 'redshift' &&
    (count('workgroupName') === 0) === (count('customDomainName') === 0)
  ) {
    invalid('workgroupName');
  }
  const parts = params.map((param, index) => {
    const encoding = encodings[index % Math.max(1, encodings.length)] ?? 'component';
    const name = param.rawName
      ? param.name
      : encode(param.name, encodedNames.has(param.name) ? 'every' : 'component');
    if (param.value === undefined) return name;
    return `${name}=${param.rawValue ? param.value : encode(param.value, encoding)}`;
  });
  for (const { text: extra, at } of junk) parts.splice(Math.min(at, parts.length), 0, extra);
  return { query: parts.join('&'), faults };
}

const queryCaseArb = fc.constantFrom<QueryRoute>('table', 'partition', 'redshift', 'target').chain(
  cached((route: QueryRoute) =>
    fc.record({
      route: fc.constant(route),
      base: validQueryArb(route),
      mutations: fc.uniqueArray(mutationArb(route), {
        maxLength: 3,
        selector: mutationSubject,
      }),
      encodings: fc.array(encodingArb, { minLength: 1, maxLength: 6 }),
      target: fc.constantFrom(...TARGET_NAMES),
      head: fc.boolean(),
    }),
  ),
);

// ---- paths ----

const SEGMENTS = [
  '.',
  '..',
  '%2e',
  '%2E%2E',
  '%00',
  '%2F',
  '%ZZ',
  '%',
  'v1',
  'targets',
  'lakeformation',
  'table-credentials',
  '',
  'healthz',
];
const segmentArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{0,12}$/),
  fc.constantFrom(...SEGMENTS),
  text(6).map((value) => encodeURIComponent(value)),
);
const KNOWN_PATHS = [
  ...Object.entries(ROUTES)
    .filter(([id]) => id !== 'target')
    .map(([, route]) => route.path),
  ...TARGET_NAMES.map((name) => `/v1/targets/${name}`),
];

type PathCase = { readonly path: string; readonly rawBytes?: true };

const pathArb: fc.Arbitrary<PathCase> = fc.oneof(
  fc.constantFrom(...KNOWN_PATHS).map((path) => ({ path })),
  // A target's name, however encoded, or a name that is not one.
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom(...TARGET_NAMES, 'ORDERS', 'orders ', 'nope', 'orders/', '..', '.'),
        text(20, 1),
      ),
      encodingArb,
    )
    .map(([name, encoding]) => ({ path: `/v1/targets/${encode(name, encoding)}` })),
  // A target segment as sent, bad percent-encoding included (400 naming the path).
  fc
    .tuple(
      fc.constantFrom(...TARGET_NAMES, ''),
      fc.constantFrom('%', '%E0%A4%A', '%zz', '%C0', '%FF', '%ED%A0%80', '%2', '%%', '%00', '%2F'),
      fc.boolean(),
    )
    .map(([name, bad, before]) => ({
      path: `/v1/targets/${before ? `${bad}${name}` : `${name}${bad}`}`,
    })),
  // A known path, bent.
  fc
    .tuple(
      fc.constantFrom(...KNOWN_PATHS),
      fc.constantFrom(
        (path: string) => `${path}/`,
        (path: string) => `/${path}`,
        (path: string) => path.replace(/\//g, '//'),
        (path: string) => path.replace(/\/([^/]*)$/, '/./$1'),
        (path: string) => path.replace(/\/([^/]*)$/, '/x/../$1'),
        (path: string) => path.replace(/\//g, '%2F'),
        (path: string) => path.replace(/\//g, '\\'),
        (path: string) => path.toUpperCase(),
        (path: string) => `${path};x=1`,
        (path: string) => `${path}%00`,
        (path: string) => `${path}#frag`,
        (path: string) =>
          path.replace(/[a-z]/, (letter) => `%${letter.charCodeAt(0).toString(16)}`),
        (path: string) => `${path}${'/'.repeat(3)}`,
        (path: string) => path.slice(0, -1),
      ),
    )
    .map(([path, bend]) => ({ path: bend(path) })),
  fc.array(segmentArb, { maxLength: 8 }).map((segments) => ({ path: `/${segments.join('/')}` })),
  fc
    .tuple(fc.constantFrom('/v1/targets/', '/', '/v1/'), fc.integer({ min: 1000, max: 15_000 }))
    .map(([prefix, length]) => ({ path: `${prefix}${'a'.repeat(length)}` })),
  // Raw bytes outside what a request target may hold.
  text(6, 1)
    .filter((value) => /[^\x21-\x7e]/.test(value) && !/[\s?]/.test(value))
    .map((value) => ({ path: `/v1/targets/${value}`, rawBytes: true as const })),
);

/** The answer to a GET of `path` with no query, by the reference routes. */
function pathFaults(path: string): Fault[] {
  const resolved = resolvePath(path);
  if (resolved.kind === 'none') return [fault('route', 'NotFound')];
  if (resolved.kind === 'malformed') return [fault('route', 'InvalidRequest', 'path')];
  switch (resolved.id) {
    case 'table':
    case 'partition':
      return [fault('fields', 'InvalidRequest', 'tableArn')];
    case 'redshift':
      return [fault('fields', 'InvalidRequest', 'workgroupName')];
    case 'target':
      return TARGET_NAMES.includes(resolved.name ?? '') ? [] : [fault('fields', 'NotFound')];
    default:
      return [];
  }
}

function authRoute(path: string): boolean {
  const resolved = resolvePath(path);
  return resolved.kind === 'route' && ROUTES[resolved.id].auth;
}

// ---- the properties ----

describe('daemon API fuzz: paths, query strings, methods (property)', function () {
  this.timeout(fuzzTimeout());
  const daemon = useDaemon({ upstream: { maxAttempts: 1 } });
  const watch = new Watch(daemon);
  beforeEach(() => watch.start());
  afterEach(() => watch.stop());
  const host = () => `127.0.0.1:${new URL(daemon.url).port}`;
  const headers = (): [string, string][] => [
    ['Host', host()],
    ['Authorization', TOKEN],
  ];

  it('query strings: unknown, repeated, empty, invalid, badly encoded, huge parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        queryCaseArb,
        async ({ route, base, mutations, encodings, target, head }) => {
          const { query, faults } = buildQuery(route, base, mutations, encodings);
          const path = route === 'target' ? `/v1/targets/${target}` : ROUTES[route].path;
          const method = head ? 'HEAD' : 'GET';
          const bytes = Buffer.from(requestBytes(method, `${path}?${query}`, headers()), 'utf8');
          const result = await exchange(daemon.url, [bytes], { head });
          watch.check(result, withHeadSize(expectFrom(faults, true), headSize(bytes)), { head });
        },
      ),
      fuzzParameters(400),
    );
    await watch.finish();
  });

  it('paths: random segments, encodings, dot segments, overlong, unicode, %00, double slashes', async () => {
    await fc.assert(
      fc.asyncProperty(pathArb, fc.boolean(), async ({ path, rawBytes }, head) => {
        const method = head ? 'HEAD' : 'GET';
        const bytes = Buffer.from(requestBytes(method, path, headers()), 'utf8');
        const result = await exchange(daemon.url, [bytes], { head });
        const expected = withHeadSize(
          expectFrom(pathFaults(path), authRoute(path)),
          headSize(bytes),
        );
        const expect: Expect =
          rawBytes || targetMayBeRefused(path) ? either(expected, REFUSED) : expected;
        watch.check(result, expect, { head });
      }),
      fuzzParameters(400),
    );
    await watch.finish();
  });

  it('methods: every method Node parses, and others, on every route (405 with Allow)', async () => {
    // GET and HEAD weighed up so that served requests are drawn too (`watch.finish` checks a
    // run reached both sides): among Node's ~35 methods alone, 300 runs drew none about one time
    // in twenty.
    const methodArb = fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom('GET', 'HEAD') },
      { weight: 4, arbitrary: fc.constantFrom(...METHODS) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('get', 'Get', 'FOO', 'PRI', 'GETS', 'M-SEARCHX', 'TRACK'),
      },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Z-]{1,12}$/) },
    );
    await fc.assert(
      fc.asyncProperty(
        methodArb,
        fc.oneof(
          fc.constantFrom(...KNOWN_PATHS, '/v1/targets/nope', '/nope', '/'),
          pathArb
            .map((item) => item.path)
            .filter((path) => path.length < 1000 && /^[\x21-\x7e]*$/.test(path)),
        ),
        fc.boolean(),
        async (method, path, withToken) => {
          const requestHeaders = headers().filter(
            ([name]) => withToken || name !== 'Authorization',
          );
          if (method === 'POST') requestHeaders.push(['Content-Length', '0']);
          const head = method === 'HEAD';
          const result = await exchange(daemon.url, [requestBytes(method, path, requestHeaders)], {
            head,
          });
          const resolved = resolvePath(path);
          const faults: Fault[] = [];
          if (!METHODS.includes(method) || method === 'CONNECT') {
            faults.push({ ...fault('parse', 'InvalidRequest'), closeOk: method === 'CONNECT' });
          }
          if (!withToken) faults.push(fault('auth', 'Unauthorized'));
          if (method === 'GET' || head) faults.push(...pathFaults(path));
          else if (resolved.kind !== 'route') faults.push(...pathFaults(path));
          else if (method === 'POST' && (resolved.id === 'table' || resolved.id === 'partition')) {
            faults.push(fault('fields', 'InvalidRequest', 'TableArn'));
          } else faults.push(fault('method', 'MethodNotAllowed'));
          const expected = expectFrom(faults, authRoute(path));
          watch.check(result, targetMayBeRefused(path) ? either(expected, REFUSED) : expected, {
            head,
          });
          const [answer] = result.answers;
          if (answer?.status === 405 && resolved.kind === 'route') {
            assert.equal(answer.headers.get('allow'), ROUTES[resolved.id].allow, path);
          }
        },
      ),
      fuzzParameters(300),
    );
    await watch.finish();
  });
});
