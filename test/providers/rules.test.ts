/**
 * The request fields' one rule table (`FIELD_RULES`): every rule against good and bad values,
 * then each bad value through the configuration, the daemon's requests (query and AWS-shaped
 * body) and the emulator. Config and requests must word it the same (the rule's own text after
 * "<field>: "); the emulator must refuse it too, under AWS's error name and wording.
 */
import assert from 'node:assert/strict';
import { allowList } from '../../src/config/allow-list.js';
import { ConfigError, buildConfig } from '../../src/config/config.js';
import { ApiError } from '../../src/daemon/http/errors.js';
import {
  type RequestRules,
  partitionKeyFromBody,
  partitionKeyFromQuery,
  locationKeyFromBody,
  locationKeyFromQuery,
  redshiftKeyFromQuery,
  tableKeyFromBody,
  tableKeyFromQuery,
} from '../../src/daemon/http/requests.js';
import { EmulatorError } from '../../src/emulator/errors.js';
import {
  validatePartitionCredentials,
  validateRedshiftCredentials,
  validateTableCredentials,
} from '../../src/emulator/validation.js';
import { FIELD_RULES } from '../../src/providers/rules.js';

const ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
const LONG_VALUE = 'v'.repeat(1025);
const MANY_VALUES = Array.from({ length: 101 }, (_, i) => String(i));

type Rules = typeof FIELD_RULES;
type RuleName = keyof Rules;
type ValueOf<K extends RuleName> = Parameters<Rules[K]['problem']>[0];

/** Values each rule accepts and refuses; a rule added to the table without cases fails typecheck. */
const VALUES: { [K in RuleName]: { good: ValueOf<K>[]; bad: ValueOf<K>[] } } = {
  tableArn: {
    good: [ARN, 'arn:aws-cn:glue:cn-north-1:123456789012:table/db/t', `${ARN}-2026`],
    bad: ['', 'arn:aws:s3:::bucket', `${ARN}/extra`, 'arn:aws:glue:us-east-1:1234:table/db/t'],
  },
  permission: {
    good: ['SELECT', 'DESCRIBE', 'ALL', 'SUPER_USER'],
    bad: ['READ', 'select', '', 'SELECT '],
  },
  permissionType: {
    good: ['COLUMN_PERMISSION', 'NESTED_CELL_PERMISSION'],
    bad: ['ROW', 'column_permission', ''],
  },
  lakeFormationDuration: { good: [900, 3600, 21600], bad: [0, 899, 21601, 1800.5, Number.NaN] },
  redshiftDuration: { good: [900, 3600], bad: [899, 3601, 7200, 1000.5] },
  partitionValues: {
    good: [['2026'], ['2026', '11', ''], ['a,b'], ['v'.repeat(1024)], MANY_VALUES.slice(1)],
    bad: [[], MANY_VALUES, [LONG_VALUE], ['2026', LONG_VALUE]],
  },
  workgroupName: {
    good: ['analytics', 'wg-1', 'abc', 'a'.repeat(64)],
    bad: ['Analytics', 'ab', 'a'.repeat(65), 'wg_1', ''],
  },
  customDomainName: {
    good: ['db.example.com', 'a.bc', 'x1.example-2.org'],
    bad: ['', 'example', '-bad.example.com', 'a..b', `${'a.'.repeat(126)}com`],
  },
  dbName: {
    good: ['dev', 'Sales_2026', 'a', 'db+x.y@z-1', 'a'.repeat(64)],
    bad: ['1db', '', '_db', 'a'.repeat(65), 'select', 'User', 'db name'],
  },
  redshiftName: {
    good: [{ workgroupName: 'analytics' }, { customDomainName: 'db.example.com' }],
    bad: [{}, { workgroupName: 'analytics', customDomainName: 'db.example.com' }],
  },
  locationDuration: { good: [900, 21601, 43200], bad: [899, 43201, 1800.5, Number.NaN] },
  s3Uri: {
    good: [
      's3://bucket',
      's3://bucket/',
      's3://my.bucket-1/sales/orders/',
      's3://abc/a,b/c d',
      `s3://abc/${'k'.repeat(1024)}`,
    ],
    bad: [
      '',
      'bucket/key',
      'S3://bucket/key',
      's3://ab/key',
      's3://Bucket/key',
      's3://-bucket/key',
      's3://bucket-/key',
      `s3://${'b'.repeat(64)}/key`,
      `s3://abc/${'k'.repeat(1025)}`,
      's3://bucket/a\nb',
      'arn:aws:s3:::bucket/key',
    ],
  },
  dataLocations: { good: [['s3://bucket'], ['s3://a1b', 's3://b2c']], bad: [[]] },
  credentialsScope: { good: ['READ', 'READWRITE'], bad: ['READ_WRITE', 'read', 'WRITE', ''] },
};

describe('FIELD_RULES: one rule table for request fields', () => {
  it('has cases for every rule', () => {
    assert.deepEqual(Object.keys(VALUES).sort(), Object.keys(FIELD_RULES).sort());
  });

  for (const name of Object.keys(VALUES) as RuleName[]) {
    it(`${name}: accepts the good values, words a problem for the bad ones`, () => {
      const problem = FIELD_RULES[name].problem as (value: unknown) => string | undefined;
      for (const value of VALUES[name].good) {
        assert.equal(problem(value), undefined, `${name} refused ${JSON.stringify(value)}`);
      }
      for (const value of VALUES[name].bad) {
        const text = problem(value);
        assert.ok(text !== undefined, `${name} accepted ${JSON.stringify(value)}`);
        // Worded to follow "<field>: ": lower case, no field name of its own, no full stop.
        assert.match(text, /^['a-z]/, text);
        assert.doesNotMatch(text, /\.$/, text);
        assert.ok(!text.startsWith(`${name}:`), text);
      }
    });
  }
});

const REQUEST_RULES: RequestRules = {
  defaultDurationSeconds: () => 3600,
  allow: allowList(undefined),
};

/** The message of the configuration's one problem, without the `targets[0].<path>: ` before it. */
function configProblem(target: Record<string, unknown>, path: string): string {
  try {
    buildConfig({ targets: [{ name: 't', ...target }] });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.problems.length, 1, error.problems.join('\n'));
    const [problem = ''] = error.problems;
    const prefix = `targets[0].${path}: `;
    assert.ok(problem.startsWith(prefix), `${problem} does not start with ${prefix}`);
    return problem.slice(prefix.length);
  }
  return assert.fail(`the configuration accepted ${JSON.stringify(target)}`);
}

/**
 * A request's InvalidRequest message without the `<field>: ` before it, nor the `; given "…"`
 * that shows the client's value after it.
 */
function requestProblem(call: () => unknown, field: string, given?: string): string {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, 'InvalidRequest');
    const prefix = `${field}: `;
    assert.ok(error.message.startsWith(prefix), `${error.message} does not start with ${prefix}`);
    let text = error.message.slice(prefix.length);
    if (given !== undefined) {
      const suffix = `; given ${JSON.stringify(given.length > 80 ? `${given.slice(0, 80)}…` : given)}`;
      assert.ok(text.endsWith(suffix), `${error.message} does not end with ${suffix}`);
      text = text.slice(0, -suffix.length);
    }
    return text;
  }
  return assert.fail(`the request was accepted (${field})`);
}

function emulatorRefuses(call: () => unknown, errorName: string): void {
  assert.throws(call, (error) => error instanceof EmulatorError && error.name === errorName);
}

const query = (params: Record<string, string | string[]>) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of typeof value === 'string' ? [value] : value) search.append(name, item);
  }
  return search;
};

interface Agreement {
  readonly what: string;
  readonly rule: RuleName;
  readonly value: unknown;
  /** A configured target holding the bad value, and the path the problem is named at. */
  readonly target: Record<string, unknown>;
  readonly path: string;
  /** Requests holding the bad value: the field as the client spelled it, and the value shown. */
  readonly requests: readonly {
    field: string;
    given?: string;
    call: () => unknown;
  }[];
  /**
   * The same value sent to the emulator, and the AWS error name it answers; absent for the
   * data-location rules until the emulator validates GetTemporaryDataLocationCredentials.
   */
  readonly emulator?: { call: () => unknown; errorName: string };
}

const table = (fields: Record<string, unknown>) => ({
  source: 'lakeformation_table',
  tableArn: ARN,
  ...fields,
});
const partition = (values: unknown) => ({
  source: 'lakeformation_partition',
  tableArn: ARN,
  values,
});
const redshift = (fields: Record<string, unknown>) => ({
  source: 'redshift_serverless',
  ...fields,
});

const location = (fields: Record<string, unknown>) => ({
  source: 'lakeformation_location',
  dataLocations: ['s3://bucket/sales/'],
  ...fields,
});

const LF = 'InvalidInputException';
const RS = 'ValidationException';

const AGREEMENTS: readonly Agreement[] = [
  {
    what: 'an S3 ARN as tableArn',
    rule: 'tableArn',
    value: 'arn:aws:s3:::bucket',
    target: table({ tableArn: 'arn:aws:s3:::bucket' }),
    path: 'tableArn',
    requests: [
      {
        field: 'tableArn',
        given: 'arn:aws:s3:::bucket',
        call: () => tableKeyFromQuery(query({ tableArn: 'arn:aws:s3:::bucket' }), REQUEST_RULES),
      },
      {
        field: 'TableArn',
        given: 'arn:aws:s3:::bucket',
        call: () => tableKeyFromBody({ TableArn: 'arn:aws:s3:::bucket' }, REQUEST_RULES),
      },
      {
        field: 'tableArn',
        given: 'arn:aws:s3:::bucket',
        call: () =>
          partitionKeyFromQuery(
            query({ tableArn: 'arn:aws:s3:::bucket', values: '1' }),
            REQUEST_RULES,
          ),
      },
    ],
    emulator: {
      call: () => validateTableCredentials({ TableArn: 'arn:aws:s3:::bucket' }),
      errorName: LF,
    },
  },
  {
    what: 'an ARN of a megabyte (shown cut short)',
    rule: 'tableArn',
    value: `${ARN}/${'x'.repeat(1_000_000)}`,
    target: table({ tableArn: `${ARN}/${'x'.repeat(1_000_000)}` }),
    path: 'tableArn',
    requests: [
      {
        field: 'TableArn',
        given: `${ARN}/${'x'.repeat(1_000_000)}`,
        call: () =>
          tableKeyFromBody({ TableArn: `${ARN}/${'x'.repeat(1_000_000)}` }, REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateTableCredentials({ TableArn: `${ARN}/${'x'.repeat(1_000_000)}` }),
      errorName: LF,
    },
  },
  {
    what: 'READ as a permission',
    rule: 'permission',
    value: 'READ',
    target: table({ permissions: ['SELECT', 'READ'] }),
    path: 'permissions[1]',
    requests: [
      {
        field: 'permissions',
        given: 'READ',
        call: () =>
          tableKeyFromQuery(query({ tableArn: ARN, permissions: 'SELECT,READ' }), REQUEST_RULES),
      },
      {
        field: 'Permissions',
        given: 'READ',
        call: () =>
          tableKeyFromBody({ TableArn: ARN, Permissions: ['SELECT', 'READ'] }, REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateTableCredentials({ TableArn: ARN, Permissions: ['SELECT', 'READ'] }),
      errorName: LF,
    },
  },
  {
    what: 'ROW as a permission type',
    rule: 'permissionType',
    value: 'ROW',
    target: table({ supportedPermissionTypes: ['ROW'] }),
    path: 'supportedPermissionTypes[0]',
    requests: [
      {
        field: 'supportedPermissionTypes',
        given: 'ROW',
        call: () =>
          tableKeyFromQuery(
            query({ tableArn: ARN, supportedPermissionTypes: 'ROW' }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'SupportedPermissionTypes',
        given: 'ROW',
        call: () =>
          partitionKeyFromBody(
            { TableArn: ARN, SupportedPermissionTypes: ['ROW'], Partition: { Values: ['1'] } },
            REQUEST_RULES,
          ),
      },
    ],
    emulator: {
      call: () => validateTableCredentials({ TableArn: ARN, SupportedPermissionTypes: ['ROW'] }),
      errorName: LF,
    },
  },
  ...[60, 21601].map((seconds): Agreement => ({
    what: `a Lake Formation duration of ${seconds}`,
    rule: 'lakeFormationDuration',
    value: seconds,
    target: table({ durationSeconds: seconds }),
    path: 'durationSeconds',
    requests: [
      {
        field: 'durationSeconds',
        call: () =>
          tableKeyFromQuery(
            query({ tableArn: ARN, durationSeconds: String(seconds) }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'DurationSeconds',
        call: () => tableKeyFromBody({ TableArn: ARN, DurationSeconds: seconds }, REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateTableCredentials({ TableArn: ARN, DurationSeconds: seconds }),
      errorName: LF,
    },
  })),
  {
    what: 'a Redshift duration of 7200',
    rule: 'redshiftDuration',
    value: 7200,
    target: redshift({ workgroupName: 'analytics', durationSeconds: 7200 }),
    path: 'durationSeconds',
    requests: [
      {
        field: 'durationSeconds',
        call: () =>
          redshiftKeyFromQuery(
            query({ workgroupName: 'analytics', durationSeconds: '7200' }),
            REQUEST_RULES,
          ),
      },
    ],
    emulator: {
      call: () =>
        validateRedshiftCredentials({ workgroupName: 'analytics', durationSeconds: 7200 }),
      errorName: RS,
    },
  },
  {
    what: 'no partition values',
    rule: 'partitionValues',
    value: [],
    target: partition([]),
    path: 'values',
    requests: [
      {
        field: 'Partition.Values',
        call: () =>
          partitionKeyFromBody({ TableArn: ARN, Partition: { Values: [] } }, REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validatePartitionCredentials({ TableArn: ARN, Partition: { Values: [] } }),
      errorName: LF,
    },
  },
  ...[
    ['101 partition values', MANY_VALUES],
    ['a partition value of 1025 characters', ['2026', LONG_VALUE]],
  ].map(([what, values]): Agreement => ({
    what: what as string,
    rule: 'partitionValues',
    value: values,
    target: partition(values),
    path: 'values',
    requests: [
      {
        field: 'values',
        call: () =>
          partitionKeyFromQuery(
            query({ tableArn: ARN, values: values as string[] }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'Partition.Values',
        call: () =>
          partitionKeyFromBody({ TableArn: ARN, Partition: { Values: values } }, REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validatePartitionCredentials({ TableArn: ARN, Partition: { Values: values } }),
      errorName: LF,
    },
  })),
  {
    what: 'an upper-case workgroupName',
    rule: 'workgroupName',
    value: 'Analytics',
    target: redshift({ workgroupName: 'Analytics' }),
    path: 'workgroupName',
    requests: [
      {
        field: 'workgroupName',
        given: 'Analytics',
        call: () => redshiftKeyFromQuery(query({ workgroupName: 'Analytics' }), REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateRedshiftCredentials({ workgroupName: 'Analytics' }),
      errorName: RS,
    },
  },
  {
    what: 'a customDomainName that is no domain name',
    rule: 'customDomainName',
    value: '-bad.example.com',
    target: redshift({ customDomainName: '-bad.example.com' }),
    path: 'customDomainName',
    requests: [
      {
        field: 'customDomainName',
        given: '-bad.example.com',
        call: () =>
          redshiftKeyFromQuery(query({ customDomainName: '-bad.example.com' }), REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateRedshiftCredentials({ customDomainName: '-bad.example.com' }),
      errorName: RS,
    },
  },
  ...['1db', 'select'].map((dbName): Agreement => ({
    what: `${dbName} as dbName`,
    rule: 'dbName',
    value: dbName,
    target: redshift({ workgroupName: 'analytics', dbName }),
    path: 'dbName',
    requests: [
      {
        field: 'dbName',
        call: () =>
          redshiftKeyFromQuery(query({ workgroupName: 'analytics', dbName }), REQUEST_RULES),
      },
    ],
    emulator: {
      call: () => validateRedshiftCredentials({ workgroupName: 'analytics', dbName }),
      errorName: RS,
    },
  })),
  ...[
    ['neither Redshift name', {}],
    ['both Redshift names', { workgroupName: 'analytics', customDomainName: 'db.example.com' }],
  ].map(([what, names]): Agreement => ({
    what: what as string,
    rule: 'redshiftName',
    value: names,
    target: redshift({ ...(names as object), dbName: 'dev' }),
    path: 'workgroupName',
    requests: [
      {
        field: 'workgroupName',
        call: () =>
          redshiftKeyFromQuery(
            query({ ...(names as Record<string, string>), dbName: 'dev' }),
            REQUEST_RULES,
          ),
      },
    ],
    emulator: {
      call: () => validateRedshiftCredentials({ ...(names as object), dbName: 'dev' }),
      errorName: RS,
    },
  })),
  {
    what: 'an S3 ARN as a data location',
    rule: 's3Uri',
    value: 'arn:aws:s3:::bucket',
    target: location({ dataLocations: ['s3://bucket/a/', 'arn:aws:s3:::bucket'] }),
    path: 'dataLocations[1]',
    requests: [
      {
        field: 'dataLocations',
        given: 'arn:aws:s3:::bucket',
        call: () =>
          locationKeyFromQuery(
            query({ dataLocations: ['s3://bucket/a/', 'arn:aws:s3:::bucket'] }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'DataLocations',
        given: 'arn:aws:s3:::bucket',
        call: () => locationKeyFromBody({ DataLocations: ['arn:aws:s3:::bucket'] }, REQUEST_RULES),
      },
    ],
  },
  {
    what: 'no data location',
    rule: 'dataLocations',
    value: [],
    target: location({ dataLocations: [] }),
    path: 'dataLocations',
    requests: [
      {
        field: 'DataLocations',
        call: () => locationKeyFromBody({ DataLocations: [] }, REQUEST_RULES),
      },
    ],
  },
  {
    what: "READ_WRITE (the documentation's spelling, not the API's)",
    rule: 'credentialsScope',
    value: 'READ_WRITE',
    target: location({ credentialsScope: 'READ_WRITE' }),
    path: 'credentialsScope',
    requests: [
      {
        field: 'credentialsScope',
        given: 'READ_WRITE',
        call: () =>
          locationKeyFromQuery(
            query({ dataLocations: 's3://bucket/a/', credentialsScope: 'READ_WRITE' }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'CredentialsScope',
        given: 'READ_WRITE',
        call: () =>
          locationKeyFromBody(
            { DataLocations: ['s3://bucket/a/'], CredentialsScope: 'READ_WRITE' },
            REQUEST_RULES,
          ),
      },
    ],
  },
  {
    what: 'a location duration past 12 hours',
    rule: 'locationDuration',
    value: 43201,
    target: location({ durationSeconds: 43201 }),
    path: 'durationSeconds',
    requests: [
      {
        field: 'durationSeconds',
        call: () =>
          locationKeyFromQuery(
            query({ dataLocations: 's3://bucket/a/', durationSeconds: '43201' }),
            REQUEST_RULES,
          ),
      },
      {
        field: 'DurationSeconds',
        call: () =>
          locationKeyFromBody(
            { DataLocations: ['s3://bucket/a/'], DurationSeconds: 43201 },
            REQUEST_RULES,
          ),
      },
    ],
  },
];

describe('FIELD_RULES: configuration, requests and the emulator read the same rule', () => {
  it('covers every rule', () => {
    assert.deepEqual(
      [...new Set(AGREEMENTS.map((agreement) => agreement.rule))].sort(),
      Object.keys(FIELD_RULES).sort(),
    );
  });

  for (const agreement of AGREEMENTS) {
    it(`${agreement.rule}: ${agreement.what} is worded alike in config and requests`, () => {
      const text = (FIELD_RULES[agreement.rule].problem as (value: unknown) => string | undefined)(
        agreement.value,
      );
      assert.ok(text !== undefined, 'the rule accepts the value');
      const fromConfig = configProblem(agreement.target, agreement.path);
      assert.equal(fromConfig, text);
      for (const request of agreement.requests) {
        assert.equal(
          requestProblem(request.call, request.field, request.given),
          fromConfig,
          `a request's ${request.field} and the configuration word the rule differently`,
        );
      }
      if (agreement.emulator) {
        emulatorRefuses(agreement.emulator.call, agreement.emulator.errorName);
      }
    });
  }

  it('leaves AWS its own wording in the emulator', () => {
    assert.throws(
      () => validateTableCredentials({ TableArn: ARN, DurationSeconds: 60 }),
      /Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 21600/,
    );
    assert.throws(
      () => validateRedshiftCredentials({ workgroupName: 'Analytics' }),
      /Member must have length between 3 and 64 and satisfy regular expression pattern: \^\[a-z0-9-\]\+\$/,
    );
    assert.throws(
      () => validateRedshiftCredentials({}),
      /You must provide either workgroupName or customDomainName/,
    );
  });
});
