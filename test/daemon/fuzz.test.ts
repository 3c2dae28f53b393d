/**
 * Random malformed requests against the real daemon (fast-check): every answer is a 2xx or a
 * 4xx with the JSON error shape, never a 5xx, and the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import fc from 'fast-check';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const PATHS = [
  '/v1/lakeformation/table-credentials',
  '/v1/lakeformation/partition-credentials',
  '/v1/redshift-serverless/credentials',
  '/v1/targets/orders',
  '/v1/targets/',
  '/v1/targets/a/b',
  '/v1/targets/%E0%A4%A',
  '/healthz',
  '/nope',
  '//v1//lakeformation',
];
const PARAMS = [
  'tableArn',
  'permissions',
  'supportedPermissionTypes',
  'durationSeconds',
  'values',
  'workgroupName',
  'customDomainName',
  'dbName',
  'constructor',
  '__proto__',
  'x',
];
const VALUES = fc.oneof(
  fc.constantFrom(
    TABLE_ARN,
    'SELECT',
    'SELECT,DESCRIBE',
    'COLUMN_PERMISSION',
    '900',
    '3600',
    '99999999999',
    '-1',
    'analytics',
    'dev',
    'select',
    '',
    '%',
    '%zz',
    'arn:aws:glue:us-east-1:123456789012:table/a/b/c',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const BODIES = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 60 }),
  fc
    .record(
      {
        TableArn: fc.oneof(fc.constant(TABLE_ARN), fc.string()),
        Permissions: fc.oneof(fc.array(fc.constantFrom('SELECT', 'NOPE')), fc.anything()),
        Partition: fc.oneof(fc.record({ Values: fc.array(fc.string()) }), fc.anything()),
        DurationSeconds: fc.oneof(fc.integer(), fc.double(), fc.string()),
        AuditContext: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
);

describe('daemon API under random malformed requests (property)', function () {
  this.timeout(120_000);
  const daemon = useDaemon({ upstream: { maxAttempts: 1 } });

  it('answers 2xx or a 4xx JSON error, never 5xx, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
        fc.constantFrom(...PATHS),
        fc.array(fc.tuple(fc.constantFrom(...PARAMS), VALUES), { maxLength: 6 }),
        fc.boolean(),
        fc.constantFrom(
          undefined,
          'application/json',
          'text/plain',
          'application/json; charset=latin1',
        ),
        BODIES,
        async (method, path, params, withToken, contentType, body) => {
          const query = params
            .map(
              ([name, value]) =>
                `${name}=${/^%(zz)?$/.test(value) ? value : encodeURIComponent(value)}`,
            )
            .join('&');
          const headers: Record<string, string> = {};
          if (withToken) headers.authorization = TOKEN;
          if (contentType) headers['content-type'] = contentType;
          const sendBody = method === 'GET' || method === 'HEAD' ? undefined : body;
          const answer = await send(
            daemon.url,
            method,
            query ? `${path}?${query}` : path,
            headers,
            sendBody,
          );
          assert.ok(answer.status >= 200 && answer.status < 500, `${answer.status} ${answer.body}`);
          if (answer.status >= 400 && method !== 'HEAD') {
            assert.match(answer.contentType, /^application\/json/);
            const parsed = JSON.parse(answer.body) as {
              error: { code: string; message: string; retryable: boolean };
            };
            assert.equal(typeof parsed.error.code, 'string');
            assert.ok(parsed.error.message.length > 0);
            assert.equal(typeof parsed.error.retryable, 'boolean');
          }
        },
      ),
      { numRuns: 400 },
    );
    const health = await send(daemon.url, 'GET', '/healthz', {}, undefined);
    assert.equal(health.status, 200);
  });
});
