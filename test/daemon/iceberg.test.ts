/**
 * Iceberg REST credentials: `GET /v1/iceberg/credentials?tableArn=…` and the REST path form answer
 * a `LoadCredentialsResponse`. The npm package iceberg-js (0.8.1) has no type for it, so the shape
 * is written here key by key from the Iceberg REST OpenAPI spec (`LoadCredentialsResponse`:
 * required `storage-credentials`, a list of `StorageCredential`: required `prefix` string and
 * `config` map of string to string), with the keys Iceberg's S3FileIO reads.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

interface StorageCredential {
  readonly prefix: string;
  readonly config: Readonly<Record<string, string>>;
}
interface LoadCredentialsResponse {
  readonly 'storage-credentials': readonly StorageCredential[];
}

const S3_KEYS = [
  'client.region',
  's3.access-key-id',
  's3.secret-access-key',
  's3.session-token',
  's3.session-token-expires-at-ms',
];

/** Throws unless `body` is a LoadCredentialsResponse with every config value a string. */
function loadCredentialsResponse(body: unknown): LoadCredentialsResponse {
  assert.deepEqual(Object.keys(body as object), ['storage-credentials']);
  const list = (body as Record<string, unknown>)['storage-credentials'];
  assert.ok(Array.isArray(list));
  for (const credential of list as unknown[]) {
    assert.deepEqual(Object.keys(credential as object).sort(), ['config', 'prefix']);
    const { prefix, config } = credential as Record<string, unknown>;
    assert.equal(typeof prefix, 'string');
    assert.deepEqual(Object.keys(config as object).sort(), S3_KEYS);
    for (const value of Object.values(config as object)) assert.equal(typeof value, 'string');
  }
  return body as LoadCredentialsResponse;
}

describe('Iceberg REST credentials', function () {
  this.timeout(10_000);
  const daemon = useDaemon({ targets: [] });
  const get = (path: string, token = TOKEN) =>
    request(daemon.url).get(path).set('Authorization', token);
  const byArn = `/v1/iceberg/credentials?tableArn=${encodeURIComponent(TABLE_ARN)}`;
  const byPath = '/v1/iceberg/v1/123456789012/namespaces/sales/tables/orders/credentials';
  const errorOf = (body: unknown) => (body as { error: { code: string; message: string } }).error;

  it('answers one storage credential per VendedS3Path entry, from the table entry', async () => {
    const table = await get(
      `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(TABLE_ARN)}`,
    ).expect(200);
    const tableBody = table.body as Record<string, string>;
    // The same key as the table route's defaults: a hit.
    const response = await get(byArn).expect(200);
    assert.equal(response.headers['x-credcache-result'], 'hit');
    assert.equal(response.headers['cache-control'], 'no-store');
    const [credential, ...more] = loadCredentialsResponse(response.body)['storage-credentials'];
    assert.equal(more.length, 0);
    assert.ok(credential);
    assert.equal(credential.prefix, 's3://emulator-123456789012-us-east-1/sales/orders/');
    assert.deepEqual(credential.config, {
      's3.access-key-id': tableBody.AccessKeyId,
      's3.secret-access-key': tableBody.SecretAccessKey,
      's3.session-token': tableBody.SessionToken,
      's3.session-token-expires-at-ms': String(Date.parse(tableBody.Expiration ?? '')),
      'client.region': 'us-east-1',
    });
  });

  it('names the table by the REST path, with a Bearer token as Iceberg Java sends it', async () => {
    const first = await get(byPath, `Bearer ${TOKEN}`).expect(200);
    const fromPath = loadCredentialsResponse(first.body)['storage-credentials'][0];
    const second = await get(byArn).expect(200);
    assert.equal(second.headers['x-credcache-result'], 'hit', 'the path names the same key');
    const fromArn = loadCredentialsResponse(second.body)['storage-credentials'][0];
    assert.deepEqual(fromPath, fromArn);
    const scope = await daemon.control(`credentials/${fromPath?.config['s3.access-key-id'] ?? ''}`);
    assert.equal((scope.body as { scope: { TableArn: string } }).scope.TableArn, TABLE_ARN);
    // Iceberg's planId is accepted and changes nothing.
    const planned = await get(`${byPath}?planId=p-1`).expect(200);
    assert.equal(planned.headers['x-credcache-result'], 'hit');
  });

  it('refuses a multi-level namespace, a slash in a name and a tableArn beside the path', async () => {
    const multi = await get(
      '/v1/iceberg/v1/123456789012/namespaces/sales%1Feu/tables/orders/credentials',
    ).expect(400);
    assert.match(errorOf(multi.body).message, /^namespace: a multi-level namespace/);
    const slash = await get(
      '/v1/iceberg/v1/123456789012/namespaces/sales/tables/a%2Fb/credentials',
    ).expect(400);
    assert.match(errorOf(slash.body).message, /^table: must not contain/);
    const both = await get(`${byPath}?tableArn=${encodeURIComponent(TABLE_ARN)}`).expect(400);
    assert.match(errorOf(both.body).message, /^tableArn: the path names the table/);
    const badCatalog = await get(
      '/v1/iceberg/v1/not-an-account/namespaces/sales/tables/orders/credentials',
    ).expect(400);
    assert.match(errorOf(badCatalog.body).message, /^tableArn: not a Glue table ARN/);
    const format = await get(`${byArn}&format=container`).expect(400);
    assert.match(errorOf(format.body).message, /"format": unknown parameter/);
  });
});
