/**
 * `format=container` on the Lake Formation GET routes: the AWS container-credentials shape of the
 * same cache entry (the format is never part of the key), read by the JS SDK's `fromHttp` through
 * a full URI that names a table or a partition with no target configured.
 */
import assert from 'node:assert/strict';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

const TABLE = '/v1/lakeformation/table-credentials';
const PARTITION = '/v1/lakeformation/partition-credentials';
const LEDGER_ARN = 'arn:aws:glue:us-east-1:123456789012:table/finance/ledger';
const CONTAINER_FIELDS = ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token'];

describe('format=container on the Lake Formation routes', function () {
  this.timeout(10_000);
  const daemon = useDaemon({ targets: [] });
  const get = (path: string) => request(daemon.url).get(path).set('Authorization', TOKEN);
  const calls = async () =>
    ((await daemon.control('calls')).body as { byOperation: Record<string, number> }).byOperation;
  const ledger = `${TABLE}?tableArn=${encodeURIComponent(LEDGER_ARN)}`;

  it('answers the container shape from the same entry as the table shape', async () => {
    const table = await get(ledger).expect(200);
    assert.equal(table.headers['x-credcache-result'], 'miss');
    const container = await get(`${ledger}&format=container`).expect(200);
    assert.equal(container.headers['x-credcache-result'], 'hit', 'format is not in the key');
    assert.equal(container.headers['cache-control'], 'no-store');
    const body = container.body as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), CONTAINER_FIELDS);
    const lakeFormation = table.body as Record<string, string>;
    assert.equal(body.AccessKeyId, lakeFormation.AccessKeyId);
    assert.equal(body.Token, lakeFormation.SessionToken);
    assert.equal(body.Expiration, lakeFormation.Expiration);
    // format=lakeformation is the default, named.
    const named = await get(`${ledger}&format=lakeformation`).expect(200);
    assert.deepEqual(named.body, table.body);
    assert.equal((await calls()).GetTemporaryGlueTableCredentials, 1);
  });

  it('serves a partition as container credentials too', async () => {
    const path = `${PARTITION}?tableArn=${encodeURIComponent(TABLE_ARN)}&values=2026&values=11&format=container`;
    const response = await get(path).expect(200);
    assert.deepEqual(Object.keys(response.body as object).sort(), CONTAINER_FIELDS);
  });

  it('refuses any other format, naming the parameter', async () => {
    for (const format of ['redshift', 'iceberg', 'CONTAINER', '']) {
      const response = await get(`${ledger}&format=${format}`).expect(400);
      const { error } = response.body as { error: { code: string; message: string } };
      assert.equal(error.code, 'InvalidRequest');
      assert.match(error.message, /^format: must be lakeformation or container/);
    }
    const twice = await get(`${ledger}&format=container&format=container`).expect(400);
    assert.match((twice.body as { error: { message: string } }).error.message, /^format: /);
    // The Redshift route has one shape: format is an unknown parameter there.
    const redshift = await get(
      '/v1/redshift-serverless/credentials?workgroupName=analytics&format=container',
    ).expect(400);
    assert.match((redshift.body as { error: { message: string } }).error.message, /"format"/);
  });

  it('is read by fromHttp through a full URI naming the table, with no target', async () => {
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${daemon.url}${ledger}&format=container`,
      awsContainerAuthorizationToken: TOKEN,
    });
    const credentials = await provider();
    assert.match(credentials.accessKeyId, /^ASIA/);
    assert.ok(credentials.sessionToken);
    assert.ok(credentials.expiration instanceof Date);
    const issued = await daemon.control(`credentials/${credentials.accessKeyId}`);
    assert.equal(issued.status, 200);
    assert.equal((issued.body as { scope: { TableArn: string } }).scope.TableArn, LEDGER_ARN);
  });

  it('fromHttp fails on the table shape (no Token): the format is what makes it work', async () => {
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${daemon.url}${ledger}`,
      awsContainerAuthorizationToken: TOKEN,
      maxRetries: 0,
    });
    await assert.rejects(provider());
  });
});
