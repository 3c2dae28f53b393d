/**
 * A target as AWS container credentials, read by the JS SDK itself: `fromHttp` and the default
 * provider chain (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + token or token file), then a call signed
 * with those credentials, which the emulator recognises as the one it issued for the target.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetTemporaryGlueTableCredentialsCommand,
  LakeFormationClient,
} from '@aws-sdk/client-lakeformation';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity } from '@smithy/types';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

/** Runs `body` with `env` set on `process.env` (and nothing else of the AWS_* kind), then restores it. */
async function withEnv<T>(env: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') {
      Reflect.deleteProperty(process.env, name);
    }
  }
  Object.assign(process.env, env, {
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  });
  try {
    return await body();
  } finally {
    for (const name of Object.keys(process.env)) Reflect.deleteProperty(process.env, name);
    Object.assign(process.env, saved);
  }
}

describe('a target as container credentials for the AWS SDK for JavaScript', function () {
  this.timeout(15_000);
  const daemon = useDaemon();

  async function signedCallWith(credentials: AwsCredentialIdentity): Promise<void> {
    const client = new LakeFormationClient({
      region: 'us-east-1',
      endpoint: daemon.current.emulatorUrl,
      credentials,
      maxAttempts: 1,
    });
    try {
      await client.send(new GetTemporaryGlueTableCredentialsCommand({ TableArn: TABLE_ARN }));
    } finally {
      client.destroy();
    }
  }

  async function issuedFor(accessKeyId: string) {
    const { status, body } = await daemon.control(`credentials/${accessKeyId}`);
    assert.equal(status, 200, 'the emulator issued this credential');
    return body as { operation: string; scope: Record<string, unknown>; signedCalls: number };
  }

  it('fromHttp reads the target with the raw token', async () => {
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${daemon.url}/v1/targets/orders`,
      awsContainerAuthorizationToken: TOKEN,
    });
    const credentials = await provider();
    assert.match(credentials.accessKeyId, /^ASIA/);
    assert.ok(credentials.sessionToken);
    assert.ok(credentials.expiration instanceof Date);
    assert.ok(credentials.expiration.getTime() > Date.now() + 3_000_000);
    const issued = await issuedFor(credentials.accessKeyId);
    assert.equal(issued.operation, 'GetTemporaryGlueTableCredentials');
    assert.equal(issued.scope.TableArn, TABLE_ARN);
    await signedCallWith(credentials);
    assert.equal((await issuedFor(credentials.accessKeyId)).signedCalls, 1);
  });

  it('the default chain reads it from AWS_CONTAINER_CREDENTIALS_FULL_URI and a token file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credcache-sdk-'));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, TOKEN);
    const credentials = await withEnv(
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${daemon.url}/v1/targets/orders-2026`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
      },
      () => defaultProvider()(),
    );
    const issued = await issuedFor(credentials.accessKeyId);
    assert.equal(issued.operation, 'GetTemporaryGluePartitionCredentials');
    await signedCallWith(credentials);
    assert.equal((await issuedFor(credentials.accessKeyId)).signedCalls, 1);
  });

  it('fromHttp gets a clear failure with a wrong token', async () => {
    await withEnv(
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${daemon.url}/v1/targets/orders`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'wrong-token',
      },
      () => assert.rejects(fromHttp({ maxRetries: 0 })(), /401|Unauthorized|credentials/i),
    );
  });
});
