/**
 * The emulator's location call and S3 data plane as the real AWS SDK v3 clients see them: a
 * credential fetched through the Lake Formation client reads, lists and (when READWRITE)
 * writes objects through the S3 client, and is refused everything outside its reach.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  AccessDeniedException,
  EntityNotFoundException,
  GetTemporaryDataLocationCredentialsCommand,
  type GetTemporaryDataLocationCredentialsCommandInput,
  GetTemporaryGluePartitionCredentialsCommand,
  GetTemporaryGlueTableCredentialsCommand,
  InvalidInputException,
} from '@aws-sdk/client-lakeformation';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ManualClock } from '../../src/clock.js';
import { MAX_OBJECT_BYTES } from '../../src/emulator/objects.js';
import { TABLE_ARN, useEmulator } from '../support/emulator.js';

const BUCKET = 'emulator-123456789012-us-east-1';
const TABLE_LOCATION = `s3://${BUCKET}/sales/orders/`;

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

async function rejection(promise: Promise<unknown>): Promise<S3ServiceException | Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

async function assertS3Error(promise: Promise<unknown>, code: string, status: number) {
  const error = await rejection(promise);
  assert.ok(error instanceof S3ServiceException, `expected an S3 error, got ${String(error)}`);
  assert.equal(error.name, code, error.message);
  assert.equal(error.$metadata.httpStatusCode, status);
  return error;
}

describe('emulator: the location call and the S3 data plane through the SDK clients', () => {
  const clock = new ManualClock(Date.now());
  const emulator = useEmulator({ clock });
  const clients: S3Client[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy();
  });

  const s3 = (credentials: Keys) => {
    const client = new S3Client({
      endpoint: emulator.current.url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials,
    });
    clients.push(client);
    return client;
  };

  const seed = async (key: string, body: string) => {
    const response = await fetch(
      `${emulator.current.url}/_emulator/s3/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`,
      { method: 'PUT', body },
    );
    assert.equal(response.status, 200, await response.clone().text());
  };

  const tableCredential = async () => {
    const out = await emulator.lakeFormation().send(
      new GetTemporaryGlueTableCredentialsCommand({
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
      }),
    );
    assert.deepEqual(out.VendedS3Path, [TABLE_LOCATION]);
    return {
      accessKeyId: out.AccessKeyId ?? '',
      secretAccessKey: out.SecretAccessKey ?? '',
      sessionToken: out.SessionToken ?? '',
    };
  };

  const locationCredential = async (input: GetTemporaryDataLocationCredentialsCommandInput) => {
    const out = await emulator
      .lakeFormation()
      .send(new GetTemporaryDataLocationCredentialsCommand(input));
    const c = out.Credentials;
    return {
      out,
      keys: {
        accessKeyId: c?.AccessKeyId ?? '',
        secretAccessKey: c?.SecretAccessKey ?? '',
        sessionToken: c?.SessionToken ?? '',
      },
    };
  };

  const read = async (client: S3Client, key: string) => {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return out.Body?.transformToString();
  };

  describe('GetTemporaryDataLocationCredentials', () => {
    it('issues a credential for locations under a table, with its scope and duration', async () => {
      const location = `${TABLE_LOCATION}2026/`;
      const { out } = await locationCredential({
        DataLocations: [location, location],
        CredentialsScope: 'READWRITE',
        DurationSeconds: 43_200,
      });
      assert.deepEqual(out.AccessibleDataLocations, [location]);
      assert.equal(out.CredentialsScope, 'READWRITE');
      assert.match(out.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/);
      const expiresIn = ((out.Credentials?.Expiration?.getTime() ?? 0) - clock.now()) / 1000;
      assert.ok(Math.abs(expiresIn - 43_200) < 2, String(expiresIn));
      const described = await emulator.control(`credentials/${out.Credentials?.AccessKeyId}`);
      assert.deepEqual((described.body as { scope: unknown }).scope, {
        DataLocations: [location],
        CredentialsScope: 'READWRITE',
        DurationSeconds: 43_200,
      });
      const calls = (await emulator.control('calls')).body as {
        byOperation: Record<string, number>;
      };
      assert.equal(calls.byOperation.GetTemporaryDataLocationCredentials, 1);
    });

    it('defaults to READ and refuses locations under no table with AccessDeniedException', async () => {
      const { out } = await locationCredential({ DataLocations: [TABLE_LOCATION] });
      assert.equal(out.CredentialsScope, 'READ');
      for (const location of [
        's3://some-other-bucket/sales/orders/',
        `s3://${BUCKET}/sales`,
        `s3://${BUCKET}/`,
      ]) {
        const error = await rejection(locationCredential({ DataLocations: [location] }));
        assert.ok(error instanceof AccessDeniedException, `${location}: ${String(error)}`);
      }
    });

    it('validates input with InvalidInputException', async () => {
      for (const input of [
        {},
        { DataLocations: [] },
        { DataLocations: ['https://example.com/x'] },
        { DataLocations: [TABLE_LOCATION], DurationSeconds: 899 },
        { DataLocations: [TABLE_LOCATION], DurationSeconds: 43_201 },
        { DataLocations: [TABLE_LOCATION], CredentialsScope: 'WRITE' as never },
      ]) {
        const error = await rejection(locationCredential(input));
        assert.ok(
          error instanceof InvalidInputException,
          `${JSON.stringify(input)}: ${String(error)}`,
        );
      }
    });

    it('applies deny and missing to the location and to its table, and faults by name', async () => {
      await emulator.control('config', { deny: ['arn:aws:glue:*:table/sales/*'] });
      assert.ok(
        (await rejection(locationCredential({ DataLocations: [TABLE_LOCATION] }))) instanceof
          AccessDeniedException,
      );
      await emulator.control('config', { deny: [], missing: [`${TABLE_LOCATION}old/*`] });
      assert.ok(
        (await rejection(
          locationCredential({ DataLocations: [`${TABLE_LOCATION}old/x`] }),
        )) instanceof EntityNotFoundException,
      );
      const fault = await emulator.control('faults', {
        operation: 'GetTemporaryDataLocationCredentials',
        mode: 'throttle',
        count: 1,
      });
      assert.equal(fault.status, 200);
      const throttled = await rejection(locationCredential({ DataLocations: [TABLE_LOCATION] }));
      assert.equal(throttled.name, 'ThrottlingException');
      await locationCredential({ DataLocations: [TABLE_LOCATION] });
    });
  });

  describe('S3 with a table credential', () => {
    it('reads and lists objects under its VendedS3Path, and nothing else', async () => {
      await seed('sales/orders/2026/11/part-0.parquet', 'orders data');
      await seed('sales/orders/a b+c.csv', 'spaced');
      await seed('sales/orders_old/part-0.parquet', 'old');
      await seed('finance/ledger/part-0.parquet', 'ledger');
      const client = s3(await tableCredential());
      assert.equal(await read(client, 'sales/orders/2026/11/part-0.parquet'), 'orders data');
      assert.equal(await read(client, 'sales/orders/a b+c.csv'), 'spaced');
      const head = await client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/a b+c.csv' }),
      );
      assert.equal(head.ContentLength, 6);
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sales/orders/' }),
      );
      assert.equal(listed.KeyCount, 2);
      assert.equal(listed.IsTruncated, false);
      assert.deepEqual(
        listed.Contents?.map((o) => [o.Key, o.Size]),
        [
          ['sales/orders/2026/11/part-0.parquet', 11],
          ['sales/orders/a b+c.csv', 6],
        ],
      );
      const folders = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sales/orders/', Delimiter: '/' }),
      );
      assert.deepEqual(
        folders.CommonPrefixes?.map((p) => p.Prefix),
        ['sales/orders/2026/'],
      );
      await assertS3Error(read(client, 'finance/ledger/part-0.parquet'), 'AccessDenied', 403);
      await assertS3Error(read(client, 'sales/orders_old/part-0.parquet'), 'AccessDenied', 403);
      await assertS3Error(
        client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sales/' })),
        'AccessDenied',
        403,
      );
      await assertS3Error(read(client, 'sales/orders/missing'), 'NoSuchKey', 404);
      const described = await emulator.control(
        `credentials/${(await client.config.credentials()).accessKeyId}`,
      );
      assert.ok((described.body as { signedCalls: number }).signedCalls >= 6);
    });

    it('pages a listing with continuation tokens', async () => {
      for (const n of [1, 2, 3, 4, 5]) await seed(`sales/orders/p${n}`, String(n));
      const client = s3(await tableCredential());
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: BUCKET,
            Prefix: 'sales/orders/',
            MaxKeys: 2,
            ContinuationToken: token,
          }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
        token = page.NextContinuationToken;
        assert.equal(page.IsTruncated, token !== undefined);
      } while (token !== undefined);
      assert.deepEqual(
        keys,
        [1, 2, 3, 4, 5].map((n) => `sales/orders/p${n}`),
      );
    });

    it('refuses writes: table credentials are read-only', async () => {
      await seed('sales/orders/keep', 'kept');
      const client = s3(await tableCredential());
      await assertS3Error(
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/new', Body: 'x' })),
        'AccessDenied',
        403,
      );
      await assertS3Error(
        client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/keep' })),
        'AccessDenied',
        403,
      );
      assert.equal(await read(client, 'sales/orders/keep'), 'kept');
    });
  });

  it('a partition credential reaches its partition only', async () => {
    await seed('sales/orders/2026/11/part-0', 'november');
    await seed('sales/orders/2026/110/part-0', 'not a partition of 2026/11');
    await seed('sales/orders/2026/12/part-0', 'december');
    const out = await emulator.lakeFormation().send(
      new GetTemporaryGluePartitionCredentialsCommand({
        TableArn: TABLE_ARN,
        Partition: { Values: ['2026', '11'] },
        Permissions: ['SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
      }),
    );
    const client = s3({
      accessKeyId: out.AccessKeyId ?? '',
      secretAccessKey: out.SecretAccessKey ?? '',
      sessionToken: out.SessionToken ?? '',
    });
    assert.equal(await read(client, 'sales/orders/2026/11/part-0'), 'november');
    await assertS3Error(read(client, 'sales/orders/2026/110/part-0'), 'AccessDenied', 403);
    await assertS3Error(read(client, 'sales/orders/2026/12/part-0'), 'AccessDenied', 403);
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sales/orders/2026/11/' }),
    );
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      ['sales/orders/2026/11/part-0'],
    );
  });

  it('a location credential writes only with READWRITE, inside its locations', async () => {
    const location = `${TABLE_LOCATION}staging/`;
    const reader = s3((await locationCredential({ DataLocations: [location] })).keys);
    await assertS3Error(
      reader.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/staging/a', Body: 'x' }),
      ),
      'AccessDenied',
      403,
    );
    const writer = s3(
      (await locationCredential({ DataLocations: [location], CredentialsScope: 'READWRITE' })).keys,
    );
    await writer.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'sales/orders/staging/a',
        Body: 'from a string',
      }),
    );
    // A stream: the SDK sends it aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER), with a
    // CRC32 trailer, as its flexible checksums do by default.
    const sent: Record<string, string> = {};
    writer.middlewareStack.add(
      (next) => async (args) => {
        Object.assign(sent, (args.request as { headers: Record<string, string> }).headers);
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low' },
    );
    await writer.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'sales/orders/staging/b',
        Body: Readable.from([Buffer.from('from '), Buffer.from('a stream')]),
        ContentLength: 13,
      }),
    );
    assert.equal(sent['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(sent['x-amz-trailer'], 'x-amz-checksum-crc32');
    assert.equal(await read(reader, 'sales/orders/staging/a'), 'from a string');
    assert.equal(await read(reader, 'sales/orders/staging/b'), 'from a stream');
    await assertS3Error(
      writer.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/other', Body: 'x' })),
      'AccessDenied',
      403,
    );
    await writer.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'sales/orders/staging/a' }));
    await assertS3Error(read(reader, 'sales/orders/staging/a'), 'NoSuchKey', 404);
    const listed = (await emulator.control('s3')).body as { objects: { key: string }[] };
    assert.deepEqual(
      listed.objects.map((o) => o.key),
      ['sales/orders/staging/b'],
    );
  });

  describe('refusals', () => {
    it('an expired credential: ExpiredToken', async () => {
      await seed('sales/orders/x', 'x');
      await emulator.control('config', { credentialLifetimeSeconds: 30 });
      const client = s3(await tableCredential());
      assert.equal(await read(client, 'sales/orders/x'), 'x');
      clock.advance(31_000);
      await assertS3Error(read(client, 'sales/orders/x'), 'ExpiredToken', 400);
    });

    it('an unknown key: InvalidAccessKeyId; a wrong secret: SignatureDoesNotMatch', async () => {
      await seed('sales/orders/x', 'x');
      const keys = await tableCredential();
      await assertS3Error(
        read(s3({ ...keys, accessKeyId: 'ASIAUNKNOWNKEY000000' }), 'sales/orders/x'),
        'InvalidAccessKeyId',
        403,
      );
      await assertS3Error(
        read(s3({ ...keys, secretAccessKey: `${keys.secretAccessKey}x` }), 'sales/orders/x'),
        'SignatureDoesNotMatch',
        403,
      );
      await assertS3Error(
        read(s3({ ...keys, sessionToken: 'another token' }), 'sales/orders/x'),
        'InvalidToken',
        400,
      );
    });

    it('an unsigned request: AccessDenied, in S3 XML', async () => {
      await seed('sales/orders/x', 'x');
      const response = await fetch(`${emulator.current.url}/${BUCKET}/sales/orders/x`);
      assert.equal(response.status, 403);
      assert.match(response.headers.get('content-type') ?? '', /application\/xml/);
      const body = await response.text();
      assert.match(body, /<Error><Code>AccessDenied<\/Code><Message>[^<]+<\/Message>/);
      assert.match(body, /<RequestId>[^<]+<\/RequestId>/);
    });

    it('bounds memory: a body over the object limit is refused with EntityTooLarge', async () => {
      const writer = s3(
        (
          await locationCredential({
            DataLocations: [TABLE_LOCATION],
            CredentialsScope: 'READWRITE',
          })
        ).keys,
      );
      await assertS3Error(
        writer.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'sales/orders/big',
            Body: Buffer.alloc(MAX_OBJECT_BYTES + 1),
          }),
        ),
        'EntityTooLarge',
        400,
      );
      const listed = (await emulator.control('s3')).body as { count: number; totalBytes: number };
      assert.deepEqual([listed.count, listed.totalBytes], [0, 0]);
    });
  });

  it('POST /_emulator/reset clears the objects', async () => {
    await seed('sales/orders/x', 'x');
    assert.equal(((await emulator.control('s3')).body as { count: number }).count, 1);
    await emulator.control('reset', {});
    assert.equal(((await emulator.control('s3')).body as { count: number }).count, 0);
  });
});
