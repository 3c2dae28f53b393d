/**
 * The HTTP API (docs/api.md), route by route and error by error, against the real daemon
 * (its built-in emulator as upstream, the real SDK clients in between).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TABLE = '/v1/lakeformation/table-credentials';
const PARTITION = '/v1/lakeformation/partition-credentials';
const REDSHIFT = '/v1/redshift-serverless/credentials';

interface ErrorBody {
  error: { code: string; message: string; retryable: boolean };
}

function errorOf(body: unknown): ErrorBody['error'] {
  return (body as ErrorBody).error;
}

describe('daemon HTTP API', function () {
  this.timeout(10_000);
  const daemon = useDaemon();
  const api = () => request(daemon.url);
  const get = (path: string) => api().get(path).set('Authorization', TOKEN);
  const calls = async () =>
    ((await daemon.control('calls')).body as { byOperation: Record<string, number> }).byOperation;

  describe('Lake Formation table credentials', () => {
    it('serves them with no-store, the cache result and Z timestamps; a second ask is a hit', async () => {
      const first = await get(
        `${TABLE}?tableArn=${encodeURIComponent(TABLE_ARN)}&permissions=SELECT,DESCRIBE`,
      ).expect(200);
      assert.equal(first.headers['cache-control'], 'no-store');
      assert.equal(first.headers['x-credcache-result'], 'miss');
      assert.match(first.headers['content-type'] ?? '', /^application\/json/);
      const body = first.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), [
        'AccessKeyId',
        'Expiration',
        'SecretAccessKey',
        'SessionToken',
        'VendedS3Path',
      ]);
      assert.match(String(body.Expiration), ISO_Z);
      assert.deepEqual(body.VendedS3Path, ['s3://emulator-123456789012-us-east-1/sales/orders/']);
      // Repeated parameters in another order are the same key.
      const second = await get(
        `${TABLE}?tableArn=${encodeURIComponent(TABLE_ARN)}&permissions=DESCRIBE&permissions=SELECT&permissions=SELECT`,
      ).expect(200);
      assert.equal(second.headers['x-credcache-result'], 'hit');
      assert.equal((second.body as Record<string, unknown>).AccessKeyId, body.AccessKeyId);
      // The emulator issued it for exactly the canonical scope.
      const scope = await daemon.control(`credentials/${String(body.AccessKeyId)}`);
      assert.equal(scope.status, 200);
      const issued = scope.body as { scope: unknown; auditContext?: string };
      assert.deepEqual(issued.scope, {
        TableArn: TABLE_ARN,
        Permissions: ['DESCRIBE', 'SELECT'],
        SupportedPermissionTypes: ['COLUMN_PERMISSION'],
        DurationSeconds: 3600,
      });
      assert.equal(issued.auditContext, 'credcache', 'the configured audit context was sent');
    });

    it('accepts POST in the AWS request shape, AuditContext not part of the key', async () => {
      const post = (body: unknown) =>
        api()
          .post(TABLE)
          .set('Authorization', TOKEN)
          .send(body as object);
      const first = await post({
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        DurationSeconds: 900,
        AuditContext: { AdditionalAuditContext: 'query-1' },
      }).expect(200);
      const second = await post({
        TableArn: TABLE_ARN,
        Permissions: ['SELECT'],
        DurationSeconds: 900,
        AuditContext: { AdditionalAuditContext: 'query-2' },
      }).expect(200);
      assert.equal(second.headers['x-credcache-result'], 'hit');
      assert.equal(
        (second.body as { AccessKeyId: string }).AccessKeyId,
        (first.body as { AccessKeyId: string }).AccessKeyId,
      );
      // GET with the same fields is the same entry too.
      const viaGet = await get(
        `${TABLE}?tableArn=${encodeURIComponent(TABLE_ARN)}&permissions=SELECT&durationSeconds=900`,
      ).expect(200);
      assert.equal(viaGet.headers['x-credcache-result'], 'hit');
    });
  });

  describe('Lake Formation partition credentials', () => {
    it('keeps repeated values in order and a comma inside one value', async () => {
      const arn = encodeURIComponent(TABLE_ARN);
      const a = await get(`${PARTITION}?tableArn=${arn}&values=2026&values=11`).expect(200);
      assert.equal((a.body as Record<string, unknown>).VendedS3Path, undefined);
      const b = await get(`${PARTITION}?tableArn=${arn}&values=11&values=2026`).expect(200);
      const c = await get(`${PARTITION}?tableArn=${arn}&values=2026,11`).expect(200);
      const ids = [a, b, c].map((r) => (r.body as { AccessKeyId: string }).AccessKeyId);
      assert.equal(new Set(ids).size, 3, 'order matters; "2026,11" is one value');
      const posted = await api()
        .post(PARTITION)
        .set('Authorization', TOKEN)
        .send({ TableArn: TABLE_ARN, Partition: { Values: ['2026', '11'] } })
        .expect(200);
      assert.equal(posted.headers['x-credcache-result'], 'hit');
    });
  });

  describe('Redshift Serverless credentials', () => {
    it('serves by workgroup or custom domain, in the Redshift shape', async () => {
      const before = (await calls()).GetCredentials ?? 0;
      const response = await get(`${REDSHIFT}?workgroupName=analytics&dbName=dev`).expect(200);
      const body = response.body as Record<string, string>;
      assert.deepEqual(Object.keys(body).sort(), [
        'dbPassword',
        'dbUser',
        'expiration',
        'nextRefreshTime',
      ]);
      assert.match(body.expiration ?? '', ISO_Z);
      assert.match(body.nextRefreshTime ?? '', ISO_Z);
      await get(`${REDSHIFT}?customDomainName=db.example.com&durationSeconds=900`).expect(200);
      assert.equal(
        (await calls()).GetCredentials,
        before + 1,
        'the configured target warmed this key already: one new call, for the custom domain',
      );
    });
  });

  describe('targets', () => {
    it('serve a Lake Formation target as container credentials, already warm', async () => {
      const response = await get('/v1/targets/orders').expect(200);
      assert.equal(response.headers['x-credcache-result'], 'hit', 'prewarmed at start');
      const body = response.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), [
        'AccessKeyId',
        'Expiration',
        'SecretAccessKey',
        'Token',
      ]);
      assert.match(String(body.Expiration), ISO_Z);
      const partition = await get('/v1/targets/orders-2026').expect(200);
      assert.ok((partition.body as Record<string, unknown>).Token);
    });

    it('serve a Redshift target in the Redshift shape; an unknown name is 404', async () => {
      const response = await get('/v1/targets/warehouse').expect(200);
      assert.ok((response.body as Record<string, unknown>).dbPassword);
      const missing = await get('/v1/targets/nope').expect(404);
      assert.equal(errorOf(missing.body).code, 'NotFound');
      assert.match(errorOf(missing.body).message, /^name: /);
      await get('/v1/targets/orders?x=1').expect(400);
    });
  });

  describe('validation', () => {
    const arn = encodeURIComponent(TABLE_ARN);
    const cases: [string, string, RegExp][] = [
      [
        'a malformed ARN',
        `${TABLE}?tableArn=arn:aws:s3:::bucket`,
        /^tableArn: not a Glue table ARN \(arn:<partition>:.*\); given "arn:aws:s3:::bucket"$/,
      ],
      ['a missing ARN', `${TABLE}?permissions=SELECT`, /^tableArn: required/],
      [
        'an unknown permission',
        `${TABLE}?tableArn=${arn}&permissions=READ`,
        /^permissions: not a Lake Formation permission \(ALL, SELECT, .*\); given "READ"$/,
      ],
      [
        'an empty list item',
        `${TABLE}?tableArn=${arn}&permissions=SELECT,`,
        /^permissions: empty value/,
      ],
      [
        'an unknown permission type',
        `${TABLE}?tableArn=${arn}&supportedPermissionTypes=ROW`,
        /^supportedPermissionTypes: /,
      ],
      [
        'a duration out of range',
        `${TABLE}?tableArn=${arn}&durationSeconds=60`,
        /^durationSeconds: must be a whole number of seconds from 900 to 21600/,
      ],
      [
        'a duration that is not a number',
        `${TABLE}?tableArn=${arn}&durationSeconds=1h`,
        /^durationSeconds: /,
      ],
      [
        'a repeated single parameter',
        `${TABLE}?tableArn=${arn}&tableArn=${arn}`,
        /^tableArn: given more than once/,
      ],
      ['an unknown parameter', `${TABLE}?tableArn=${arn}&S3Path=x`, /^"S3Path": unknown parameter/],
      ['missing partition values', `${PARTITION}?tableArn=${arn}`, /^values: required/],
      [
        'a bad dbName',
        `${REDSHIFT}?workgroupName=analytics&dbName=1db`,
        /^dbName: must be 1 to 64 characters/,
      ],
      [
        'a reserved dbName',
        `${REDSHIFT}?workgroupName=analytics&dbName=select`,
        /^dbName: 'select' is a reserved word/,
      ],
      ['a bad workgroupName', `${REDSHIFT}?workgroupName=Analytics`, /^workgroupName: /],
      [
        'both Redshift names',
        `${REDSHIFT}?workgroupName=analytics&customDomainName=a.example.com`,
        /^workgroupName: exactly one of workgroupName and customDomainName is required$/,
      ],
      [
        'a Redshift duration over 3600',
        `${REDSHIFT}?workgroupName=analytics&durationSeconds=7200`,
        /^durationSeconds: .* from 900 to 3600/,
      ],
    ];
    for (const [what, path, message] of cases) {
      it(`answers 400 InvalidRequest naming the field for ${what}`, async () => {
        const response = await get(path).expect(400);
        assert.deepEqual(Object.keys(response.body as object), ['error']);
        const error = errorOf(response.body);
        assert.equal(error.code, 'InvalidRequest');
        assert.equal(error.retryable, false);
        assert.match(error.message, message);
        assert.equal(response.headers['retry-after'], undefined);
      });
    }

    it('answers 400 for bad POST bodies, naming the member', async () => {
      const post = (path: string) => api().post(path).set('Authorization', TOKEN);
      const notJson = await post(TABLE)
        .set('content-type', 'application/json')
        .send('{"TableArn":');
      assert.equal(notJson.status, 400);
      assert.match(errorOf(notJson.body).message, /^body: not valid JSON/);
      const array = await post(TABLE).send([1]);
      assert.match(errorOf(array.body).message, /^body: must be a JSON object/);
      const member = await post(TABLE).send({ TableArn: TABLE_ARN, Permissions: 'SELECT' });
      assert.match(errorOf(member.body).message, /^Permissions: must be a list of strings/);
      const unknown = await post(PARTITION).send({
        TableArn: TABLE_ARN,
        Partition: { Values: ['1'], Extra: 1 },
      });
      assert.match(errorOf(unknown.body).message, /^Partition\.Extra: unknown field/);
      const s3Path = await post(TABLE).send({ TableArn: TABLE_ARN, S3Path: 's3://b/k' });
      assert.match(errorOf(s3Path.body).message, /^S3Path: not supported/);
    });
  });

  describe('protocol errors', () => {
    it('401 without or with a wrong token; Bearer and the raw token both work', async () => {
      const missing = await api().get('/v1/targets/orders').expect(401);
      assert.equal(errorOf(missing.body).code, 'Unauthorized');
      assert.match(errorOf(missing.body).message, /^Authorization: missing/);
      await api().get('/v1/targets/orders').set('Authorization', `${TOKEN}x`).expect(401);
      await api().get('/v1/targets/orders').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      await api().post(TABLE).send({ TableArn: TABLE_ARN }).expect(401);
    });

    it('403 when the Host header is not a loopback name (DNS rebinding)', async () => {
      const response = await get('/v1/targets/orders').set('Host', 'evil.example.com').expect(403);
      assert.equal(errorOf(response.body).code, 'Forbidden');
      assert.match(errorOf(response.body).message, /^Host: /);
      await get('/v1/targets/orders').set('Host', 'localhost:9911').expect(200);
      await get('/v1/targets/orders').set('Host', '[::1]:9911').expect(200);
    });

    it('answers what is not HTTP with a JSON 400 and closes the connection', async () => {
      const { hostname, port } = new URL(daemon.url);
      const socket = connect(Number(port), hostname);
      socket.end('GARBAGE / NONSENSE\r\n\r\n');
      let raw = '';
      for await (const chunk of socket) raw += String(chunk);
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.match(raw, /content-type: application\/json/);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorBody;
      assert.equal(body.error.code, 'InvalidRequest');
      await get('/healthz').expect(200);
    });

    it('404 for unknown paths, 405 with Allow for unknown methods, 413 over 16 KiB', async () => {
      const badEncoding = await get('/v1/targets/%E0%A4%A').expect(400);
      assert.match(errorOf(badEncoding.body).message, /^path: malformed percent-encoding/);
      const notFound = await get('/v2/anything').expect(404);
      assert.equal(errorOf(notFound.body).code, 'NotFound');
      const wrongMethod = await api().delete(TABLE).set('Authorization', TOKEN).expect(405);
      assert.equal(errorOf(wrongMethod.body).code, 'MethodNotAllowed');
      assert.equal(wrongMethod.headers.allow, 'GET, POST, HEAD');
      const postRedshift = await api()
        .post(REDSHIFT)
        .set('Authorization', TOKEN)
        .send({})
        .expect(405);
      assert.equal(postRedshift.headers.allow, 'GET, HEAD');
      const big = await api()
        .post(TABLE)
        .set('Authorization', TOKEN)
        .send({ TableArn: TABLE_ARN, Pad: 'x'.repeat(17 * 1024) })
        .expect(413);
      assert.equal(errorOf(big.body).code, 'PayloadTooLarge');
    });
  });

  describe('upstream errors', () => {
    const cases: [string, Record<string, unknown>, number, string, boolean][] = [
      [
        'AccessDeniedException',
        { mode: 'error', errorType: 'AccessDeniedException' },
        403,
        'UpstreamAccessDenied',
        false,
      ],
      [
        'EntityNotFoundException',
        { mode: 'error', errorType: 'EntityNotFoundException' },
        404,
        'UpstreamNotFound',
        false,
      ],
      [
        'InvalidInputException',
        { mode: 'error', errorType: 'InvalidInputException' },
        400,
        'UpstreamInvalidInput',
        false,
      ],
      [
        'PermissionTypeMismatchException',
        { mode: 'error', errorType: 'PermissionTypeMismatchException' },
        409,
        'UpstreamPermissionTypeMismatch',
        false,
      ],
      ['throttling (400 Rate exceeded)', { mode: 'throttle' }, 503, 'UpstreamThrottled', true],
      [
        'InternalServiceException',
        { mode: 'error', errorType: 'InternalServiceException' },
        502,
        'UpstreamUnavailable',
        true,
      ],
      [
        'OperationTimeoutException',
        { mode: 'error', errorType: 'OperationTimeoutException' },
        504,
        'UpstreamTimeout',
        true,
      ],
    ];
    for (const [what, fault, status, code, retryable] of cases) {
      it(`maps ${what} to ${status} ${code}`, async () => {
        await daemon.control('faults', { operation: '*', ...fault });
        const response = await get(
          `${TABLE}?tableArn=${encodeURIComponent(TABLE_ARN)}&durationSeconds=1000`,
        ).expect(status);
        const error = errorOf(response.body);
        assert.equal(error.code, code);
        assert.equal(error.retryable, retryable);
        assert.equal(response.headers['retry-after'] !== undefined, retryable);
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.match(error.message, /request id /);
      });
    }

    it('answers a deterministic error from the negative cache without calling AWS again', async () => {
      await daemon.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'AccessDeniedException',
      });
      const before = (await calls()).GetTemporaryGlueTableCredentials ?? 0;
      const path = `${TABLE}?tableArn=${encodeURIComponent(TABLE_ARN)}&durationSeconds=1000`;
      for (let i = 0; i < 5; i++) await get(path).expect(403);
      assert.equal((await calls()).GetTemporaryGlueTableCredentials, before + 1);
    });

    it('keeps serving cached credentials when upstream fails', async () => {
      await daemon.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'InternalServiceException',
      });
      const response = await get('/v1/targets/orders').expect(200);
      assert.equal(response.headers['x-credcache-result'], 'hit');
    });
  });

  describe('secrets', () => {
    it('never appear in logs, metrics or error bodies', async () => {
      const secrets = [TOKEN];
      const collect = (body: unknown) => {
        const record = body as Record<string, unknown>;
        for (const field of ['SecretAccessKey', 'SessionToken', 'Token', 'dbPassword']) {
          if (typeof record[field] === 'string') secrets.push(record[field]);
        }
      };
      const arn = encodeURIComponent(TABLE_ARN);
      collect((await get('/v1/targets/orders').expect(200)).body);
      collect((await get('/v1/targets/orders-2026').expect(200)).body);
      collect((await get('/v1/targets/warehouse').expect(200)).body);
      collect((await get(`${TABLE}?tableArn=${arn}&durationSeconds=901`).expect(200)).body);
      const errorBodies: string[] = [];
      await daemon.control('faults', {
        operation: '*',
        mode: 'error',
        errorType: 'AccessDeniedException',
      });
      errorBodies.push((await get(`${TABLE}?tableArn=${arn}&durationSeconds=902`)).text);
      errorBodies.push((await api().get('/v1/targets/orders').set('Authorization', 'nope')).text);
      // A failing background refresh is logged too.
      const entry = daemon.current.engine.cache.entries()[0];
      assert.ok(entry);
      await daemon.current.engine.cache.refresh(entry.key).catch(() => undefined);
      const metrics = (await api().get('/metrics')).text;
      assert.ok(secrets.length >= 5);
      assert.ok(daemon.logs.length > 3, 'debug logs were written');
      for (const secret of secrets) {
        for (const [where, text] of [
          ['logs', daemon.logs.join('')],
          ['metrics', metrics],
          ['error bodies', errorBodies.join('')],
        ] as const) {
          assert.ok(!text.includes(secret), `a secret appeared in ${where}`);
        }
      }
    });
  });

  describe('health, readiness and metrics', () => {
    it('healthz and readyz answer without a token; metrics are Prometheus text', async () => {
      await api().get('/healthz').expect(200);
      const ready = await api().get('/readyz').expect(200);
      assert.equal((ready.body as { status: string }).status, 'ready');
      const metrics = await api().get('/metrics').expect(200);
      assert.match(metrics.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(metrics.text, /credcache_cache_entries\{source="lakeformation_table"\} 1/);
      assert.match(metrics.text, /credcache_target_remaining_seconds\{target="orders"\} \d+/);
      assert.match(metrics.text, /process_resident_memory_bytes/);
    });
  });
});

describe('daemon with a probe listener', function () {
  const daemon = useDaemon({ probeListen: '127.0.0.1:0' });

  it('serves health, readiness and metrics there, and no credentials', async () => {
    const probe = daemon.current.probeUrl;
    assert.ok(probe && probe !== daemon.url);
    await request(probe).get('/healthz').expect(200);
    await request(probe).get('/readyz').expect(200);
    const metrics = await request(probe).get('/metrics').expect(200);
    assert.match(metrics.text, /credcache_cache_entries/);
    const refused = await request(probe)
      .get('/v1/targets/orders')
      .set('Authorization', TOKEN)
      .expect(404);
    assert.equal(errorOf(refused.body).code, 'NotFound');
  });
});

describe('daemon with allowHosts', function () {
  const daemon = useDaemon({ allowHosts: ['credcache.local'] });

  it('accepts the Host names it is told to, besides the loopback ones', async () => {
    const get = (host: string) =>
      request(daemon.url).get('/v1/targets/orders').set('Authorization', TOKEN).set('Host', host);
    await get('credcache.local:9911').expect(200);
    await get('CREDCACHE.local').expect(200);
    await get('other.local').expect(403);
  });
});

describe('daemon readiness with a failing target', function () {
  this.timeout(10_000);
  const daemon = useDaemon({
    targets: [
      {
        name: 'denied',
        source: 'lakeformation_table',
        tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/denied',
      },
    ],
  });

  it('is 503 naming the target and why until it holds a credential', async () => {
    const api = () => request(daemon.url);
    await api().get('/readyz').expect(200);
    // Access is revoked upstream, and the entry goes (as a revoking refresh would do).
    await daemon.control('config', {
      deny: ['arn:aws:glue:us-east-1:123456789012:table/sales/denied'],
    });
    const target = daemon.current.engine.cache.entries()[0];
    assert.ok(target);
    daemon.current.engine.cache.evict(target.key, 'revoked');
    await api().get('/v1/targets/denied').set('Authorization', TOKEN).expect(403);
    type Body = {
      status: string;
      failing: string[];
      targets: { name: string; ready: boolean; reason?: string }[];
    };
    let body = (await api().get('/readyz').expect(503)).body as Body;
    // The target's standing job retries it within the first backoff step (at most 1 s), and
    // /readyz names the error code that retry ended with: never AWS's message, which names ARNs.
    for (let i = 0; i < 40 && body.targets[0]?.reason === 'no credential yet'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      body = (await api().get('/readyz').expect(503)).body as Body;
    }
    assert.equal(body.status, 'not ready');
    assert.deepEqual(body.failing, ['denied']);
    assert.match(
      body.targets[0]?.reason ?? '',
      /^AccessDeniedException \(\d+ failed attempts? in a row; retrying\)$/,
    );
    assert.doesNotMatch(JSON.stringify(body), /arn:aws/);
    daemon.current.readiness.shutDown();
    const shutting = await api().get('/readyz').expect(503);
    assert.equal((shutting.body as { status: string }).status, 'shutting down');
  });
});
