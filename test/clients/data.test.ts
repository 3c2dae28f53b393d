/**
 * Client suite, proven on data: credentials credcache serves read table data through the
 * emulator's S3 data plane, taken in by each client unchanged — the JS SDK's S3 client with a
 * per-table `fromHttp` URL and through an `aws-config` profile, the AWS CLI v2 (`aws s3 cp`)
 * through a target's container-credentials URL and through a `credential_process` profile run
 * from another directory, and botocore's S3 client through the container provider. Each reads
 * inside its table and is refused outside it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { BIN, type DaemonProcess, ENV, serveProcess, stopProcess } from '../support/process.js';
import {
  AWS_CLI,
  PYTHON,
  cleanEnv,
  freePort,
  requireAwsCliV2,
  requirePythonBotocore,
  runProcess,
} from './helpers.js';

const run = promisify(execFile);
const ACCOUNT = '123456789012';
const ORDERS = `arn:aws:glue:us-east-1:${ACCOUNT}:table/sales/orders`;
const RETURNS = `arn:aws:glue:us-east-1:${ACCOUNT}:table/sales/returns`;
const BODY = 'id,total\n1,42\n';

/** `s3://bucket/key` as bucket and key. */
function split(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  assert.ok(match?.[1] && match[2], `not an object URI: ${uri}`);
  return { bucket: match[1], key: match[2] };
}

describe('table data read with credentials credcache serves (real clients)', function () {
  this.timeout(120_000);
  let daemon: DaemonProcess;
  let dir: string;
  let configFile: string;
  let token: string;
  let emulatorUrl: string;
  /** An object inside `orders` and one inside `returns` (which `orders` must not read). */
  let inside: string;
  let outside: string;

  before(async () => {
    await requireAwsCliV2();
    await requirePythonBotocore();
    dir = join(await mkdtemp(join(tmpdir(), 'credcache-data-')), 'a dir');
    await mkdir(dir);
    configFile = join(dir, 'credcache.yaml');
    await writeFile(
      configFile,
      `listen: 127.0.0.1:${await freePort()}
auth:
  tokenFile: run/token
targets:
  - { name: orders, source: lakeformation_table, tableArn: "${ORDERS}", permissions: [SELECT] }
`,
    );
    daemon = await serveProcess(['--config', configFile, '--emulator']);
    emulatorUrl = daemon.emulatorUrl ?? assert.fail('no emulator URL in the start-up line');
    token = await readFile(join(dir, 'run', 'token'), 'utf8');
    const vended = async (arn: string) => {
      const answer = await fetch(
        `${daemon.url}/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(arn)}&permissions=SELECT`,
        { headers: { authorization: token } },
      );
      assert.equal(answer.status, 200);
      const [path] = ((await answer.json()) as { VendedS3Path: string[] }).VendedS3Path;
      assert.ok(path);
      return path.endsWith('/') ? path : `${path}/`;
    };
    inside = `${await vended(ORDERS)}2026/11/part-0.csv`;
    outside = `${await vended(RETURNS)}2026/11/part-0.csv`;
    for (const uri of [inside, outside]) {
      const seeded = await fetch(`${emulatorUrl}/_emulator/s3/${uri.slice('s3://'.length)}`, {
        method: 'PUT',
        body: BODY,
      });
      assert.equal(seeded.status, 200);
    }
  });
  after(async () => {
    if (daemon) await stopProcess(daemon);
  });

  /** Reads `uri` with the JS SDK's S3 client; the error's name when refused. */
  const readWith = async (credentials: AwsCredentialIdentityProvider, uri: string) => {
    const s3 = new S3Client({
      endpoint: emulatorUrl,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: split(uri).bucket, Key: split(uri).key }),
      );
      return (await object.Body?.transformToString()) ?? '';
    } catch (error) {
      return `refused: ${(error as Error).name}`;
    } finally {
      s3.destroy();
    }
  };

  it('@aws-sdk/client-s3 with a per-table fromHttp URL (the query route, format=container)', async () => {
    const credentials = fromHttp({
      awsContainerCredentialsFullUri: `${daemon.url}/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(ORDERS)}&permissions=SELECT&format=container`,
      awsContainerAuthorizationToken: token,
    });
    assert.equal(await readWith(credentials, inside), BODY);
    assert.equal(await readWith(credentials, outside), 'refused: AccessDenied');
  });

  /** `credcache aws-config` written where the clients read it. */
  const awsConfig = async () => {
    const { stdout } = await run(process.execPath, [BIN, 'aws-config', '--config', configFile], {
      env: ENV,
    });
    const file = join(dir, 'aws config');
    await writeFile(file, stdout);
    return file;
  };

  it('@aws-sdk/client-s3 through an aws-config profile (credential_process)', async () => {
    const credentials = defaultProvider({
      profile: 'orders',
      configFilepath: await awsConfig(),
      filepath: '/dev/null',
    });
    assert.equal(await readWith(credentials, inside), BODY);
    assert.equal(await readWith(credentials, outside), 'refused: AccessDenied');
  });

  const cp = (uri: string, env: Record<string, string>, cwd?: string) =>
    runProcess(
      AWS_CLI,
      ['--endpoint-url', emulatorUrl, 's3', 'cp', uri, '-'],
      cleanEnv({ AWS_DEFAULT_REGION: 'us-east-1', ...env }),
      60_000,
      cwd === undefined ? {} : { cwd },
    );

  it('aws s3 cp through the target’s container-credentials URL', async () => {
    // The Debian CLI (2.9) reads the token variable only, not AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
    const env = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${daemon.url}/v1/targets/orders`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
    };
    const read = await cp(inside, env);
    assert.equal(read.exitCode, 0, read.stderr);
    assert.equal(read.stdout, BODY);
    const refused = await cp(outside, env);
    assert.notEqual(refused.exitCode, 0);
    // `aws s3 cp` asks HeadObject first: a 403 without a body, which the CLI shows as Forbidden.
    assert.match(refused.stderr, /\(403\) when calling the HeadObject operation: Forbidden/);
  });

  it('aws s3 cp through a credential_process profile, run from another directory', async () => {
    const env = { AWS_CONFIG_FILE: await awsConfig(), AWS_PROFILE: 'orders' };
    const elsewhere = await mkdtemp(join(tmpdir(), 'credcache-elsewhere-'));
    const read = await cp(inside, env, elsewhere);
    assert.equal(read.exitCode, 0, read.stderr);
    assert.equal(read.stdout, BODY);
    const refused = await cp(outside, env, elsewhere);
    assert.notEqual(refused.exitCode, 0);
    // `aws s3 cp` asks HeadObject first: a 403 without a body, which the CLI shows as Forbidden.
    assert.match(refused.stderr, /\(403\) when calling the HeadObject operation: Forbidden/);
  });

  it("botocore's S3 client through the container provider (the query route, format=container)", async () => {
    const script = [
      'import sys, botocore.session, botocore.config, botocore.exceptions',
      's3 = botocore.session.get_session().create_client("s3", endpoint_url=sys.argv[1],',
      '  config=botocore.config.Config(s3={"addressing_style": "path"}))',
      'for bucket, key in ((sys.argv[2], sys.argv[3]), (sys.argv[4], sys.argv[5])):',
      '  try:',
      '    print(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(), end="|")',
      '  except botocore.exceptions.ClientError as error:',
      '    print("refused: " + error.response["Error"]["Code"], end="|")',
    ].join('\n');
    const result = await runProcess(
      PYTHON,
      [
        '-c',
        script,
        emulatorUrl,
        split(inside).bucket,
        split(inside).key,
        split(outside).bucket,
        split(outside).key,
      ],
      cleanEnv({
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${daemon.url}/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(ORDERS)}&permissions=SELECT&format=container`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
      }),
      60_000,
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, `${BODY}|refused: AccessDenied|`);
  });
});
