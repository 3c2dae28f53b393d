/**
 * The emulator as the real AWS SDK v3 clients see it: every operation, every error the
 * control API can inject (as the SDK's modelled exception classes), retries and timeouts.
 */
import assert from 'node:assert/strict';
import {
  AccessDeniedException as LfAccessDenied,
  EntityNotFoundException,
  GetTemporaryGluePartitionCredentialsCommand,
  GetTemporaryGlueTableCredentialsCommand,
  InternalServiceException,
  InvalidInputException,
  LakeFormationServiceException,
  OperationTimeoutException,
  PermissionTypeMismatchException,
  ThrottledException,
} from '@aws-sdk/client-lakeformation';
import {
  AccessDeniedException as RsAccessDenied,
  GetCredentialsCommand,
  type GetCredentialsCommandInput,
  InternalServerException,
  ResourceNotFoundException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-redshift-serverless';
import { TABLE_ARN, useEmulator } from '../support/emulator.js';

const tableCommand = (
  extra: Partial<ConstructorParameters<typeof GetTemporaryGlueTableCredentialsCommand>[0]> = {},
) =>
  new GetTemporaryGlueTableCredentialsCommand({
    TableArn: TABLE_ARN,
    Permissions: ['SELECT'],
    SupportedPermissionTypes: ['COLUMN_PERMISSION'],
    ...extra,
  });

const partitionCommand = (values = ['2026', '11']) =>
  new GetTemporaryGluePartitionCredentialsCommand({
    TableArn: TABLE_ARN,
    Partition: { Values: values },
    Permissions: ['SELECT'],
    SupportedPermissionTypes: ['COLUMN_PERMISSION'],
  });

const redshiftCommand = (extra: Partial<GetCredentialsCommandInput> = {}) =>
  new GetCredentialsCommand({ workgroupName: 'analytics', dbName: 'dev', ...extra });

/** The rejection of `promise`, which must reject. */
async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number } }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

const secondsFromNow = (date: Date | undefined) => ((date?.getTime() ?? NaN) - Date.now()) / 1000;

describe('emulator through the AWS SDK v3 clients', () => {
  const emulator = useEmulator();

  describe('successful calls', () => {
    it('GetTemporaryGlueTableCredentials returns S3 credentials and the vended path', async () => {
      const out = await emulator.lakeFormation().send(tableCommand({ DurationSeconds: 1800 }));
      assert.match(out.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/);
      assert.equal(out.SecretAccessKey?.length, 40);
      assert.ok((out.SessionToken?.length ?? 0) > 100);
      assert.ok(out.Expiration instanceof Date, 'Expiration parsed as a Date from epoch seconds');
      assert.ok(Math.abs(secondsFromNow(out.Expiration) - 1800) < 5);
      assert.deepEqual(out.VendedS3Path, ['s3://emulator-123456789012-us-east-1/sales/orders/']);
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.ok(out.$metadata.requestId, 'x-amzn-requestid is read as the request id');
    });

    it('GetTemporaryGluePartitionCredentials returns credentials and no path', async () => {
      const out = await emulator.lakeFormation().send(partitionCommand());
      assert.match(out.AccessKeyId ?? '', /^ASIA/);
      assert.ok(Math.abs(secondsFromNow(out.Expiration) - 3600) < 5, 'default lifetime is 3600 s');
      assert.equal((out as unknown as Record<string, unknown>).VendedS3Path, undefined);
    });

    it('GetCredentials returns a database user, password, expiration and next refresh time', async () => {
      const out = await emulator.redshift().send(redshiftCommand({ durationSeconds: 3600 }));
      assert.equal(out.dbUser, 'IAMR:credcache-emulator');
      assert.ok((out.dbPassword?.length ?? 0) >= 40);
      assert.ok(Math.abs(secondsFromNow(out.expiration) - 3600) < 5);
      assert.ok(Math.abs(secondsFromNow(out.nextRefreshTime) - 2700) < 5, 'default fraction 0.75');
    });

    it('GetCredentials by customDomainName, with the 900 s default duration', async () => {
      const out = await emulator
        .redshift()
        .send(new GetCredentialsCommand({ customDomainName: 'warehouse.example.com' }));
      assert.ok(Math.abs(secondsFromNow(out.expiration) - 900) < 5);
    });

    it('issues a new credential on every call and keeps the vended path stable per table', async () => {
      const client = emulator.lakeFormation();
      const [a, b] = await Promise.all([client.send(tableCommand()), client.send(tableCommand())]);
      assert.notEqual(a.AccessKeyId, b.AccessKeyId);
      assert.notEqual(a.SecretAccessKey, b.SecretAccessKey);
      assert.deepEqual(a.VendedS3Path, b.VendedS3Path);
      const other = await client.send(
        tableCommand({ TableArn: 'arn:aws:glue:eu-west-1:210987654321:table/hr/people' }),
      );
      assert.deepEqual(other.VendedS3Path, ['s3://emulator-210987654321-eu-west-1/hr/people/']);
    });

    it('remembers each credential with its scope, audit context, caller and expiry', async () => {
      const out = await emulator.lakeFormation().send(
        tableCommand({
          Permissions: ['SELECT', 'DESCRIBE'],
          DurationSeconds: 900,
          AuditContext: { AdditionalAuditContext: 'credcache' },
        }),
      );
      const { status, body } = await emulator.control(`credentials/${out.AccessKeyId}`);
      assert.equal(status, 200);
      assert.deepEqual(body, {
        id: out.AccessKeyId,
        operation: 'GetTemporaryGlueTableCredentials',
        scope: {
          TableArn: TABLE_ARN,
          Permissions: ['SELECT', 'DESCRIBE'],
          SupportedPermissionTypes: ['COLUMN_PERMISSION'],
          DurationSeconds: 900,
        },
        auditContext: 'credcache',
        callerAccessKeyId: 'AKIDEXAMPLE',
        issuedAt: (body as { issuedAt: string }).issuedAt,
        expiration: out.Expiration?.toISOString(),
        nextRefreshTime: null,
        signedCalls: 0,
      });

      const partition = await emulator.lakeFormation().send(partitionCommand(['2026', '1,1']));
      const stored = await emulator.control(`credentials/${partition.AccessKeyId}`);
      assert.deepEqual((stored.body as { scope: unknown }).scope, {
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
        DurationSeconds: null,
        Partition: { Values: ['2026', '1,1'] },
      });

      const redshift = await emulator.redshift().send(redshiftCommand());
      const rs = await emulator.control(`credentials/${redshift.dbPassword}`);
      assert.deepEqual((rs.body as { scope: unknown }).scope, {
        workgroupName: 'analytics',
        dbName: 'dev',
        durationSeconds: null,
      });
      assert.equal(
        (rs.body as { nextRefreshTime: string }).nextRefreshTime,
        redshift.nextRefreshTime?.toISOString(),
      );

      assert.equal((await emulator.control('credentials/ASIANEVERISSUED0000')).status, 404);
    });

    it('counts calls by operation', async () => {
      const lf = emulator.lakeFormation();
      await Promise.all([
        lf.send(tableCommand()),
        lf.send(tableCommand()),
        lf.send(partitionCommand()),
      ]);
      await emulator.redshift().send(redshiftCommand());
      assert.deepEqual((await emulator.control('calls')).body, {
        total: 4,
        byOperation: {
          GetTemporaryGlueTableCredentials: 2,
          GetTemporaryGluePartitionCredentials: 1,
          GetTemporaryDataLocationCredentials: 0,
          GetCredentials: 1,
        },
      });
    });
  });

  describe('behaviour settings', () => {
    it('credentialLifetimeSeconds overrides the requested duration', async () => {
      await emulator.control('config', { credentialLifetimeSeconds: 2.5 });
      const lf = await emulator.lakeFormation().send(tableCommand({ DurationSeconds: 3600 }));
      const rs = await emulator.redshift().send(redshiftCommand({ durationSeconds: 900 }));
      assert.ok(Math.abs(secondsFromNow(lf.Expiration) - 2.5) < 1);
      assert.ok(Math.abs(secondsFromNow(rs.expiration) - 2.5) < 1);
    });

    it('nextRefreshFraction sets nextRefreshTime, and null omits it', async () => {
      await emulator.control('config', { nextRefreshFraction: 0.5 });
      const half = await emulator.redshift().send(redshiftCommand({ durationSeconds: 1000 }));
      assert.ok(Math.abs(secondsFromNow(half.nextRefreshTime) - 500) < 5);
      await emulator.control('config', { nextRefreshFraction: null });
      const none = await emulator.redshift().send(redshiftCommand());
      assert.equal(none.nextRefreshTime, undefined);
    });

    it('deny answers AccessDeniedException and missing the not-found error, with wildcards', async () => {
      await emulator.control('config', {
        deny: ['arn:aws:glue:us-east-1:123456789012:table/sales/*', 'analytics'],
        missing: ['arn:aws:glue:us-east-1:123456789012:table/gone/*', 'old-*'],
      });
      const lf = emulator.lakeFormation();
      const rs = emulator.redshift();
      assert.ok((await rejection(lf.send(tableCommand()))) instanceof LfAccessDenied);
      assert.ok((await rejection(lf.send(partitionCommand()))) instanceof LfAccessDenied);
      assert.ok((await rejection(rs.send(redshiftCommand()))) instanceof RsAccessDenied);
      const gone = 'arn:aws:glue:us-east-1:123456789012:table/gone/t';
      assert.ok(
        (await rejection(lf.send(tableCommand({ TableArn: gone })))) instanceof
          EntityNotFoundException,
      );
      const missing = await rejection(rs.send(redshiftCommand({ workgroupName: 'old-wg' })));
      assert.ok(missing instanceof ResourceNotFoundException);
      assert.equal(missing.$metadata?.httpStatusCode, 404);
      // Anything not listed still works.
      await lf.send(
        tableCommand({ TableArn: 'arn:aws:glue:us-east-1:123456789012:table/hr/people' }),
      );
    });

    it('reset restores defaults, clears faults, counts and remembered credentials', async () => {
      const out = await emulator.lakeFormation().send(tableCommand());
      await emulator.control('config', { deny: ['*'], credentialLifetimeSeconds: 5 });
      await emulator.control('faults', { operation: '*', mode: 'error' });
      await emulator.control('reset', {});
      assert.deepEqual((await emulator.control('calls')).body, {
        total: 0,
        byOperation: {
          GetTemporaryGlueTableCredentials: 0,
          GetTemporaryGluePartitionCredentials: 0,
          GetTemporaryDataLocationCredentials: 0,
          GetCredentials: 0,
        },
      });
      assert.equal((await emulator.control(`credentials/${out.AccessKeyId}`)).status, 404);
      assert.deepEqual((await emulator.control('faults')).body, { faults: [] });
      const again = await emulator.lakeFormation().send(tableCommand());
      assert.ok(Math.abs(secondsFromNow(again.Expiration) - 3600) < 5);
    });
  });

  describe('injected errors surface as the modelled exception classes', () => {
    const lakeFormationErrors = [
      ['AccessDeniedException', LfAccessDenied, 403],
      ['EntityNotFoundException', EntityNotFoundException, 400],
      ['InvalidInputException', InvalidInputException, 400],
      ['PermissionTypeMismatchException', PermissionTypeMismatchException, 400],
      ['OperationTimeoutException', OperationTimeoutException, 400],
      ['InternalServiceException', InternalServiceException, 500],
      ['ThrottledException', ThrottledException, 429],
    ] as const;
    for (const [name, ErrorClass, status] of lakeFormationErrors) {
      it(`Lake Formation ${name} (${status})`, async () => {
        await emulator.control('faults', {
          operation: 'GetTemporaryGlueTableCredentials',
          mode: 'error',
          errorType: name,
          message: `injected ${name}`,
        });
        const error = await rejection(emulator.lakeFormation().send(tableCommand()));
        assert.ok(error instanceof ErrorClass, `${error.name} is a ${ErrorClass.name}`);
        assert.equal(error.name, name);
        assert.equal(error.message, `injected ${name}`);
        assert.equal(error.$metadata?.httpStatusCode, status);
      });
    }

    const redshiftErrors = [
      ['AccessDeniedException', RsAccessDenied, 403],
      ['ResourceNotFoundException', ResourceNotFoundException, 404],
      ['ValidationException', ValidationException, 400],
      ['InternalServerException', InternalServerException, 500],
      ['ThrottlingException', ThrottlingException, 429],
    ] as const;
    for (const [name, ErrorClass, status] of redshiftErrors) {
      it(`Redshift Serverless ${name} (${status})`, async () => {
        await emulator.control('faults', {
          operation: 'GetCredentials',
          mode: 'error',
          errorType: name,
        });
        const error = await rejection(emulator.redshift().send(redshiftCommand()));
        assert.ok(error instanceof ErrorClass, `${error.name} is a ${ErrorClass.name}`);
        assert.equal(error.$metadata?.httpStatusCode, status);
      });
    }

    it('an error fault without errorType is the service internal error', async () => {
      await emulator.control('faults', { operation: '*', mode: 'error' });
      assert.ok(
        (await rejection(emulator.lakeFormation().send(tableCommand()))) instanceof
          InternalServiceException,
      );
      assert.ok(
        (await rejection(emulator.redshift().send(redshiftCommand()))) instanceof
          InternalServerException,
      );
    });

    it('an error name the service does not model arrives as the service exception with that name', async () => {
      await emulator.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'ThrottlingException',
      });
      const error = await rejection(emulator.lakeFormation().send(tableCommand()));
      assert.ok(error instanceof LakeFormationServiceException);
      assert.equal(error.name, 'ThrottlingException');
    });

    it('a fault applies to its operation only, and its own fault wins over *', async () => {
      await emulator.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'AccessDeniedException',
      });
      await emulator.control('faults', {
        operation: 'GetCredentials',
        mode: 'error',
        errorType: 'ValidationException',
      });
      await emulator.control('faults', {
        operation: 'GetTemporaryGluePartitionCredentials',
        mode: 'ok',
      });
      assert.ok(
        (await rejection(emulator.redshift().send(redshiftCommand()))) instanceof
          ValidationException,
      );
      assert.ok(
        (await rejection(emulator.lakeFormation().send(tableCommand()))) instanceof LfAccessDenied,
      );
      await emulator.control('faults', { operation: 'GetCredentials', mode: 'ok' });
      assert.ok(
        (await rejection(emulator.redshift().send(redshiftCommand()))) instanceof RsAccessDenied,
      );
      await emulator.control('faults', { operation: '*', mode: 'ok' });
      await emulator.redshift().send(redshiftCommand());
    });

    it('count limits a fault to the next N calls', async () => {
      await emulator.control('faults', {
        operation: 'GetTemporaryGlueTableCredentials',
        mode: 'error',
        count: 2,
      });
      const lf = emulator.lakeFormation();
      await rejection(lf.send(tableCommand()));
      assert.deepEqual((await emulator.control('faults')).body, {
        faults: [{ operation: 'GetTemporaryGlueTableCredentials', mode: 'error', remaining: 1 }],
      });
      await rejection(lf.send(tableCommand()));
      await lf.send(tableCommand());
      assert.deepEqual((await emulator.control('faults')).body, { faults: [] });
    });
  });

  describe('throttling, latency and hangs', () => {
    it('throttle answers 400 ThrottlingException "Rate exceeded", which the SDK retries', async () => {
      await emulator.control('faults', { operation: '*', mode: 'throttle', count: 2 });
      const out = await emulator.lakeFormation({ maxAttempts: 3 }).send(tableCommand());
      assert.equal(out.$metadata.attempts, 3);
      assert.equal(((await emulator.control('calls')).body as { total: number }).total, 3);
    });

    it('persistent throttling ends with ThrottlingException after the SDK gives up', async () => {
      await emulator.control('faults', { operation: 'GetCredentials', mode: 'throttle' });
      const error = await rejection(emulator.redshift({ maxAttempts: 2 }).send(redshiftCommand()));
      assert.ok(error instanceof ThrottlingException);
      assert.equal(error.message, 'Rate exceeded');
      assert.equal(error.$metadata?.httpStatusCode, 400);
      assert.equal(error.$metadata?.attempts, 2);
    });

    it('throttle with errorType answers that name instead', async () => {
      await emulator.control('faults', {
        operation: '*',
        mode: 'throttle',
        errorType: 'ThrottledException',
      });
      const error = await rejection(emulator.lakeFormation().send(tableCommand()));
      assert.ok(error instanceof ThrottledException);
      assert.equal(error.$metadata?.httpStatusCode, 400);
    });

    it('latency delays the answer and then succeeds', async () => {
      await emulator.control('faults', { operation: '*', mode: 'latency', latencyMs: 150 });
      const started = performance.now();
      await emulator.lakeFormation().send(tableCommand());
      assert.ok(performance.now() - started >= 140);
    });

    it('hang holds the request until the client times out', async () => {
      await emulator.control('faults', { operation: '*', mode: 'hang' });
      const error = await rejection(
        emulator.lakeFormation({ requestTimeoutMs: 200 }).send(tableCommand()),
      );
      assert.equal(error.name, 'TimeoutError');
      // The emulator keeps serving other requests meanwhile.
      await emulator.control('faults', { operation: '*', mode: 'ok' });
      await emulator.lakeFormation().send(tableCommand());
    });
  });

  describe('input validation with the service error names', () => {
    const invalidTables: [
      string,
      Partial<ConstructorParameters<typeof GetTemporaryGlueTableCredentialsCommand>[0]>,
      RegExp,
    ][] = [
      ['a malformed TableArn', { TableArn: 'arn:aws:s3:::bucket' }, /TableArn/],
      [
        'a database ARN',
        { TableArn: 'arn:aws:glue:us-east-1:123456789012:database/sales' },
        /TableArn/,
      ],
      ['an unknown permission', { Permissions: ['READ' as 'SELECT'] }, /permissions/],
      [
        'an unknown permission type',
        { SupportedPermissionTypes: ['ROW' as 'COLUMN_PERMISSION'] },
        /supportedPermissionTypes/,
      ],
      ['DurationSeconds below 900', { DurationSeconds: 899 }, /durationSeconds.*900 and 21600/],
      ['DurationSeconds above 21600', { DurationSeconds: 21601 }, /durationSeconds/],
    ];
    for (const [what, input, message] of invalidTables) {
      it(`Lake Formation rejects ${what} with InvalidInputException`, async () => {
        const error = await rejection(emulator.lakeFormation().send(tableCommand(input)));
        assert.ok(error instanceof InvalidInputException, error.name);
        assert.match(error.message, message);
      });
    }

    it('Lake Formation requires Partition.Values on the partition call', async () => {
      const error = await rejection(
        emulator.lakeFormation().send(
          new GetTemporaryGluePartitionCredentialsCommand({
            TableArn: TABLE_ARN,
            Partition: { Values: [] },
          }),
        ),
      );
      assert.ok(error instanceof InvalidInputException);
      assert.match(error.message, /partition\.values/);
    });

    const invalidRedshift: [string, GetCredentialsCommandInput, RegExp][] = [
      [
        'neither workgroupName nor customDomainName',
        { dbName: 'dev' },
        /workgroupName or customDomainName/,
      ],
      [
        'both workgroupName and customDomainName',
        { workgroupName: 'analytics', customDomainName: 'a.example.com' },
        /only one/,
      ],
      ['an upper-case workgroupName', { workgroupName: 'Analytics' }, /workgroupName/],
      ['a two-character workgroupName', { workgroupName: 'ab' }, /workgroupName/],
      ['a malformed customDomainName', { customDomainName: '-bad-.example' }, /customDomainName/],
      ['a dbName starting with a digit', { workgroupName: 'analytics', dbName: '1dev' }, /dbName/],
      ['a dbName with a slash', { workgroupName: 'analytics', dbName: 'dev/x' }, /dbName/],
      [
        'a dbName of 65 characters',
        { workgroupName: 'analytics', dbName: `d${'x'.repeat(64)}` },
        /dbName/,
      ],
      ['a reserved dbName', { workgroupName: 'analytics', dbName: 'select' }, /reserved/],
      [
        'durationSeconds above 3600',
        { workgroupName: 'analytics', durationSeconds: 3601 },
        /durationSeconds.*900 and 3600/,
      ],
    ];
    for (const [what, input, message] of invalidRedshift) {
      it(`Redshift Serverless rejects ${what} with ValidationException`, async () => {
        const error = await rejection(emulator.redshift().send(new GetCredentialsCommand(input)));
        assert.ok(error instanceof ValidationException, error.name);
        assert.match(error.message, message);
      });
    }
  });
});
