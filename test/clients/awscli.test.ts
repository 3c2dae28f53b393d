/**
 * Client suite: the Debian AWS CLI v2 (`/usr/bin/aws`, 2.9.x) driven against the in-process
 * emulator, for the three operations, every fault the control API can inject, the deny and
 * missing lists, input validation, retries, timeouts and signing.
 */
import assert from 'node:assert/strict';
import { type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import type { OperationName } from '../../src/emulator/state.js';
import {
  AwsCli,
  type CliResult,
  EmulatorControl,
  PLACEHOLDER_CREDENTIALS,
  asRecord,
  assertServiceError,
  assertTimeBetween,
  explain,
  mapLimit,
  outputOf,
  requireAwsCliV2,
  stringField,
  timeField,
} from './helpers.js';

const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
const OTHER_TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/finance/ledger';
const WORKGROUP = 'analytics';
/** What the emulator answers as the table's S3 location. */
const VENDED_S3_PATH = ['s3://emulator-123456789012-us-east-1/sales/orders/'];
/** Independent CLI invocations run at most this many at a time. */
const PARALLEL = 4;

const TABLE_OP = 'GetTemporaryGlueTableCredentials';
const PARTITION_OP = 'GetTemporaryGluePartitionCredentials';
const REDSHIFT_OP = 'GetCredentials';
const LAKE_FORMATION_OPS = [TABLE_OP, PARTITION_OP] as const;
/**
 * The operations the CLI under test can call: AWS CLI 2.9 predates Lake Formation's
 * `get-temporary-data-location-credentials` (tested through the JS SDK in test/emulator).
 */
type CliOperation = Exclude<OperationName, 'GetTemporaryDataLocationCredentials'>;
const ALL_OPS: readonly CliOperation[] = [TABLE_OP, PARTITION_OP, REDSHIFT_OP];

const tableArgs = (tableArn = TABLE_ARN): string[] => [
  'lakeformation',
  'get-temporary-glue-table-credentials',
  '--table-arn',
  tableArn,
  '--permissions',
  'SELECT',
  '--supported-permission-types',
  'COLUMN_PERMISSION',
];

const partitionArgs = (tableArn = TABLE_ARN): string[] => [
  'lakeformation',
  'get-temporary-glue-partition-credentials',
  '--table-arn',
  tableArn,
  '--partition',
  'Values=2026,11',
  '--permissions',
  'SELECT',
  '--supported-permission-types',
  'COLUMN_PERMISSION',
];

const redshiftArgs = (workgroup = WORKGROUP): string[] => [
  'redshift-serverless',
  'get-credentials',
  '--workgroup-name',
  workgroup,
  '--db-name',
  'dev',
];

/** A minimal valid invocation of each operation. */
const COMMANDS: Readonly<Record<CliOperation, readonly string[]>> = {
  GetTemporaryGlueTableCredentials: tableArgs(),
  GetTemporaryGluePartitionCredentials: partitionArgs(),
  GetCredentials: redshiftArgs(),
};

/** The request path of each operation, as the CLI names it in connection errors. */
const REQUEST_PATH: Readonly<Record<CliOperation, string>> = {
  GetTemporaryGlueTableCredentials: '/GetTemporaryGlueTableCredentials',
  GetTemporaryGluePartitionCredentials: '/GetTemporaryGluePartitionCredentials',
  GetCredentials: '/',
};

/** The service's default internal error, what an `error` fault without `errorType` answers. */
const INTERNAL_ERROR: Readonly<Record<CliOperation, string>> = {
  GetTemporaryGlueTableCredentials: 'InternalServiceException',
  GetTemporaryGluePartitionCredentials: 'InternalServiceException',
  GetCredentials: 'InternalServerException',
};

/**
 * Every error name an `error` fault is exercised with, and the operations whose service models
 * it. `retried`: a 5xx, which the CLI's standard retry mode retries.
 */
const INJECTED_ERRORS: readonly {
  readonly name: string;
  readonly operations: readonly CliOperation[];
  readonly retried: boolean;
}[] = [
  { name: 'AccessDeniedException', operations: ALL_OPS, retried: false },
  { name: 'EntityNotFoundException', operations: LAKE_FORMATION_OPS, retried: false },
  { name: 'ResourceNotFoundException', operations: [REDSHIFT_OP], retried: false },
  { name: 'InvalidInputException', operations: LAKE_FORMATION_OPS, retried: false },
  { name: 'ValidationException', operations: [REDSHIFT_OP], retried: false },
  { name: 'PermissionTypeMismatchException', operations: LAKE_FORMATION_OPS, retried: false },
  { name: 'OperationTimeoutException', operations: LAKE_FORMATION_OPS, retried: false },
  { name: 'InternalServiceException', operations: LAKE_FORMATION_OPS, retried: true },
  { name: 'InternalServerException', operations: [REDSHIFT_OP], retried: true },
];

describe('AWS CLI v2 (/usr/bin/aws) against the emulator', function () {
  let emulator: RunningEmulator | undefined;
  let control: EmulatorControl;
  let cli: AwsCli;

  before(async function () {
    await requireAwsCliV2();
    emulator = await startEmulator();
    control = new EmulatorControl(emulator.url);
    cli = new AwsCli(emulator.url);
  });

  after(async function () {
    await emulator?.close();
  });

  beforeEach(async function () {
    await control.reset();
  });

  /** Runs each operation's minimal command, a few at a time. */
  const runEach = (operations: readonly CliOperation[], env?: Record<string, string>) =>
    mapLimit(operations, PARALLEL, (operation) => cli.run(COMMANDS[operation], { env }));

  describe('successful calls', function () {
    it('get-temporary-glue-table-credentials returns ASIA credentials for the requested duration and scope', async function () {
      const before = Date.now();
      // --debug shows the raw response body: CLI 2.9.19's service model predates VendedS3Path,
      // so the field is on the wire but dropped from the printed output.
      const result = await cli.run([
        ...tableArgs(),
        '--permissions',
        'SELECT',
        'DESCRIBE',
        '--duration-seconds',
        '1800',
        '--debug',
      ]);
      const after = Date.now();
      const output = outputOf(result);

      const accessKeyId = stringField(output, 'AccessKeyId');
      assert.match(accessKeyId, /^ASIA[A-Z2-7]{16}$/);
      assert.ok(stringField(output, 'SecretAccessKey').length >= 40);
      assert.ok(stringField(output, 'SessionToken').length > 100);
      const expiration = timeField(output, 'Expiration');
      assertTimeBetween(expiration, before + 1800_000, after + 1800_000, 'Expiration');

      const wire = /"VendedS3Path":(\[[^\]]*\])/.exec(result.stderr);
      assert.ok(
        wire?.[1],
        `no VendedS3Path in the response body the CLI logged: ${explain(result)}`,
      );
      assert.deepEqual(JSON.parse(wire[1]), VENDED_S3_PATH);
      if ('VendedS3Path' in output) assert.deepEqual(output.VendedS3Path, VENDED_S3_PATH);

      const issued = await control.credential(accessKeyId);
      assert.equal(issued.operation, TABLE_OP);
      assert.deepEqual(issued.scope, {
        TableArn: TABLE_ARN,
        Permissions: ['SELECT', 'DESCRIBE'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
        DurationSeconds: 1800,
      });
      assert.equal(issued.callerAccessKeyId, PLACEHOLDER_CREDENTIALS.accessKeyId);
      assert.equal(Date.parse(stringField(issued, 'expiration')), expiration);
      assert.deepEqual(await control.calls(), {
        total: 1,
        byOperation: {
          [TABLE_OP]: 1,
          [PARTITION_OP]: 0,
          [REDSHIFT_OP]: 0,
          GetTemporaryDataLocationCredentials: 0,
        },
      });
    });

    it('get-temporary-glue-partition-credentials, shorthand and JSON --partition, default duration', async function () {
      const before = Date.now();
      const [shorthand, json] = await mapLimit(
        [
          partitionArgs(),
          [
            'lakeformation',
            'get-temporary-glue-partition-credentials',
            '--table-arn',
            TABLE_ARN,
            '--partition',
            '{"Values": ["2026", "11"]}',
            '--permissions',
            'SELECT',
            '--supported-permission-types',
            'COLUMN_PERMISSION',
            'CELL_FILTER_PERMISSION',
            '--duration-seconds',
            '900',
            '--audit-context',
            'AdditionalAuditContext=client-suite-job-42',
          ],
        ],
        PARALLEL,
        (args) => cli.run(args),
      );
      const after = Date.now();
      assert.ok(shorthand && json);

      const first = outputOf(shorthand);
      const firstKey = stringField(first, 'AccessKeyId');
      assert.match(firstKey, /^ASIA[A-Z2-7]{16}$/);
      assertTimeBetween(
        timeField(first, 'Expiration'),
        before + 3600_000,
        after + 3600_000,
        'Expiration',
      );
      assert.equal('VendedS3Path' in first, false, 'the partition call returns no path');
      const firstIssued = await control.credential(firstKey);
      assert.equal(firstIssued.operation, PARTITION_OP);
      assert.deepEqual(firstIssued.scope, {
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
        DurationSeconds: null,
        Partition: { Values: ['2026', '11'] },
      });

      const second = outputOf(json);
      const secondKey = stringField(second, 'AccessKeyId');
      assert.match(secondKey, /^ASIA[A-Z2-7]{16}$/);
      assert.notEqual(secondKey, firstKey);
      assertTimeBetween(
        timeField(second, 'Expiration'),
        before + 900_000,
        after + 900_000,
        'Expiration',
      );
      const secondIssued = await control.credential(secondKey);
      assert.deepEqual(secondIssued.scope, {
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION', 'CELL_FILTER_PERMISSION'],
        DurationSeconds: 900,
        Partition: { Values: ['2026', '11'] },
      });
      assert.equal(secondIssued.auditContext, 'client-suite-job-42');
    });

    it('redshift-serverless get-credentials returns dbUser, dbPassword, expiration and nextRefreshTime', async function () {
      const before = Date.now();
      const [byDefault, oneHour] = await mapLimit(
        [redshiftArgs(), [...redshiftArgs(), '--duration-seconds', '3600']],
        PARALLEL,
        (args) => cli.run(args),
      );
      const after = Date.now();
      assert.ok(byDefault && oneHour);

      for (const [result, duration] of [
        [byDefault, 900],
        [oneHour, 3600],
      ] as const) {
        const output = outputOf(result);
        assert.match(stringField(output, 'dbUser'), /^IAMR?:\S+$/);
        const password = stringField(output, 'dbPassword');
        assert.ok(password.length >= 20, `dbPassword ${password} is too short`);
        const expiration = timeField(output, 'expiration');
        assertTimeBetween(
          expiration,
          before + duration * 1000,
          after + duration * 1000,
          'expiration',
        );
        const nextRefresh = timeField(output, 'nextRefreshTime');
        // Default nextRefreshFraction: 0.75 of the lifetime.
        assertTimeBetween(
          nextRefresh,
          before + duration * 750,
          after + duration * 750,
          'nextRefreshTime',
        );
        assert.ok(nextRefresh < expiration);

        const issued = await control.credential(password);
        assert.equal(issued.operation, REDSHIFT_OP);
        assert.deepEqual(issued.scope, {
          workgroupName: WORKGROUP,
          dbName: 'dev',
          durationSeconds: duration === 900 ? null : 3600,
        });
        assert.equal(Date.parse(stringField(issued, 'expiration')), expiration);
        assert.equal(Date.parse(stringField(issued, 'nextRefreshTime')), nextRefresh);
        assert.equal(issued.callerAccessKeyId, PLACEHOLDER_CREDENTIALS.accessKeyId);
      }
      assert.notEqual(
        stringField(outputOf(byDefault), 'dbPassword'),
        stringField(outputOf(oneHour), 'dbPassword'),
      );
    });

    it('every call issues a new credential', async function () {
      const results = await mapLimit([1, 2, 3, 4], PARALLEL, () => cli.run(tableArgs()));
      const keys = results.map((result) => stringField(outputOf(result), 'AccessKeyId'));
      assert.equal(new Set(keys).size, keys.length, `repeated AccessKeyId in ${keys.join(', ')}`);
      assert.equal((await control.calls()).byOperation[TABLE_OP], 4);
    });

    it('credentialLifetimeSeconds and nextRefreshFraction change what the CLI is given', async function () {
      await control.configure({ credentialLifetimeSeconds: 5, nextRefreshFraction: 0.5 });
      const before = Date.now();
      const [table, redshift] = await mapLimit(
        [[...tableArgs(), '--duration-seconds', '3600'], redshiftArgs()],
        PARALLEL,
        (args) => cli.run(args),
      );
      const after = Date.now();
      assert.ok(table && redshift);
      assertTimeBetween(
        timeField(outputOf(table), 'Expiration'),
        before + 5000,
        after + 5000,
        'Expiration',
      );
      const rs = outputOf(redshift);
      assertTimeBetween(timeField(rs, 'expiration'), before + 5000, after + 5000, 'expiration');
      assertTimeBetween(
        timeField(rs, 'nextRefreshTime'),
        before + 2500,
        after + 2500,
        'nextRefreshTime',
      );

      await control.configure({ nextRefreshFraction: null });
      const withoutRefresh = outputOf(await cli.run(redshiftArgs()));
      assert.equal('nextRefreshTime' in withoutRefresh, false, JSON.stringify(withoutRefresh));
    });
  });

  describe('injected error faults', function () {
    for (const { name, operations, retried } of INJECTED_ERRORS) {
      it(`${name} reaches the CLI from ${operations.join(', ')}`, async function () {
        for (const operation of operations) {
          await control.fault({ operation, mode: 'error', errorType: name });
        }
        // Two attempts allowed: a 4xx must not be retried, a 5xx is retried once.
        const results = await runEach(operations, { AWS_MAX_ATTEMPTS: '2' });
        const calls = await control.calls();
        operations.forEach((operation, i) => {
          const result = results[i] as CliResult;
          assertServiceError(
            result,
            name,
            operation,
            retried ? '(reached max retries: 1): Injected fault' : ': Injected fault',
          );
          assert.equal(calls.byOperation[operation], retried ? 2 : 1, `calls of ${operation}`);
        });
      });
    }

    it('an error fault without errorType answers the service internal error, with its message', async function () {
      for (const operation of ALL_OPS) {
        await control.fault({ operation, mode: 'error', message: `no luck for ${operation}` });
      }
      const results = await runEach(ALL_OPS, { AWS_MAX_ATTEMPTS: '1' });
      ALL_OPS.forEach((operation, i) => {
        assertServiceError(
          results[i] as CliResult,
          INTERNAL_ERROR[operation],
          operation,
          // A 5xx: the CLI says "(reached max retries: 0)" even when it was allowed no retry.
          new RegExp(`operation( \\(reached max retries: 0\\))?: no luck for ${operation}$`, 'm'),
        );
      });
    });

    it('a status override changes how the CLI treats the error (503 retried, 429 not by itself)', async function () {
      await control.fault({
        operation: TABLE_OP,
        mode: 'error',
        errorType: 'AccessDeniedException',
        status: 503,
      });
      await control.fault({
        operation: REDSHIFT_OP,
        mode: 'error',
        errorType: 'ValidationException',
        status: 429,
      });
      const [table, redshift] = (await runEach([TABLE_OP, REDSHIFT_OP], {
        AWS_MAX_ATTEMPTS: '2',
      })) as [CliResult, CliResult];
      assertServiceError(table, 'AccessDeniedException', TABLE_OP, '(reached max retries: 1)');
      // Standard retry mode retries 500/502/503/504 by status; a 429 only with a throttling name.
      assertServiceError(redshift, 'ValidationException', REDSHIFT_OP, 'operation: Injected fault');
      const calls = await control.calls();
      assert.equal(calls.byOperation[TABLE_OP], 2);
      assert.equal(calls.byOperation[REDSHIFT_OP], 1);
    });

    it('a counted error fault fails that many calls, then the operation works again', async function () {
      await control.fault({
        operation: REDSHIFT_OP,
        mode: 'error',
        errorType: 'AccessDeniedException',
        count: 1,
      });
      const failed = await cli.run(redshiftArgs());
      assertServiceError(failed, 'AccessDeniedException', REDSHIFT_OP);
      const [table, redshift] = await mapLimit([tableArgs(), redshiftArgs()], PARALLEL, (args) =>
        cli.run(args),
      );
      assert.ok(table && redshift);
      outputOf(table);
      outputOf(redshift);
    });

    it("mode ok clears an operation's fault", async function () {
      await control.fault({ operation: '*', mode: 'error', errorType: 'AccessDeniedException' });
      await control.fault({ operation: '*', mode: 'ok' });
      const results = await runEach(ALL_OPS);
      for (const result of results) outputOf(result);
    });
  });

  describe('deny and missing lists (POST /_emulator/config)', function () {
    it('a denied table or workgroup is AccessDeniedException; others still work', async function () {
      await control.configure({ deny: ['arn:aws:glue:*:table/sales/*', WORKGROUP] });
      const results = await mapLimit(
        [
          tableArgs(),
          partitionArgs(),
          redshiftArgs(),
          tableArgs(OTHER_TABLE_ARN),
          redshiftArgs('etl'),
        ],
        PARALLEL,
        (args) => cli.run(args, { env: { AWS_MAX_ATTEMPTS: '1' } }),
      );
      const [table, partition, redshift, otherTable, otherWorkgroup] = results as [
        CliResult,
        CliResult,
        CliResult,
        CliResult,
        CliResult,
      ];
      assertServiceError(table, 'AccessDeniedException', TABLE_OP, TABLE_ARN);
      assertServiceError(partition, 'AccessDeniedException', PARTITION_OP, TABLE_ARN);
      assertServiceError(redshift, 'AccessDeniedException', REDSHIFT_OP, WORKGROUP);
      const issued = await control.credential(stringField(outputOf(otherTable), 'AccessKeyId'));
      assert.equal(asRecord(issued.scope, 'scope').TableArn, OTHER_TABLE_ARN);
      outputOf(otherWorkgroup);
    });

    it('a missing table is EntityNotFoundException, a missing workgroup ResourceNotFoundException', async function () {
      await control.configure({ missing: [TABLE_ARN, WORKGROUP] });
      const [table, partition, redshift] = (await runEach(ALL_OPS, {
        AWS_MAX_ATTEMPTS: '1',
      })) as [CliResult, CliResult, CliResult];
      assertServiceError(table, 'EntityNotFoundException', TABLE_OP, `${TABLE_ARN} not found`);
      assertServiceError(
        partition,
        'EntityNotFoundException',
        PARTITION_OP,
        `${TABLE_ARN} not found`,
      );
      assertServiceError(
        redshift,
        'ResourceNotFoundException',
        REDSHIFT_OP,
        `${WORKGROUP} not found`,
      );
    });
  });

  describe('input validation by the emulator', function () {
    const cases: readonly {
      readonly what: string;
      readonly args: readonly string[];
      readonly operation: OperationName;
      readonly error: string;
      readonly message: string;
    }[] = [
      {
        what: 'a table ARN of the wrong shape',
        args: tableArgs('arn:aws:glue:us-east-1:123:table/sales'),
        operation: TABLE_OP,
        error: 'InvalidInputException',
        message: 'Invalid TableArn',
      },
      {
        what: 'a partition call on a non-table ARN',
        args: partitionArgs('arn:aws:glue:us-east-1:123456789012:database/sales'),
        operation: PARTITION_OP,
        error: 'InvalidInputException',
        message: 'Invalid TableArn',
      },
      {
        what: 'a table DurationSeconds above 21600',
        args: [...tableArgs(), '--duration-seconds', '21601'],
        operation: TABLE_OP,
        error: 'InvalidInputException',
        message: 'Member must have value between 900 and 21600',
      },
      {
        what: 'a partition DurationSeconds above 21600',
        args: [...partitionArgs(), '--duration-seconds', '43200'],
        operation: PARTITION_OP,
        error: 'InvalidInputException',
        message: 'Member must have value between 900 and 21600',
      },
      {
        what: 'an unknown permission',
        args: [...tableArgs(), '--permissions', 'READ'],
        operation: TABLE_OP,
        error: 'InvalidInputException',
        message: "Value 'READ' at 'permissions'",
      },
      {
        what: 'an unknown permission type',
        args: [...partitionArgs(), '--supported-permission-types', 'ROW_PERMISSION'],
        operation: PARTITION_OP,
        error: 'InvalidInputException',
        message: "Value 'ROW_PERMISSION' at 'supportedPermissionTypes'",
      },
      {
        what: 'a Redshift durationSeconds above 3600',
        args: [...redshiftArgs(), '--duration-seconds', '7200'],
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: 'Member must have value between 900 and 3600',
      },
      {
        what: 'a Redshift durationSeconds below 900',
        args: [...redshiftArgs(), '--duration-seconds', '100'],
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: 'Member must have value between 900 and 3600',
      },
      {
        what: 'a dbName starting with a digit',
        args: [
          'redshift-serverless',
          'get-credentials',
          '--workgroup-name',
          WORKGROUP,
          '--db-name',
          '1dev',
        ],
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: 'dbName must be 1 to 64 characters',
      },
      {
        what: 'a dbName with a colon',
        args: [
          'redshift-serverless',
          'get-credentials',
          '--workgroup-name',
          WORKGROUP,
          '--db-name',
          'dev:x',
        ],
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: 'dbName must be 1 to 64 characters',
      },
      {
        what: 'a reserved word as dbName',
        args: [
          'redshift-serverless',
          'get-credentials',
          '--workgroup-name',
          WORKGROUP,
          '--db-name',
          'select',
        ],
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: "dbName 'select' is a reserved word",
      },
      {
        what: 'a workgroup name with capitals and underscores',
        args: redshiftArgs('Analytics_WG'),
        operation: REDSHIFT_OP,
        error: 'ValidationException',
        message: "Value 'Analytics_WG' at 'workgroupName'",
      },
    ];

    it(`rejects ${cases.length} invalid requests with the service's own error names`, async function () {
      const results = await mapLimit(cases, PARALLEL, ({ args }) =>
        cli.run(args, { env: { AWS_MAX_ATTEMPTS: '1' } }),
      );
      cases.forEach(({ what, operation, error, message }, i) => {
        const result = results[i] as CliResult;
        assert.doesNotThrow(
          () => assertServiceError(result, error, operation, message),
          `${what}: ${explain(result)}`,
        );
      });
      assert.equal((await control.calls()).total, cases.length);
    });

    it('a duration below the model minimum never leaves the CLI (client-side validation)', async function () {
      const result = await cli.run([...tableArgs(), '--duration-seconds', '600']);
      assert.equal(result.exitCode, 252, explain(result));
      assert.match(
        result.stderr,
        /Invalid value for parameter DurationSeconds, value: 600, valid min value: 900/,
      );
      assert.equal((await control.calls()).total, 0);
    });
  });

  describe('throttling and retries', function () {
    it('a throttle on the first two calls is retried by the CLI, and the third attempt succeeds', async function () {
      await control.fault({ operation: '*', mode: 'throttle', count: 2 });
      const result = await cli.run(tableArgs(), {
        env: { AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '3' },
      });
      assert.match(stringField(outputOf(result), 'AccessKeyId'), /^ASIA/);
      assert.deepEqual(await control.calls(), {
        total: 3,
        byOperation: {
          [TABLE_OP]: 3,
          [PARTITION_OP]: 0,
          [REDSHIFT_OP]: 0,
          GetTemporaryDataLocationCredentials: 0,
        },
      });
    });

    it('per-operation counted throttles are retried to success for the partition and Redshift calls', async function () {
      await control.fault({ operation: PARTITION_OP, mode: 'throttle', count: 2 });
      await control.fault({ operation: REDSHIFT_OP, mode: 'throttle', count: 1 });
      const [partition, redshift] = (await runEach([PARTITION_OP, REDSHIFT_OP], {
        AWS_MAX_ATTEMPTS: '3',
      })) as [CliResult, CliResult];
      outputOf(partition);
      outputOf(redshift);
      const calls = await control.calls();
      assert.equal(calls.byOperation[PARTITION_OP], 3);
      assert.equal(calls.byOperation[REDSHIFT_OP], 2);
    });

    it('a persistent throttle ends in ThrottlingException after the CLI retries', async function () {
      await control.fault({ operation: TABLE_OP, mode: 'throttle' });
      await control.fault({ operation: REDSHIFT_OP, mode: 'throttle' });
      // errorType overrides the name; ThrottledException is Lake Formation's modelled one.
      await control.fault({
        operation: PARTITION_OP,
        mode: 'throttle',
        errorType: 'ThrottledException',
      });
      const results = await runEach(ALL_OPS, { AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '2' });
      const calls = await control.calls();
      ALL_OPS.forEach((operation, i) => {
        const name = operation === PARTITION_OP ? 'ThrottledException' : 'ThrottlingException';
        assertServiceError(
          results[i] as CliResult,
          name,
          operation,
          '(reached max retries: 1): Rate exceeded',
        );
        assert.equal(calls.byOperation[operation], 2, `calls of ${operation}`);
      });
    });
  });

  describe('latency and hang faults', function () {
    it('a latency fault delays the answer but the call succeeds', async function () {
      await control.fault({ operation: '*', mode: 'latency', latencyMs: 1500 });
      const results = await runEach(ALL_OPS, { AWS_MAX_ATTEMPTS: '1' });
      for (const result of results) {
        outputOf(result);
        assert.ok(result.elapsedMs >= 1500, `answered after only ${result.elapsedMs} ms`);
      }
      assert.equal((await control.calls()).total, 3);
    });

    it('a hang fault makes the CLI give up with a read timeout', async function () {
      await control.fault({ operation: '*', mode: 'hang' });
      const operations = [TABLE_OP, REDSHIFT_OP] as const;
      const results = await mapLimit(operations, PARALLEL, (operation) =>
        cli.run(COMMANDS[operation], { env: { AWS_MAX_ATTEMPTS: '1' }, readTimeoutSeconds: 1 }),
      );
      operations.forEach((operation, i) => {
        const result = results[i] as CliResult;
        assert.equal(result.exitCode, 255, explain(result));
        assert.ok(
          result.stderr.includes(
            `Read timeout on endpoint URL: "${cli.endpointUrl}${REQUEST_PATH[operation]}"`,
          ),
          explain(result),
        );
        assert.ok(result.elapsedMs < 15_000, `took ${result.elapsedMs} ms`);
      });
      assert.equal((await control.calls()).total, 2);
    });
  });

  describe('signing', function () {
    it('an unsigned request (--no-sign-request) is MissingAuthenticationTokenException', async function () {
      const results = await mapLimit(ALL_OPS, PARALLEL, (operation) =>
        cli.run([...COMMANDS[operation], '--no-sign-request'], { env: { AWS_MAX_ATTEMPTS: '1' } }),
      );
      ALL_OPS.forEach((operation, i) => {
        assertServiceError(
          results[i] as CliResult,
          'MissingAuthenticationTokenException',
          operation,
          'Missing Authentication Token',
        );
      });
    });

    describe('with signature verification (startEmulator({accessKeys}))', function () {
      const KEYS = {
        accessKeyId: 'AKIACLIENTSUITEKEY01',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCLIENTSUITE',
      };
      let verifying: RunningEmulator | undefined;
      let verifyingControl: EmulatorControl;

      before(async function () {
        verifying = await startEmulator({
          accessKeys: new Map([[KEYS.accessKeyId, KEYS.secretAccessKey]]),
        });
        verifyingControl = new EmulatorControl(verifying.url);
      });

      after(async function () {
        await verifying?.close();
      });

      it('accepts the CLI signature made with a known key for all three operations', async function () {
        const signed = new AwsCli(verifyingUrl(), KEYS);
        const results = await mapLimit(ALL_OPS, PARALLEL, (operation) =>
          signed.run(COMMANDS[operation]),
        );
        for (const result of results) outputOf(result);
      });

      it('rejects a wrong secret and an unknown key id', async function () {
        const url = verifyingUrl();
        const wrongSecret = new AwsCli(url, { ...KEYS, secretAccessKey: 'not-the-secret' });
        const unknownKey = new AwsCli(url, PLACEHOLDER_CREDENTIALS);
        const env = { AWS_MAX_ATTEMPTS: '1' };
        const [bad, unknown] = await mapLimit([wrongSecret, unknownKey], PARALLEL, (client) =>
          client.run(tableArgs(), { env }),
        );
        assert.ok(bad && unknown);
        assertServiceError(
          bad,
          'InvalidSignatureException',
          TABLE_OP,
          'The request signature we calculated does not match',
        );
        assertServiceError(
          unknown,
          'UnrecognizedClientException',
          TABLE_OP,
          'The security token included in the request is invalid',
        );
      });

      it('accepts a request signed with credentials it issued (with their session token)', async function () {
        const url = verifyingUrl();
        const table = outputOf(await new AwsCli(url, KEYS).run(tableArgs()));
        const issuedKey = stringField(table, 'AccessKeyId');
        const vended = new AwsCli(url, {
          accessKeyId: issuedKey,
          secretAccessKey: stringField(table, 'SecretAccessKey'),
          sessionToken: stringField(table, 'SessionToken'),
        });
        const redshift = outputOf(await vended.run(redshiftArgs()));
        const issued = await verifyingControl.credential(stringField(redshift, 'dbPassword'));
        assert.equal(issued.callerAccessKeyId, issuedKey);
        assert.equal((await verifyingControl.credential(issuedKey)).signedCalls, 1);
      });

      function verifyingUrl(): string {
        assert.ok(verifying, 'the verifying emulator did not start');
        return verifying.url;
      }
    });
  });
});
