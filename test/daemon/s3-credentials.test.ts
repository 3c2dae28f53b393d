/**
 * `GET /v1/s3/credentials?path=…`: the cached table credential whose `VendedS3Path` entry is the
 * longest whole-segment prefix of the path. The index alone (fake entries, no daemon), then the
 * route against the real daemon and its emulator.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { StoredEntry } from '../../src/cache/entry.js';
import { type CredentialKey, tableKey } from '../../src/cache/key.js';
import { S3Index } from '../../src/daemon/s3-index.js';
import { s3Location } from '../../src/daemon/http/requests.js';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

const key = (table: string, permissions = ['SELECT']) =>
  tableKey({
    tableArn: `arn:aws:glue:us-east-1:123456789012:table/${table}`,
    permissions,
    supportedPermissionTypes: ['COLUMN_PERMISSION'],
    durationSeconds: 3600,
  });

const entry = (k: CredentialKey, vendedS3Path: string[], generation = 0) =>
  new StoredEntry(
    k,
    {
      credentials: { accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 't', vendedS3Path },
      expiration: Date.now() + 3_600_000,
    },
    0,
    generation,
  );

const at = (uri: string) => s3Location(uri) ?? assert.fail(`not an S3 URI: ${uri}`);

describe('the S3 index', () => {
  it('finds the longest prefix, on whole path segments only', () => {
    const index = new S3Index({ isTarget: () => false });
    const bucket = key('db/bucket');
    const tab = key('db/tab');
    const nested = key('db/nested');
    index.listener.stored?.(entry(bucket, ['s3://b/']));
    index.listener.stored?.(entry(tab, ['s3://b/tab']));
    index.listener.stored?.(entry(nested, ['s3://b/tab/deep/']));
    assert.equal(index.find(at('s3://b/tab/x.parquet'))?.key.id, tab.id);
    assert.equal(index.find(at('s3://b/tab'))?.key.id, tab.id);
    assert.equal(index.find(at('s3://b/tab/'))?.prefix, 's3://b/tab');
    assert.equal(index.find(at('s3://b/tab/deep/y'))?.key.id, nested.id);
    assert.equal(index.find(at('s3://b/tab/deeper/y'))?.key.id, tab.id);
    // `s3://b/tab` does not cover `s3://b/table2/x`: the bucket's prefix does.
    assert.equal(index.find(at('s3://b/table2/x'))?.key.id, bucket.id);
    assert.equal(index.find(at('s3://other/tab/x')), undefined);
  });

  it('forgets an evicted key, follows a refresh, and prefers a target behind one prefix', () => {
    const target = key('db/t', ['SELECT']);
    const other = key('db/t', ['DESCRIBE', 'SELECT']);
    const index = new S3Index({ isTarget: (k) => k.id === target.id });
    const first = entry(other, ['s3://b/t/']);
    index.listener.stored?.(first);
    index.listener.stored?.(entry(target, ['s3://b/t/']));
    assert.equal(index.find(at('s3://b/t/x'))?.key.id, target.id);
    index.listener.evicted?.(entry(target, ['s3://b/t/']), 'lru');
    assert.equal(index.find(at('s3://b/t/x'))?.key.id, other.id);
    // A refresh to another location moves the key.
    index.listener.stored?.(entry(other, ['s3://b/moved/'], 1));
    assert.equal(index.find(at('s3://b/t/x')), undefined);
    assert.equal(index.find(at('s3://b/moved/x'))?.key.id, other.id);
    index.listener.evicted?.(first, 'expired');
    assert.equal(index.find(at('s3://b/moved/x')), undefined);
    assert.equal(index.size, 0);
  });

  it('ignores keys of other sources', () => {
    const index = new S3Index({ isTarget: () => false });
    const table = entry(key('db/p'), ['s3://b/p/']);
    const partition = { ...key('db/p'), source: 'lakeformation_partition' } as CredentialKey;
    index.listener.stored?.({ key: partition, issued: table.issued, storedAt: 0, generation: 0 });
    assert.equal(index.size, 0);
  });
});

describe('GET /v1/s3/credentials', function () {
  this.timeout(10_000);
  const daemon = useDaemon({ cache: { maxEntries: 2 } });
  const get = (path: string) => request(daemon.url).get(path).set('Authorization', TOKEN);
  const BUCKET = 's3://emulator-123456789012-us-east-1';
  const s3 = (path: string, extra = '') =>
    get(`/v1/s3/credentials?path=${encodeURIComponent(path)}${extra}`);
  const table = (name: string) =>
    get(
      `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(`arn:aws:glue:us-east-1:123456789012:table/${name}`)}`,
    ).expect(200);
  const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;

  it("answers a configured target's credential with tableArn and prefix", async () => {
    const target = await get('/v1/targets/orders').expect(200);
    const response = await s3(`${BUCKET}/sales/orders/year=2026/part-0.parquet`).expect(200);
    assert.equal(response.headers['x-credcache-result'], 'hit');
    assert.equal(response.headers['cache-control'], 'no-store');
    const body = response.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), [
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'VendedS3Path',
      'prefix',
      'tableArn',
    ]);
    assert.equal(body.AccessKeyId, (target.body as Record<string, unknown>).AccessKeyId);
    assert.equal(body.tableArn, TABLE_ARN);
    assert.equal(body.prefix, `${BUCKET}/sales/orders/`);
    // format=container: the same credential in the container shape.
    const container = await s3(`${BUCKET}/sales/orders/x`, '&format=container').expect(200);
    assert.deepEqual(Object.keys(container.body as object).sort(), [
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'Token',
    ]);
    assert.equal((container.body as Record<string, unknown>).AccessKeyId, body.AccessKeyId);
  });

  it('finds a table cached by a client, on whole segments, and forgets it when it leaves', async () => {
    const missing = await s3(`${BUCKET}/finance/ledger/x`).expect(404);
    assert.equal(errorOf(missing.body).code, 'NotFound');
    assert.match(errorOf(missing.body).message, /^path: /);
    const ledger = await table('finance/ledger');
    const found = await s3(`${BUCKET}/finance/ledger/x`).expect(200);
    assert.equal(
      (found.body as Record<string, unknown>).AccessKeyId,
      (ledger.body as Record<string, unknown>).AccessKeyId,
    );
    // `…/sales/ord/` covers `…/sales/ord/…`, never `…/sales/orders/…` nor `…/sales/ordx`.
    await table('sales/ord');
    const ord = await s3(`${BUCKET}/sales/ord/x`).expect(200);
    assert.equal((ord.body as Record<string, unknown>).prefix, `${BUCKET}/sales/ord/`);
    const orders = await s3(`${BUCKET}/sales/orders/x`).expect(200);
    assert.equal((orders.body as Record<string, unknown>).tableArn, TABLE_ARN);
    await s3(`${BUCKET}/sales/ordx`).expect(404);
    // Two client keys fit (maxEntries 2); a third evicts the least recently used, ledger.
    await table('finance/budget');
    await s3(`${BUCKET}/finance/ledger/x`).expect(404);
    await s3(`${BUCKET}/finance/budget/x`).expect(200);
  });

  it('refuses a path that is not an S3 URI and a format it does not have', async () => {
    for (const query of ['', 'path=', 'path=http%3A%2F%2Fb%2Fk', 'path=s3%3A%2F%2F']) {
      const response = await get(`/v1/s3/credentials?${query}`).expect(400);
      assert.match(errorOf(response.body).message, /^path: /);
    }
    const format = await s3(`${BUCKET}/sales/orders/x`, '&format=iceberg').expect(400);
    assert.match(errorOf(format.body).message, /^format: /);
    const unknown = await s3(`${BUCKET}/sales/orders/x`, '&tableArn=x').expect(400);
    assert.match(errorOf(unknown.body).message, /"tableArn": unknown parameter/);
  });
});
