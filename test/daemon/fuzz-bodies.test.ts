/**
 * Property-based fuzz of bad input, part 3: POST bodies, over real loopback HTTP against the
 * running daemon. A valid AWS-shaped body for the table or partition route gets wrong types,
 * invalid values, unknown and missing members, nulls, random JSON, invalid JSON, padding up to and
 * past 16 KiB (413 PayloadTooLarge), and is sent with a Content-Length or chunked in random
 * pieces; the routes without POST answer 405 whatever the body. The oracle and the end-of-run
 * checks are in fuzz-harness.ts; FUZZ_SEED / FUZZ_PATH reproduce a failure (see there).
 */
import fc from 'fast-check';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';
import {
  type Fault,
  ROUTES,
  Watch,
  either,
  exchange,
  expectFrom,
  fault,
  fuzzParameters,
  fuzzTimeout,
  shownName,
} from './fuzz-harness.js';
import { LF_PERMISSIONS, TYPES, cached, sometimes, text, validBodyArb } from './fuzz-values.js';

const LIMIT = 16 * 1024;

type PostRoute = 'table' | 'partition' | 'redshift' | 'target' | 'healthz' | 'readyz' | 'metrics';

/** A member path in the body (`Partition.Values`) and a value for it. */
interface Member {
  readonly path: string;
  readonly value: unknown;
}

type BodyMutation =
  /** A member set to a value the API's rules refuse: 400 naming it. */
  | { readonly kind: 'invalid'; readonly member: Member }
  /** A member set to a value that is fine (null: absent; contexts: free). */
  | { readonly kind: 'neutral'; readonly member: Member }
  | { readonly kind: 'remove'; readonly path: string }
  | {
      readonly kind: 'unknown';
      readonly parent: string;
      readonly name: string;
      readonly value: unknown;
    };

const wrongTypes = (except: 'string' | 'strings' | 'integer' | 'object') =>
  fc.oneof(
    ...[
      except !== 'integer'
        ? fc.integer()
        : fc.double({ noInteger: true, noDefaultInfinity: true, noNaN: true }),
      fc.boolean(),
      except !== 'string' ? text(10) : fc.constant(['x']),
      except !== 'strings'
        ? fc
            .array(fc.oneof(fc.integer(), text(5)), { minLength: 1, maxLength: 3 })
            .filter((items) => items.some((item) => typeof item !== 'string'))
        : fc.constant({}),
      except !== 'object' ? fc.constant({ a: 1 }) : fc.constant([]),
    ],
  );

function invalidArb(route: 'table' | 'partition'): fc.Arbitrary<Member> {
  const member = (path: string, value: fc.Arbitrary<unknown>) =>
    value.map((item) => ({ path, value: item }));
  return fc.oneof(
    member(
      'TableArn',
      fc.oneof(
        wrongTypes('string'),
        fc.constantFrom(
          '',
          'arn:aws:glue:us-east-1:123456789012:database/sales',
          `${TABLE_ARN}/x`,
          `${TABLE_ARN} `,
          TABLE_ARN.toUpperCase(),
        ),
        text(40).filter((value) => !value.startsWith('arn:')),
      ),
    ),
    member(
      'Permissions',
      fc.oneof(
        wrongTypes('strings'),
        fc.constant('SELECT'),
        fc.constantFrom(['select'], ['SELECT', 'NOPE'], ['']),
        fc.array(
          text(10).filter((value) => !LF_PERMISSIONS.includes(value)),
          { minLength: 1, maxLength: 3 },
        ),
      ),
    ),
    member(
      'SupportedPermissionTypes',
      fc.oneof(
        wrongTypes('strings'),
        fc.constantFrom(['column_permission'], ['COLUMN_PERMISSION', 'X'], 'COLUMN_PERMISSION'),
        fc.array(
          text(10).filter((value) => !TYPES.includes(value)),
          { minLength: 1, maxLength: 3 },
        ),
      ),
    ),
    member(
      'DurationSeconds',
      fc.oneof(
        wrongTypes('integer'),
        fc.constantFrom('900', 899, 21_601, -1, 0, 1e21, 2 ** 53, 900.5, [900]),
        fc.integer({ min: -1_000_000, max: 899 }),
        fc.integer({ min: 21_601 }),
      ),
    ),
    member('AuditContext', fc.oneof(wrongTypes('object'), fc.constant([]))),
    member('AuditContext.AdditionalAuditContext', wrongTypes('string')),
    member('QuerySessionContext', fc.oneof(wrongTypes('object'), fc.constant('x'))),
    ...(route === 'partition'
      ? [
          member('Partition', fc.oneof(wrongTypes('object'), fc.constant([]))),
          member(
            'Partition.Values',
            fc.oneof(
              wrongTypes('strings'),
              fc.constant([]),
              fc.constant('2026'),
              fc
                .integer({ min: 101, max: 300 })
                .map((count) => Array.from({ length: count }, () => 'v')),
              fc.integer({ min: 1025, max: 2000 }).map((length) => ['v'.repeat(length)]),
            ),
          ),
        ]
      : [member('S3Path', fc.oneof(text(20), fc.integer()))]),
  );
}

const neutralArb: fc.Arbitrary<Member> = fc.oneof(
  fc
    .constantFrom(
      'Permissions',
      'SupportedPermissionTypes',
      'DurationSeconds',
      'AuditContext',
      'QuerySessionContext',
    )
    .map((path) => ({ path, value: null })),
  fc.constant({ path: 'AuditContext', value: {} }),
  text(30).map((value) => ({ path: 'AuditContext.AdditionalAuditContext', value })),
  fc
    .record({ QueryId: fc.anything(), ClusterId: fc.anything() }, { requiredKeys: [] })
    .map((value) => ({ path: 'QuerySessionContext', value })),
  fc.constant({ path: 'Permissions', value: ['SELECT', 'SELECT', 'DESCRIBE'] }),
);

const mutationArb = (route: 'table' | 'partition'): fc.Arbitrary<BodyMutation> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: invalidArb(route).map((member) => ({ kind: 'invalid' as const, member })),
    },
    { weight: 2, arbitrary: neutralArb.map((member) => ({ kind: 'neutral' as const, member })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          'TableArn',
          'Permissions',
          'DurationSeconds',
          ...(route === 'partition' ? ['Partition', 'Partition.Values'] : []),
        )
        .map((path) => ({ kind: 'remove' as const, path })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('unknown' as const),
        parent: fc.constantFrom(
          '',
          'AuditContext',
          'QuerySessionContext',
          ...(route === 'partition' ? ['Partition'] : []),
        ),
        name: fc.oneof(
          fc.constantFrom(
            '__proto__',
            'constructor',
            'tableArn',
            'S3Path',
            'Values',
            'toString',
            'prototype',
          ),
          fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,20}$/),
          text(30, 1),
        ),
        value: fc.jsonValue({ maxDepth: 2 }),
      }),
    },
  );

/** Reads a member of a JSON object by a dotted path. */
function getMember(body: Record<string, unknown>, path: string): unknown {
  let at: unknown = body;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Sets (or with `remove`, deletes) a member by a dotted path, creating parents as objects. */
function setMember(
  body: Record<string, unknown>,
  path: string,
  value: unknown,
  remove = false,
): void {
  const parts = path.split('.');
  const last = parts.pop() ?? '';
  let at: Record<string, unknown> = body;
  for (const part of parts) {
    const next = at[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      if (remove) return;
      at[part] = {};
    }
    at = at[part] as Record<string, unknown>;
  }
  if (remove) Reflect.deleteProperty(at, last);
  else
    Object.defineProperty(at, last, {
      // A copy: generated values (constants above all) are shared between runs.
      value: structuredClone(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/** Where the daemon checks what: the members it knows, per parent. */
const KNOWN_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  '': [
    'TableArn',
    'Permissions',
    'SupportedPermissionTypes',
    'DurationSeconds',
    'AuditContext',
    'QuerySessionContext',
  ],
  AuditContext: ['AdditionalAuditContext'],
  QuerySessionContext: [
    'QueryId',
    'QueryStartTime',
    'ClusterId',
    'QueryAuthorizationId',
    'AdditionalContext',
  ],
  Partition: ['Values'],
};

/** The body after the mutations, and its faults. */
function mutate(
  route: 'table' | 'partition',
  base: Record<string, unknown>,
  mutations: readonly BodyMutation[],
): { body: Record<string, unknown>; faults: Fault[]; okToo: boolean } {
  const body = structuredClone(base);
  const faults: Fault[] = [];
  let uncertain = false;
  const invalid = (field: string) => faults.push(fault('fields', 'InvalidRequest', field));
  // Unknown members last, so a parent set to null or removed later does not lose them.
  const ordered = [
    ...mutations.filter((mutation) => mutation.kind !== 'unknown'),
    ...mutations.filter((mutation) => mutation.kind === 'unknown'),
  ];
  for (const mutation of ordered) {
    switch (mutation.kind) {
      case 'invalid':
        setMember(body, mutation.member.path, mutation.member.value);
        invalid(mutation.member.path);
        break;
      case 'neutral':
        setMember(body, mutation.member.path, mutation.member.value);
        break;
      case 'remove':
        setMember(body, mutation.path, undefined, true);
        break;
      case 'unknown': {
        const known = [
          ...(KNOWN_MEMBERS[mutation.parent] ?? []),
          ...(mutation.parent === '' ? [route === 'table' ? 'S3Path' : 'Partition'] : []),
        ];
        const parent = mutation.parent === '' ? body : getMember(body, mutation.parent);
        // Only where the parent is an object the daemon reads.
        if (typeof parent !== 'object' || parent === null || Array.isArray(parent)) break;
        setMember(
          body,
          mutation.parent === '' ? mutation.name : `${mutation.parent}.${mutation.name}`,
          mutation.value,
        );
        if (mutation.name.includes('.')) {
          // A dotted name made nested objects instead: whatever it broke is named by its first part.
          invalid(mutation.parent === '' ? '' : mutation.parent);
        } else if (!known.includes(mutation.name)) {
          invalid(
            mutation.parent === ''
              ? shownName(mutation.name)
              : `${mutation.parent}.${shownName(mutation.name)}`,
          );
        } else if (mutation.value !== null && mutation.parent !== 'QuerySessionContext') {
          // A known name given a random value: an error unless that value happens to be valid.
          faults.push(fault('fields', 'InvalidRequest'));
          uncertain = true;
        }
        break;
      }
    }
  }
  // What is required, once everything is applied.
  if (body.TableArn === undefined || body.TableArn === null) invalid('TableArn');
  if (route === 'partition') {
    const values = getMember(body, 'Partition.Values');
    if (values === undefined || values === null) invalid('Partition');
  }
  return { body, faults, okToo: uncertain && faults.length === 1 };
}

type WholeBody =
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'text'; readonly text: string };

const wholeBodyArb: fc.Arbitrary<WholeBody> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'json' as const, value })),
  fc
    .oneof(
      fc.constantFrom(
        '',
        '{',
        '}',
        '{"TableArn":',
        `{"TableArn":"${TABLE_ARN}",}`,
        `{'TableArn':'${TABLE_ARN}'}`,
        '{"DurationSeconds":NaN}',
        '{"a":1}{"b":2}',
        'null',
        'true',
        '"x"',
        '[]',
        '[{}]',
        '\ufeff{}',
        `${'['.repeat(5000)}${']'.repeat(5000)}`,
        `{"TableArn":${'['.repeat(3000)}${']'.repeat(3000)}}`,
        '{"TableArn":"\\ud800"}',
        '\u0000',
      ),
      text(40),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    )
    .map((value) => ({ kind: 'text' as const, text: value })),
);

/** The faults of a body that is not the AWS shape at all. */
function wholeFaults(sent: string): Fault[] {
  let parsed: unknown;
  try {
    // body-parser decodes UTF-8 without its BOM.
    const text = sent.replace(/^\ufeff/, '');
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return [fault('body', 'InvalidRequest', 'body')];
  }
  if (typeof parsed !== 'object' || parsed === null)
    return [fault('body', 'InvalidRequest', 'body')];
  if (Array.isArray(parsed)) return [fault('fields', 'InvalidRequest', 'body')];
  // An object of random members: whichever member the daemon names first.
  return [fault('fields', 'InvalidRequest')];
}

const caseArb = fc
  .oneof(
    { weight: 8, arbitrary: fc.constantFrom<PostRoute>('table', 'partition') },
    {
      weight: 1,
      arbitrary: fc.constantFrom<PostRoute>('redshift', 'target', 'healthz', 'readyz', 'metrics'),
    },
  )
  .chain(
    cached((route: PostRoute) => {
      const lf = route === 'table' || route === 'partition' ? route : 'table';
      return fc.record({
        route: fc.constant(route),
        base: validBodyArb(lf),
        mutations: fc.uniqueArray(mutationArb(lf), {
          maxLength: 3,
          depthIdentifier: 'mutations',
          selector: (mutation) =>
            mutation.kind === 'unknown'
              ? `${mutation.parent}.${mutation.name}`
              : mutation.kind === 'remove'
                ? mutation.path
                : mutation.member.path.split('.')[0],
        }),
        whole: sometimes(wholeBodyArb, 4),
        pad: sometimes(
          fc.oneof(
            fc.integer({ min: LIMIT - 8, max: LIMIT + 8 }),
            fc.integer({ min: 1000, max: LIMIT }),
            fc.integer({ min: LIMIT + 1, max: 4 * LIMIT }),
          ),
          4,
        ),
        chunked: sometimes(
          fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 5 }),
          3,
        ),
        hexCase: fc.boolean(),
        target: fc.constantFrom('orders', 'nope'),
      });
    }),
  );

describe('daemon API fuzz: POST bodies (property)', function () {
  this.timeout(fuzzTimeout());
  const daemon = useDaemon({ upstream: { maxAttempts: 1 } });
  const watch = new Watch(daemon);
  beforeEach(() => watch.start());
  afterEach(() => watch.stop());

  it('wrong types, invalid values, unknown members, bad JSON, over 16 KiB, chunked', async () => {
    const host = `127.0.0.1:${new URL(daemon.url).port}`;
    await fc.assert(
      fc.asyncProperty(caseArb, async (item) => {
        const lf = item.route === 'table' || item.route === 'partition' ? item.route : 'table';
        let json: string;
        let faults: Fault[];
        let okToo = false;
        if (item.whole !== undefined) {
          json =
            item.whole.kind === 'json' ? (JSON.stringify(item.whole.value) ?? '') : item.whole.text;
          faults = wholeFaults(json);
        } else {
          const mutated = mutate(lf, item.base, item.mutations);
          json = JSON.stringify(mutated.body);
          faults = mutated.faults;
          okToo = mutated.okToo;
        }
        // Padding: JSON whitespace after the body, to `pad` bytes in all.
        let body = Buffer.from(json, 'utf8');
        if (item.pad !== undefined && item.pad > body.length) {
          body = Buffer.concat([body, Buffer.alloc(item.pad - body.length, ' ')]);
        }
        if (body.length > LIMIT) {
          faults.push(fault('body', 'PayloadTooLarge'));
          okToo = false;
        }
        if (!(item.route === 'table' || item.route === 'partition')) {
          faults = [fault('method', 'MethodNotAllowed')];
          okToo = false;
        }
        const path =
          item.route === 'target' ? `/v1/targets/${item.target}` : ROUTES[item.route].path;
        const headers: [string, string][] = [
          ['Host', host],
          ['Authorization', TOKEN],
          ['Content-Type', 'application/json'],
        ];
        const parts: Buffer[] = [];
        if (item.chunked) {
          headers.push(['Transfer-Encoding', 'chunked']);
          let at = 0;
          for (let index = 0; at < body.length; index += 1) {
            const size = item.chunked[index % item.chunked.length] ?? 512;
            const chunk = body.subarray(at, at + size);
            at += chunk.length;
            const hex = chunk.length.toString(16);
            parts.push(
              Buffer.concat([
                Buffer.from(`${item.hexCase ? hex.toUpperCase() : hex}\r\n`),
                chunk,
                Buffer.from('\r\n'),
              ]),
            );
          }
          parts.push(Buffer.from('0\r\n\r\n'));
        } else {
          headers.push(['Content-Length', String(body.length)]);
          parts.push(body);
        }
        const head = `POST ${path} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
        const result = await exchange(daemon.url, [head, ...parts]);
        const expected = expectFrom(faults, ROUTES[item.route].auth);
        watch.check(result, okToo ? either(expected, expectFrom([], true)) : expected);
      }),
      fuzzParameters(400),
    );
    await watch.finish();
  });
});
