/**
 * Client suite: the emulator's S3 data plane read by the AWS CLI v2 (`aws s3 cp`, `aws s3 ls`)
 * and by Python botocore, each signing with a table credential the emulator issued.
 */
import assert from 'node:assert/strict';
import {
  LakeFormationClient,
  GetTemporaryGlueTableCredentialsCommand,
} from '@aws-sdk/client-lakeformation';
import { type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import {
  AWS_CLI,
  PLACEHOLDER_CREDENTIALS,
  PYTHON,
  cleanEnv,
  requireAwsCliV2,
  requirePythonBotocore,
  runProcess,
} from './helpers.js';

const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
const BUCKET = 'emulator-123456789012-us-east-1';
const KEY = 'sales/orders/2026/11/part 0.csv';
const BODY = 'id,total\n1,42\n';

describe('S3 data plane through the AWS CLI v2 and botocore', function () {
  let emulator: RunningEmulator;
  let lakeFormation: LakeFormationClient;

  before(async function () {
    await requireAwsCliV2();
    await requirePythonBotocore();
    emulator = await startEmulator();
    lakeFormation = new LakeFormationClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: PLACEHOLDER_CREDENTIALS,
    });
  });
  after(async function () {
    lakeFormation?.destroy();
    await emulator?.close();
  });
  beforeEach(async function () {
    emulator.state.reset();
    const seeded = await fetch(
      `${emulator.url}/_emulator/s3/${BUCKET}/${KEY.split('/').map(encodeURIComponent).join('/')}`,
      { method: 'PUT', body: BODY },
    );
    assert.equal(seeded.status, 200);
  });

  const tableCredential = async () => {
    const out = await lakeFormation.send(
      new GetTemporaryGlueTableCredentialsCommand({
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
      }),
    );
    return cleanEnv({
      AWS_ACCESS_KEY_ID: out.AccessKeyId ?? '',
      AWS_SECRET_ACCESS_KEY: out.SecretAccessKey ?? '',
      AWS_SESSION_TOKEN: out.SessionToken ?? '',
      AWS_DEFAULT_REGION: 'us-east-1',
    });
  };

  const cli = async (args: string[]) =>
    runProcess(AWS_CLI, ['--endpoint-url', emulator.url, ...args], await tableCredential(), 60_000);

  it('aws s3 cp s3://bucket/key - prints the object', async function () {
    const result = await cli(['s3', 'cp', `s3://${BUCKET}/${KEY}`, '-']);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, BODY);
  });

  it('aws s3 ls lists inside the table, and is refused outside it', async function () {
    const inside = await cli(['s3', 'ls', '--recursive', `s3://${BUCKET}/sales/orders/`]);
    assert.equal(inside.exitCode, 0, inside.stderr);
    assert.match(inside.stdout, /part 0\.csv/);
    const outside = await cli(['s3', 'ls', `s3://${BUCKET}/finance/`]);
    assert.notEqual(outside.exitCode, 0);
    assert.match(outside.stderr, /AccessDenied/);
  });

  it('aws s3 cp to the table is refused: a table credential is read-only', async function () {
    const result = await cli(['s3', 'cp', '/etc/hostname', `s3://${BUCKET}/sales/orders/new`]);
    assert.notEqual(result.exitCode, 0);
    assert.match(result.stderr, /AccessDenied/);
  });

  it('botocore get_object reads the object', async function () {
    const script = [
      'import os, sys, botocore.session',
      's3 = botocore.session.get_session().create_client("s3", endpoint_url=sys.argv[1],',
      '  config=botocore.config.Config(s3={"addressing_style": "path"}))',
      'body = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read()',
      'sys.stdout.write(body.decode())',
    ].join('\n');
    const result = await runProcess(
      PYTHON,
      ['-c', `import botocore.config\n${script}`, emulator.url, BUCKET, KEY],
      await tableCredential(),
      60_000,
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, BODY);
  });
});
