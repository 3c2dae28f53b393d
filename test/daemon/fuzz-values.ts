/**
 * Generators of valid requests for the fuzz properties (test/daemon/fuzz*.test.ts): values every
 * API rule accepts, query strings and AWS-shaped bodies, and the percent-encodings that must
 * not change what a value means. Faults are added on top by each property.
 */
import fc from 'fast-check';
import { LAKE_FORMATION_PERMISSIONS, PERMISSION_TYPES } from '../../src/providers/rules.js';
import { TABLE_ARN } from '../support/daemon.js';

/**
 * `make`, built once per argument: building an arbitrary (stringMatching above all) costs far
 * more than drawing from it, and `chain` would otherwise build one per generated value.
 */
export function cached<K, T>(make: (key: K) => fc.Arbitrary<T>): (key: K) => fc.Arbitrary<T> {
  const built = new Map<K, fc.Arbitrary<T>>();
  return (key) => {
    let arb = built.get(key);
    if (arb === undefined) {
      arb = make(key);
      built.set(key, arb);
    }
    return arb;
  };
}

/** Percent-encodings of a value that all decode to it. */
export type Encoding = 'component' | 'every' | 'everyLower' | 'plus';
export const encodingArb = fc.constantFrom<Encoding>('component', 'every', 'everyLower', 'plus');

export function encode(value: string, encoding: Encoding): string {
  switch (encoding) {
    case 'component':
      return encodeURIComponent(value);
    case 'plus':
      return encodeURIComponent(value).replace(/%20/g, '+');
    case 'every':
    case 'everyLower': {
      let out = '';
      for (const byte of Buffer.from(value, 'utf8')) {
        const hex = byte.toString(16).padStart(2, '0');
        out += `%${encoding === 'every' ? hex.toUpperCase() : hex}`;
      }
      return out;
    }
  }
}

export const LF_PERMISSIONS: readonly string[] = LAKE_FORMATION_PERMISSIONS;
export const TYPES: readonly string[] = PERMISSION_TYPES;
export const text = (maxLength: number, minLength = 0) =>
  fc.string({ unit: 'grapheme', minLength, maxLength });

/** A Glue database or table name as the ARN rule takes it: 1–255 characters, no `/` or space. */
const nameArb = cached((anyCodePoint: boolean) =>
  fc.oneof(
    fc.stringMatching(/^[a-z0-9_]{1,20}$/),
    fc
      .string({ unit: anyCodePoint ? 'binary' : 'grapheme', minLength: 1, maxLength: 8 })
      .filter((value) => !/[/\s]/.test(value)),
    fc.integer({ min: 200, max: 255 }).map((length) => 'n'.repeat(length)),
  ),
);

/**
 * A valid Glue table ARN, mostly the example one (a cache hit); `anyCodePoint`: names may hold
 * any code point, lone surrogates included (a JSON body can carry them, a URL cannot).
 */
export const tableArnArb = cached((anyCodePoint: boolean) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(TABLE_ARN) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('aws', 'aws-cn', 'aws-us-gov'),
          fc.constantFrom('us-east-1', 'eu-west-3', 'ap-southeast-2', 'us-gov-west-1'),
          fc.stringMatching(/^\d{12}$/),
          nameArb(anyCodePoint),
          nameArb(anyCodePoint),
        )
        .map(
          ([partition, region, account, db, table]) =>
            `arn:${partition}:glue:${region}:${account}:table/${db}/${table}`,
        ),
    },
  ),
);
/**
 * Mostly one of a few `usual` values, else `arb`: a valid request is then mostly a cache hit (a
 * miss is an upstream call, which costs the time the bad input needs), yet any valid value comes.
 */
export function mostly<T>(usual: readonly T[], arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...usual) },
    { weight: 1, arbitrary: arb },
  );
}

const lfDurationArb = mostly([3600, 900], fc.integer({ min: 900, max: 21_600 }));
const redshiftDurationArb = mostly([3600, 900], fc.integer({ min: 900, max: 3600 }));
const workgroupArb = mostly(['analytics'], fc.stringMatching(/^[a-z0-9-]{3,20}$/));
const permissionsArb = mostly(
  [[], ['SELECT'], ['DESCRIBE', 'SELECT'], ['SELECT', 'DESCRIBE']],
  fc.uniqueArray(fc.constantFrom(...LF_PERMISSIONS), { maxLength: 4 }),
);
const typesArb = mostly(
  [['COLUMN_PERMISSION']],
  fc.uniqueArray(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 4 }),
);
const valuesArb = cached((anyCodePoint: boolean) =>
  mostly(
    [['2026', '11'], ['a,b'], ['']],
    fc.array(
      anyCodePoint ? fc.oneof(text(20), fc.string({ unit: 'binary', maxLength: 10 })) : text(20),
      {
        minLength: 1,
        maxLength: 5,
      },
    ),
  ),
);
const customDomainArb = fc
  .tuple(
    fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/), {
      minLength: 1,
      maxLength: 3,
    }),
    fc.stringMatching(/^[a-z][a-z0-9]{1,5}$/),
  )
  .map(([labels, tld]) => [...labels, tld].join('.'));
const dbNameArb = mostly(['dev'], fc.stringMatching(/^db[a-z0-9_]{0,10}$/));

// ---- query strings ----

export interface Param {
  readonly name: string;
  /** Decoded; undefined: the name alone, no `=`. */
  readonly value: string | undefined;
  /** The name is sent as given (bad percent-encoding on purpose), not encoded. */
  readonly rawName?: true;
  /** The value is sent as given. */
  readonly rawValue?: true;
}

export const SINGLE = [
  'tableArn',
  'durationSeconds',
  'workgroupName',
  'customDomainName',
  'dbName',
];
export const KNOWN: Readonly<
  Record<'table' | 'partition' | 'redshift' | 'target', readonly string[]>
> = {
  table: ['tableArn', 'permissions', 'supportedPermissionTypes', 'durationSeconds'],
  partition: ['tableArn', 'permissions', 'supportedPermissionTypes', 'durationSeconds', 'values'],
  redshift: ['workgroupName', 'customDomainName', 'dbName', 'durationSeconds'],
  target: [],
};
export type QueryRoute = keyof typeof KNOWN;

/** A valid query for `route`, as params. */
export const validQueryArb = cached((route: QueryRoute): fc.Arbitrary<Param[]> => {
  const list = (name: string, values: readonly string[], comma: readonly boolean[]): Param[] => {
    const params: Param[] = [];
    values.forEach((value, index) => {
      const last = params.at(-1);
      if (last && comma[index] === true && last.value !== undefined) {
        params[params.length - 1] = { name, value: `${last.value},${value}` };
      } else params.push({ name, value });
    });
    return params;
  };
  const duration = (arb: fc.Arbitrary<number>) =>
    fc.option(
      fc.tuple(arb, fc.nat(2)).map(([seconds, zeros]) => '0'.repeat(zeros) + String(seconds)),
      { nil: undefined },
    );
  const table = fc
    .record({
      tableArn: tableArnArb(false),
      permissions: permissionsArb,
      types: fc.option(typesArb, { nil: undefined }),
      comma: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      durationSeconds: duration(lfDurationArb),
    })
    .map(({ tableArn, permissions, types, comma, durationSeconds }) => [
      { name: 'tableArn', value: tableArn },
      ...list('permissions', permissions, comma),
      ...(types ? list('supportedPermissionTypes', types, comma) : []),
      ...(durationSeconds !== undefined
        ? [{ name: 'durationSeconds', value: durationSeconds }]
        : []),
    ]);
  switch (route) {
    case 'table':
      return table;
    case 'partition':
      return fc
        .tuple(table, valuesArb(false))
        .map(([params, values]) => [
          ...params,
          ...values.map((value) => ({ name: 'values', value })),
        ]);
    case 'redshift':
      return fc
        .record({
          id: fc.oneof(
            workgroupArb.map((value) => ({ name: 'workgroupName', value })),
            mostly(['db.example.com'], customDomainArb).map((value) => ({
              name: 'customDomainName',
              value,
            })),
          ),
          dbName: fc.option(dbNameArb, { nil: undefined }),
          durationSeconds: duration(redshiftDurationArb),
        })
        .map(({ id, dbName, durationSeconds }) => [
          id,
          ...(dbName !== undefined ? [{ name: 'dbName', value: dbName }] : []),
          ...(durationSeconds !== undefined
            ? [{ name: 'durationSeconds', value: durationSeconds }]
            : []),
        ]);
    case 'target':
      return fc.constant([]);
  }
});

/** A query string of valid params, each value encoded with one of `encodings` in turn. */
export function writeQuery(
  params: readonly Param[],
  encodings: readonly Encoding[] = ['component'],
): string {
  return params
    .map((param, index) => {
      const name = param.rawName ? param.name : encode(param.name, 'component');
      if (param.value === undefined) return name;
      const encoding = encodings[index % Math.max(1, encodings.length)] ?? 'component';
      return `${name}=${param.rawValue ? param.value : encode(param.value, encoding)}`;
    })
    .join('&');
}

/** A valid body in the AWS request shape for a POST to the table or partition route. */
export const validBodyArb = cached(
  (route: 'table' | 'partition'): fc.Arbitrary<Record<string, unknown>> => {
    return fc
      .record(
        {
          TableArn: tableArnArb(true),
          Permissions: permissionsArb,
          SupportedPermissionTypes: typesArb,
          DurationSeconds: lfDurationArb,
          AuditContext: fc.record({ AdditionalAuditContext: text(30) }, { requiredKeys: [] }),
          QuerySessionContext: fc.record(
            {
              QueryId: text(20),
              QueryStartTime: fc.integer({ min: 0, max: 2_000_000_000 }),
              ClusterId: text(20),
              QueryAuthorizationId: text(20),
              AdditionalContext: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), text(10), {
                maxKeys: 3,
              }),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: ['TableArn'] },
      )
      .chain((body) =>
        route === 'table'
          ? fc.constant<Record<string, unknown>>(body)
          : valuesArb(true).map((values) => ({ ...body, Partition: { Values: values } })),
      );
  },
);

/** `arb` one time in `oneIn`, else undefined. */
export function sometimes<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: oneIn - 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arb },
  );
}
