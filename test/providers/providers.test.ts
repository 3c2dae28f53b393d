/**
 * The providers against the emulator through the real SDK clients: requests carry what the
 * key says, answers become issued credentials, and every failure becomes the right
 * `UpstreamError`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { type UpstreamClients, createUpstreamClients } from '../../src/providers/clients.js';
import { UpstreamError } from '../../src/providers/errors.js';
import {
  createPartitionCredentialsProvider,
  createTableCredentialsProvider,
} from '../../src/providers/lakeformation.js';
import { createRedshiftCredentialsProvider } from '../../src/providers/redshift-serverless.js';
import { PLACEHOLDER_CREDENTIALS, TABLE_ARN, useEmulator } from '../support/emulator.js';

const table = {
  tableArn: TABLE_ARN,
  permissions: ['DESCRIBE', 'SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 1800,
};
const partition = { ...table, partitionValues: ['2026', '11'] };
const warehouse = { workgroupName: 'analytics', dbName: 'dev', durationSeconds: 900 };

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => assert.fail('expected the call to fail'),
    (rejected: unknown) => rejected,
  );
  assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
  return error;
}

describe('providers (against the emulator)', () => {
  const emulator = useEmulator();
  let clients: UpstreamClients;
  const connect = (options: { maxAttempts?: number; attemptTimeoutMs?: number } = {}) => {
    clients?.destroy();
    clients = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: emulator.current.url,
      redshiftServerlessEndpoint: emulator.current.url,
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: options.maxAttempts ?? 1,
      ...(options.attemptTimeoutMs !== undefined && { attemptTimeoutMs: options.attemptTimeoutMs }),
    });
    return {
      table: createTableCredentialsProvider(clients.lakeFormation, {
        auditContext: 'credcache-test',
      }),
      partition: createPartitionCredentialsProvider(clients.lakeFormation),
      redshift: createRedshiftCredentialsProvider(clients.redshiftServerless),
    };
  };
  afterEach(() => clients?.destroy());

  it('fetches table credentials with the key fields and the configured audit context', async () => {
    const { table: provider } = connect();
    assert.equal(provider.source, 'lakeformation_table');
    const issued = await provider.fetch(table);
    assert.match(issued.credentials.accessKeyId, /^ASIA/);
    assert.deepEqual(issued.credentials.vendedS3Path, [
      's3://emulator-123456789012-us-east-1/sales/orders/',
    ]);
    assert.ok(Math.abs(issued.expiration - (Date.now() + 1_800_000)) < 5_000);
    assert.equal(issued.nextRefreshTime, undefined);
    const record = (await emulator.control(`credentials/${issued.credentials.accessKeyId}`)).body;
    assert.deepEqual(record, {
      ...(record as object),
      scope: {
        TableArn: TABLE_ARN,
        Permissions: ['DESCRIBE', 'SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
        DurationSeconds: 1800,
      },
      auditContext: 'credcache-test',
    });
  });

  it('fetches partition credentials with the ordered values', async () => {
    const { partition: provider } = connect();
    const issued = await provider.fetch(partition);
    assert.equal(issued.credentials.vendedS3Path, undefined);
    const record = (await emulator.control(`credentials/${issued.credentials.accessKeyId}`))
      .body as {
      scope: { Partition: unknown };
      auditContext: unknown;
    };
    assert.deepEqual(record.scope.Partition, { Values: ['2026', '11'] });
    assert.equal(record.auditContext, null, 'no audit context configured for this provider');
  });

  it('fetches Redshift credentials with expiration and nextRefreshTime in epoch ms', async () => {
    await emulator.control('config', { nextRefreshFraction: 0.5 });
    const { redshift } = connect();
    const issued = await redshift.fetch(warehouse);
    assert.equal(issued.credentials.dbUser, 'IAMR:credcache-emulator');
    assert.ok(issued.credentials.dbPassword.length > 20);
    assert.ok(Math.abs(issued.expiration - (Date.now() + 900_000)) < 5_000);
    assert.ok(Math.abs((issued.nextRefreshTime ?? 0) - (Date.now() + 450_000)) < 5_000);
    const byDomain = await redshift.fetch({
      customDomainName: 'warehouse.example.com',
      durationSeconds: 900,
    });
    const record = (await emulator.control(`credentials/${byDomain.credentials.dbPassword}`))
      .body as {
      scope: unknown;
    };
    assert.deepEqual(record.scope, {
      customDomainName: 'warehouse.example.com',
      dbName: null,
      durationSeconds: 900,
    });
  });

  const cases = [
    [
      'AccessDeniedException',
      'AccessDenied',
      { retryable: false, evict: true, deterministic: true },
    ],
    ['EntityNotFoundException', 'NotFound', { retryable: false, evict: true, deterministic: true }],
    [
      'InvalidInputException',
      'InvalidInput',
      { retryable: false, evict: false, deterministic: true },
    ],
    [
      'PermissionTypeMismatchException',
      'PermissionTypeMismatch',
      { retryable: false, evict: false, deterministic: true },
    ],
    [
      'OperationTimeoutException',
      'Timeout',
      { retryable: true, evict: false, deterministic: false },
    ],
    [
      'InternalServiceException',
      'Unavailable',
      { retryable: true, evict: false, deterministic: false },
    ],
    ['ThrottledException', 'Throttled', { retryable: true, evict: false, deterministic: false }],
  ] as const;
  for (const [awsName, kind, flags] of cases) {
    it(`classifies Lake Formation ${awsName} as ${kind}`, async () => {
      await emulator.control('faults', { operation: '*', mode: 'error', errorType: awsName });
      const error = await failure(connect().table.fetch(table));
      assert.equal(error.kind, kind);
      assert.equal(error.awsName, awsName);
      assert.deepEqual(
        { retryable: error.retryable, evict: error.evict, deterministic: error.deterministic },
        flags,
      );
      assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/);
    });
  }

  for (const [awsName, kind] of [
    ['ResourceNotFoundException', 'NotFound'],
    ['ValidationException', 'InvalidInput'],
    ['InternalServerException', 'Unavailable'],
    ['ThrottlingException', 'Throttled'],
    ['AccessDeniedException', 'AccessDenied'],
  ] as const) {
    it(`classifies Redshift Serverless ${awsName} as ${kind}`, async () => {
      await emulator.control('faults', {
        operation: 'GetCredentials',
        mode: 'error',
        errorType: awsName,
      });
      const error = await failure(connect().redshift.fetch(warehouse));
      assert.equal(error.kind, kind);
      assert.equal(error.awsName, awsName);
    });
  }

  it('classifies the 400 "Rate exceeded" AWS sends in practice as Throttled, whatever the name', async () => {
    await emulator.control('faults', {
      operation: '*',
      mode: 'throttle',
      errorType: 'LakeFormationException',
    });
    const error = await failure(connect().partition.fetch(partition));
    assert.equal(error.kind, 'Throttled');
    assert.equal(error.httpStatus, 400);
  });

  it('lets the SDK retry throttling within maxAttempts before giving up', async () => {
    await emulator.control('faults', { operation: '*', mode: 'throttle', count: 1 });
    await connect({ maxAttempts: 2 }).table.fetch(table);
    assert.equal(((await emulator.control('calls')).body as { total: number }).total, 2);
  });

  it('turns a hung upstream into Timeout after the attempt timeout', async () => {
    await emulator.control('faults', { operation: '*', mode: 'hang' });
    const started = performance.now();
    const error = await failure(connect({ attemptTimeoutMs: 200 }).redshift.fetch(warehouse));
    assert.equal(error.kind, 'Timeout');
    assert.equal(error.awsName, 'Timeout');
    assert.ok(performance.now() - started < 5_000);
  });

  it('makes each client once, on its first use, and closes one made after destroy', async () => {
    const lazy = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: emulator.current.url,
      credentials: PLACEHOLDER_CREDENTIALS,
    });
    const [first, second] = await Promise.all([lazy.lakeFormation.get(), lazy.lakeFormation.get()]);
    assert.equal(first.client, second.client);
    assert.equal(typeof first.sdk.GetTemporaryGlueTableCredentialsCommand, 'function');
    lazy.destroy();
    // Made after destroy (a call that was already on its way): closed at once, still usable.
    const late = await lazy.redshiftServerless.get();
    assert.equal(typeof late.sdk.GetCredentialsCommand, 'function');
    lazy.destroy();
  });

  it('turns a refused connection into Unavailable / NetworkError', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const dead = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: `http://127.0.0.1:${closedPort}`,
      redshiftServerlessEndpoint: `http://127.0.0.1:${closedPort}`,
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const error = await failure(createTableCredentialsProvider(dead.lakeFormation).fetch(table));
      assert.equal(error.kind, 'Unavailable');
      assert.equal(error.awsName, 'NetworkError');
      assert.equal(error.retryable, true);
    } finally {
      dead.destroy();
    }
  });

  it('follows AWS_ENDPOINT_URL_LAKEFORMATION and AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS when no endpoint is configured', async () => {
    const saved = { ...process.env };
    process.env.AWS_ENDPOINT_URL_LAKEFORMATION = emulator.current.url;
    process.env.AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS = emulator.current.url;
    const fromEnv = createUpstreamClients({
      region: 'us-east-1',
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      await createTableCredentialsProvider(fromEnv.lakeFormation).fetch(table);
      await createRedshiftCredentialsProvider(fromEnv.redshiftServerless).fetch(warehouse);
      assert.equal(((await emulator.control('calls')).body as { total: number }).total, 2);
    } finally {
      fromEnv.destroy();
      process.env = saved;
    }
  });
});
