/**
 * `GET /v1/status` and forced refreshes (`POST /v1/targets/{name}/refresh`, `refreshNow=true`)
 * against the real daemon, its built-in emulator as upstream: the shapes, the interval per key
 * with 429 and Retry-After, single flight counted at the emulator, a failed forced fetch that
 * leaves the old credential served, and a status body that never carries a secret.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';
import { VERSION } from '../../src/version.js';

const TABLE = '/v1/lakeformation/table-credentials';
const PARTITION = '/v1/lakeformation/partition-credentials';
const REDSHIFT = '/v1/redshift-serverless/credentials';
const TABLE_QUERY = `tableArn=${encodeURIComponent(TABLE_ARN)}&permissions=SELECT`;

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean };
}
const errorOf = (body: unknown) => (body as ErrorBody).error;

interface StatusBody {
  version: string;
  ready: boolean;
  targets: {
    name: string;
    source: string;
    state: string;
    remainingSeconds: number | null;
    nextRefreshSeconds: number | null;
    consecutiveFailures: number;
    lastError: { code: string; message: string } | null;
  }[];
  cache: { entries: number; bySource: Record<string, number> };
}

describe('GET /v1/status and forced refreshes', function () {
  this.timeout(10_000);
  const daemon = useDaemon({ cache: { refreshNowMinIntervalSeconds: 10 } });
  const api = () => request(daemon.url);
  const get = (path: string) => api().get(path).set('Authorization', TOKEN);
  const force = (name: string) =>
    api().post(`/v1/targets/${name}/refresh`).set('Authorization', TOKEN);
  const calls = async () =>
    ((await daemon.control('calls')).body as { byOperation: Record<string, number> }).byOperation;

  describe('GET /v1/status', () => {
    it('answers the version, readiness, every target and the cache, with a token only', async () => {
      await api().get('/v1/status').expect(401);
      const response = await get('/v1/status').expect(200);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.body as StatusBody;
      assert.equal(body.version, VERSION);
      assert.match(body.version, /^\d+\.\d+\.\d+/);
      assert.equal(body.ready, true);
      assert.deepEqual(
        body.targets.map((target) => [target.name, target.source, target.state]),
        [
          ['orders', 'lakeformation_table', 'ready'],
          ['orders-2026', 'lakeformation_partition', 'ready'],
          ['warehouse', 'redshift_serverless', 'ready'],
        ],
      );
      for (const target of body.targets) {
        assert.ok(target.remainingSeconds !== null && target.remainingSeconds > 3000, target.name);
        assert.ok(target.nextRefreshSeconds !== null, target.name);
        assert.ok(target.nextRefreshSeconds < target.remainingSeconds, target.name);
        assert.equal(target.consecutiveFailures, 0);
        assert.equal(target.lastError, null);
      }
      assert.deepEqual(body.cache, {
        entries: 3,
        bySource: {
          lakeformation_table: 1,
          lakeformation_partition: 1,
          redshift_serverless: 1,
          lakeformation_location: 0,
        },
      });
      await get('/v1/status?verbose=1').expect(400);
    });

    it('never carries a secret, a token or AWS’s message text, also for a failing target', async () => {
      const credentials = [
        (await get('/v1/targets/orders').expect(200)).body as Record<string, string>,
        (await get('/v1/targets/warehouse').expect(200)).body as Record<string, string>,
      ];
      // The partition target's access is revoked: its standing job fails and retries.
      await daemon.control('config', { deny: [TABLE_ARN] });
      const partition = daemon.current.engine.cache
        .entries()
        .find((entry) => entry.key.source === 'lakeformation_partition');
      assert.ok(partition);
      daemon.current.engine.cache.evict(partition.key, 'revoked');
      let body = (await get('/v1/status').expect(200)).body as StatusBody;
      for (let i = 0; i < 40 && body.targets[1]?.state !== 'failing'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        body = (await get('/v1/status').expect(200)).body as StatusBody;
      }
      assert.equal(body.ready, false);
      const failing = body.targets[1];
      assert.equal(failing?.state, 'failing');
      assert.equal(failing.remainingSeconds, null);
      assert.ok(failing.consecutiveFailures >= 1);
      assert.equal(failing.lastError?.code, 'AccessDeniedException');
      const text = JSON.stringify(body);
      const secrets = [
        TOKEN,
        ...credentials.flatMap((c) =>
          [c.AccessKeyId, c.SecretAccessKey, c.Token, c.dbUser, c.dbPassword].filter(
            (value): value is string => typeof value === 'string',
          ),
        ),
      ];
      assert.ok(secrets.length >= 5);
      for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret in the status');
      for (const field of [
        'AccessKeyId',
        'SecretAccessKey',
        'SessionToken',
        'Token"',
        'dbPassword',
      ]) {
        assert.ok(!text.includes(field), field);
      }
      assert.ok(!text.includes('arn:aws'), 'an ARN (AWS’s message names them) in the status');
    });
  });

  describe('POST /v1/targets/{name}/refresh', () => {
    it('fetches anew and answers the new credential in the target’s shape', async () => {
      const before = (await get('/v1/targets/orders').expect(200)).body as Record<string, string>;
      const forced = await force('orders').expect(200);
      assert.equal(forced.headers['cache-control'], 'no-store');
      assert.equal(forced.headers['x-credcache-result'], 'miss');
      const body = forced.body as Record<string, string>;
      assert.deepEqual(Object.keys(body).sort(), [
        'AccessKeyId',
        'Expiration',
        'SecretAccessKey',
        'Token',
      ]);
      assert.notEqual(body.AccessKeyId, before.AccessKeyId);
      // Stored: the next client gets it from memory.
      const after = await get('/v1/targets/orders').expect(200);
      assert.equal(after.headers['x-credcache-result'], 'hit');
      assert.equal((after.body as Record<string, string>).AccessKeyId, body.AccessKeyId);
      const redshift = (await force('warehouse').expect(200)).body as Record<string, string>;
      assert.deepEqual(Object.keys(redshift).sort(), [
        'dbPassword',
        'dbUser',
        'expiration',
        'nextRefreshTime',
      ]);
    });

    it('answers 429 with Retry-After inside the interval, per key', async () => {
      await force('orders').expect(200);
      const refused = await force('orders').expect(429);
      assert.equal(errorOf(refused.body).code, 'TooManyRequests');
      assert.equal(errorOf(refused.body).retryable, true);
      assert.match(errorOf(refused.body).message, /refreshNowMinIntervalSeconds/);
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 10, String(retryAfter));
      // The same key through the query route shares the interval; another key does not.
      await get('/v1/targets/orders?refreshNow=true').expect(429);
      await force('warehouse').expect(200);
      // A plain GET still answers from memory.
      const plain = await get('/v1/targets/orders').expect(200);
      assert.equal(plain.headers['x-credcache-result'], 'hit');
    });

    it('shares one upstream call between concurrent forced refreshes', async () => {
      const before = (await calls()).GetTemporaryGlueTableCredentials ?? 0;
      await daemon.control('faults', { operation: '*', mode: 'latency', latencyMs: 300 });
      const answers = await Promise.all(Array.from({ length: 10 }, () => force('orders')));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array.from({ length: 10 }, () => 200),
      );
      const keys = new Set(
        answers.map((answer) => (answer.body as { AccessKeyId: string }).AccessKeyId),
      );
      assert.equal(keys.size, 1, 'every forcing client got the one new credential');
      assert.equal((await calls()).GetTemporaryGlueTableCredentials, before + 1);
      assert.deepEqual(answers.map((answer) => answer.headers['x-credcache-result']).sort(), [
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'coalesced',
        'miss',
      ]);
    });

    it('a failed forced fetch answers its error and leaves the old credential served', async () => {
      const before = (await get('/v1/targets/orders').expect(200)).body as Record<string, string>;
      await daemon.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'InternalServerException',
      });
      const failed = await force('orders').expect(502);
      assert.equal(errorOf(failed.body).code, 'UpstreamUnavailable');
      const still = await get('/v1/targets/orders').expect(200);
      assert.equal(still.headers['x-credcache-result'], 'hit');
      assert.equal((still.body as Record<string, string>).AccessKeyId, before.AccessKeyId);
      // The failure used up the interval: a client cannot hammer a failing upstream.
      await force('orders').expect(429);
    });

    it('refuses an unknown target, a query and GET', async () => {
      assert.equal(errorOf((await force('nope').expect(404)).body).code, 'NotFound');
      await api().post('/v1/targets/orders/refresh?x=1').set('Authorization', TOKEN).expect(400);
      await api().post('/v1/targets/orders/refresh').expect(401);
      const get405 = await get('/v1/targets/orders/refresh').expect(405);
      assert.equal(get405.headers.allow, 'POST');
    });
  });

  describe('refreshNow=true on the credential GET routes', () => {
    it('forces a fetch on every route, in the route’s shape, and is not part of the key', async () => {
      const routes = [
        [TABLE, TABLE_QUERY, 'SessionToken'],
        [PARTITION, `${TABLE_QUERY}&values=2026&values=12`, 'SessionToken'],
        [REDSHIFT, 'workgroupName=analytics&dbName=dev', 'dbPassword'],
        ['/v1/targets/orders-2026', '', 'Token'],
      ] as const;
      for (const [path, query, field] of routes) {
        const sep = query === '' ? '' : '&';
        const first = (await get(`${path}?${query}`).expect(200)).body as Record<string, string>;
        const forced = await get(`${path}?${query}${sep}refreshNow=true`).expect(200);
        assert.equal(forced.headers['x-credcache-result'], 'miss', path);
        const body = forced.body as Record<string, string>;
        assert.ok(field in body, path);
        assert.notDeepEqual(body, first, `${path}: a new credential`);
        // The same key without refreshNow (or with false) is now a hit on the forced credential.
        for (const plain of [`${path}?${query}`, `${path}?${query}${sep}refreshNow=false`]) {
          const hit = await get(plain).expect(200);
          assert.equal(hit.headers['x-credcache-result'], 'hit', plain);
          assert.deepEqual(hit.body, body, plain);
        }
        await get(`${path}?${query}${sep}refreshNow=true`).expect(429);
      }
    });

    it('takes true or false only, naming refreshNow', async () => {
      for (const value of ['1', 'yes', 'TRUE', '']) {
        const refused = await get(`${TABLE}?${TABLE_QUERY}&refreshNow=${value}`).expect(400);
        assert.equal(errorOf(refused.body).code, 'InvalidRequest');
        assert.match(errorOf(refused.body).message, /^refreshNow: /);
      }
      await get(`${TABLE}?${TABLE_QUERY}&refreshNow=true&refreshNow=true`).expect(400);
      const other = await get('/v1/targets/orders?refresh=true').expect(400);
      assert.match(errorOf(other.body).message, /unknown parameter/);
      const listed = await get(`${TABLE}?${TABLE_QUERY}&nope=1`).expect(400);
      assert.match(errorOf(listed.body).message, /refreshNow/);
    });
  });
});
