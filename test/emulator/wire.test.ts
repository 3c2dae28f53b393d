/**
 * The emulator on the wire, below the SDK: signatures, malformed requests, the error format,
 * the control API's own validation, and a property-based check that no input crashes it.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { GetTemporaryGlueTableCredentialsCommand } from '@aws-sdk/client-lakeformation';
import { GetCredentialsCommand } from '@aws-sdk/client-redshift-serverless';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock.js';
import { TABLE_ARN, useEmulator } from '../support/emulator.js';

const SIGNATURE = 'a'.repeat(64);
const authorization = (service: string, accessKeyId = 'AKIDEXAMPLE') =>
  `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20261124/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIGNATURE}`;

interface RawAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<RawAnswer> {
  const response = await fetch(url, { method: 'POST', body, headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) };
}

const lakeFormation = (url: string, body: string, auth = authorization('lakeformation')) =>
  post(`${url}/GetTemporaryGlueTableCredentials`, body, {
    'content-type': 'application/json',
    ...(auth && { authorization: auth }),
  });

const redshift = (url: string, body: string, auth = authorization('redshift-serverless')) =>
  post(`${url}/`, body, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'RedshiftServerless.GetCredentials',
    ...(auth && { authorization: auth }),
  });

function assertAwsError(answer: RawAnswer, status: number, name: string, message?: RegExp) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.headers.get('x-amzn-errortype'), name);
  assert.equal(answer.json.__type, name);
  assert.equal(typeof answer.json.message, 'string');
  if (message) assert.match(String(answer.json.message), message);
}

describe('emulator wire protocol', () => {
  const emulator = useEmulator();
  const tableBody = JSON.stringify({
    TableArn: TABLE_ARN,
    SupportedPermissionTypes: ['COLUMN_PERMISSION'],
  });

  it('answers with the protocol content types and epoch-second timestamps', async () => {
    const lf = await lakeFormation(emulator.current.url, tableBody);
    assert.equal(lf.status, 200);
    assert.equal(lf.headers.get('content-type'), 'application/json');
    assert.equal(typeof lf.json.Expiration, 'number');
    assert.ok(Math.abs((lf.json.Expiration as number) - (Date.now() / 1000 + 3600)) < 5);
    assert.match(lf.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);

    const rs = await redshift(emulator.current.url, JSON.stringify({ workgroupName: 'analytics' }));
    assert.equal(rs.status, 200);
    assert.equal(rs.headers.get('content-type'), 'application/x-amz-json-1.1');
    assert.equal(typeof rs.json.expiration, 'number');
    assert.equal(typeof rs.json.nextRefreshTime, 'number');
  });

  it('refuses unsigned requests as each service does', async () => {
    assertAwsError(
      await lakeFormation(emulator.current.url, tableBody, ''),
      403,
      'MissingAuthenticationTokenException',
    );
    assertAwsError(
      await redshift(emulator.current.url, '{}', ''),
      400,
      'MissingAuthenticationTokenException',
    );
  });

  it('refuses a malformed Authorization header and a signature scoped to another service', async () => {
    assertAwsError(
      await lakeFormation(emulator.current.url, tableBody, 'AWS4-HMAC-SHA256 Credential=x'),
      400,
      'IncompleteSignatureException',
    );
    assertAwsError(
      await lakeFormation(emulator.current.url, tableBody, authorization('redshift-serverless')),
      403,
      'InvalidSignatureException',
      /lakeformation/,
    );
  });

  it('answers malformed bodies with the service error, never a crash', async () => {
    assertAwsError(
      await lakeFormation(emulator.current.url, '{"TableArn":'),
      400,
      'InvalidInputException',
      /JSON/,
    );
    assertAwsError(
      await lakeFormation(emulator.current.url, '[1,2]'),
      400,
      'InvalidInputException',
      /object/,
    );
    assertAwsError(
      await lakeFormation(
        emulator.current.url,
        JSON.stringify({ TableArn: TABLE_ARN, DurationSeconds: '900' }),
      ),
      400,
      'InvalidInputException',
      /DurationSeconds must be an integer/,
    );
    assertAwsError(
      await lakeFormation(emulator.current.url, '{}'),
      400,
      'InvalidInputException',
      /TableArn is required/,
    );
    assertAwsError(await redshift(emulator.current.url, 'not json'), 400, 'SerializationException');
    assertAwsError(
      await redshift(emulator.current.url, JSON.stringify({ workgroupName: ['a'] })),
      400,
      'SerializationException',
      /workgroupName must be a string/,
    );
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const huge = JSON.stringify({ TableArn: TABLE_ARN, S3Path: 'x'.repeat(1024 * 1024) });
    assertAwsError(
      await lakeFormation(emulator.current.url, huge),
      413,
      'RequestEntityTooLargeException',
    );
  });

  it('answers UnknownOperationException for paths, methods and targets it does not serve', async () => {
    const url = emulator.current.url;
    const auth = authorization('lakeformation');
    assertAwsError(
      await post(`${url}/GetDataLakeSettings`, '{}', { authorization: auth }),
      404,
      'UnknownOperationException',
    );
    const get = await fetch(`${url}/GetTemporaryGlueTableCredentials`);
    assert.equal(get.status, 404);
    assert.equal(get.headers.get('x-amzn-errortype'), 'UnknownOperationException');
    assertAwsError(
      await post(`${url}/`, '{}', {
        'x-amz-target': 'RedshiftServerless.ListWorkgroups',
        authorization: auth,
      }),
      404,
      'UnknownOperationException',
    );
    for (const name of [
      'toString',
      '__proto__',
      'constructor',
      'GetTemporaryGlueTableCredentials',
    ]) {
      assertAwsError(
        await post(`${url}/`, '{}', {
          'x-amz-target': `RedshiftServerless.${name}`,
          authorization: authorization('redshift-serverless'),
        }),
        404,
        'UnknownOperationException',
      );
    }
    for (const path of ['/toString', '/__proto__', '/GetCredentials']) {
      assertAwsError(
        await post(`${url}${path}`, '{}', { authorization: auth }),
        404,
        'UnknownOperationException',
      );
    }
    assert.equal(((await emulator.control('calls')).body as { total: number }).total, 0);
  });

  describe('control API: what a web page on the same host cannot do', () => {
    /** One request over node:http, which (unlike fetch) lets the Host header be chosen. */
    const raw = (
      url: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: string,
    ) =>
      new Promise<{ status: number; json: { error?: { code: string; message: string } } }>(
        (resolve, reject) => {
          const req = request(`${url}${path}`, { method, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                  error?: { code: string; message: string };
                },
              }),
            );
          });
          req.on('error', reject);
          req.end(body);
        },
      );
    const FAULT = JSON.stringify({ operation: '*', mode: 'error' });
    const faults = async (url: string) =>
      ((await (await fetch(`${url}/_emulator/faults`)).json()) as { faults: unknown[] }).faults;

    it('refuses a cross-site form or fetch body (text/plain, form, none): 415, and installs nothing', async () => {
      const { url } = emulator.current;
      const port = new URL(url).port;
      for (const type of [
        'text/plain',
        'text/plain;charset=UTF-8',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        undefined,
      ]) {
        const answer = await raw(
          url,
          'POST',
          '/_emulator/faults',
          {
            host: `127.0.0.1:${port}`,
            ...(type !== undefined && { 'content-type': type }),
          },
          FAULT,
        );
        assert.equal(answer.status, 415, String(type));
        assert.equal(answer.json.error?.code, 'UnsupportedMediaType');
        assert.match(answer.json.error?.message ?? '', /^Content-Type: /);
      }
      assert.deepEqual(await faults(url), []);
      const json = await raw(
        url,
        'POST',
        '/_emulator/faults',
        {
          host: `localhost:${port}`,
          'content-type': 'Application/JSON; charset=utf-8',
        },
        FAULT,
      );
      assert.equal(json.status, 200);
      assert.equal((await faults(url)).length, 1);
    });

    it('refuses a Host that is not a loopback name, or not one host[:port] (DNS rebinding): 403', async () => {
      const { url } = emulator.current;
      for (const host of [
        'evil.example',
        'evil.example:80',
        'localhost.evil.example',
        'localhost:80@evil.example',
        '[::1]evil.example',
        '127.0.0.1:9911:evil',
        '127.0.0.1:99999',
      ]) {
        for (const [method, body] of [
          ['GET', undefined],
          ['POST', FAULT],
        ] as const) {
          const answer = await raw(
            url,
            method,
            method === 'GET' ? '/_emulator/calls' : '/_emulator/faults',
            {
              host,
              'content-type': 'application/json',
            },
            body,
          );
          assert.equal(answer.status, 403, `${method} with Host ${host}`);
          assert.equal(answer.json.error?.code, 'Forbidden');
        }
      }
      assert.deepEqual(await faults(url), []);
      for (const host of ['localhost', '127.0.0.1:1', '127.1.2.3', '[::1]:80', 'LOCALHOST']) {
        assert.equal((await raw(url, 'GET', '/_emulator/calls', { host })).status, 200, host);
      }
    });
  });

  describe('control API validation', () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      [
        'an unknown fault field',
        'faults',
        { operation: '*', mode: 'error', oops: 1 },
        400,
        /^oops: unknown field/,
      ],
      [
        'an unknown operation',
        'faults',
        { operation: 'ListTables', mode: 'error' },
        400,
        /^operation:/,
      ],
      ['an unknown mode', 'faults', { operation: '*', mode: 'explode' }, 400, /^mode:/],
      [
        'latency without latencyMs',
        'faults',
        { operation: '*', mode: 'latency' },
        400,
        /^latencyMs: required/,
      ],
      ['a negative count', 'faults', { operation: '*', mode: 'error', count: 0 }, 400, /^count:/],
      [
        'a status outside 400-599',
        'faults',
        { operation: '*', mode: 'error', status: 200 },
        400,
        /^status:/,
      ],
      [
        'a malformed errorType',
        'faults',
        { operation: '*', mode: 'error', errorType: 'no spaces' },
        400,
        /^errorType:/,
      ],
      ['an unknown config field', 'config', { lifetime: 3 }, 400, /^lifetime: unknown field/],
      [
        'a zero lifetime',
        'config',
        { credentialLifetimeSeconds: 0 },
        400,
        /^credentialLifetimeSeconds:/,
      ],
      ['a fraction above 1', 'config', { nextRefreshFraction: 1.5 }, 400, /^nextRefreshFraction:/],
      ['a deny list of numbers', 'config', { deny: [1] }, 400, /^deny:/],
      ['a body that is not an object', 'config', [1], 400, /^body:/],
    ];
    for (const [what, path, body, status, message] of cases) {
      it(`refuses ${what}`, async () => {
        const answer = await emulator.control(path, body);
        assert.equal(answer.status, status);
        const error = (answer.body as { error: { code: string; message: string } }).error;
        assert.equal(error.code, 'InvalidRequest');
        assert.match(error.message, message);
      });
    }

    it('refuses bad JSON, wrong methods and unknown endpoints', async () => {
      const url = emulator.current.url;
      const badJson = await fetch(`${url}/_emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      });
      assert.equal(badJson.status, 400);
      assert.equal(
        ((await badJson.json()) as { error: { message: string } }).error.message,
        'body: not valid JSON',
      );
      const json = { 'content-type': 'application/json' };
      assert.equal(
        (await fetch(`${url}/_emulator/calls`, { method: 'POST', headers: json })).status,
        405,
      );
      assert.equal((await fetch(`${url}/_emulator/reset`)).status, 405);
      assert.equal((await fetch(`${url}/_emulator/nothing`)).status, 404);
      assert.equal((await fetch(`${url}/_emulator/credentials/`)).status, 404);
    });

    it('leaves settings unchanged by a refused update and merges accepted ones', async () => {
      await emulator.control('config', { deny: ['a*'] });
      await emulator.control('config', { deny: ['b*'], credentialLifetimeSeconds: -1 });
      await emulator.control('config', { missing: ['m'] });
      assert.deepEqual((await emulator.control('config')).body, {
        credentialLifetimeSeconds: null,
        nextRefreshFraction: 0.75,
        deny: ['a*'],
        missing: ['m'],
      });
    });
  });

  it('answers every malformed request with an AWS error in the 4xx range and keeps serving', async function () {
    this.timeout(60_000);
    const url = emulator.current.url;
    const jsonValue = fc.jsonValue({ maxDepth: 3 });
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      jsonValue.map((value) => JSON.stringify(value)),
      fc
        .record(
          {
            TableArn: fc.oneof(fc.constant(TABLE_ARN), fc.string(), jsonValue),
            Permissions: fc.oneof(fc.array(fc.constantFrom('SELECT', 'ALL', 'READ')), jsonValue),
            SupportedPermissionTypes: fc.oneof(fc.constant(['COLUMN_PERMISSION']), jsonValue),
            DurationSeconds: fc.oneof(fc.integer(), fc.double(), jsonValue),
            Partition: fc.oneof(fc.record({ Values: fc.array(fc.string()) }), jsonValue),
            workgroupName: fc.oneof(fc.string(), jsonValue),
            customDomainName: fc.oneof(fc.domain(), fc.string()),
            dbName: fc.oneof(fc.string(), jsonValue),
            durationSeconds: fc.oneof(fc.integer(), jsonValue),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    const target = fc.constantFrom(
      '/GetTemporaryGlueTableCredentials',
      '/GetTemporaryGluePartitionCredentials',
      'redshift',
    );
    await fc.assert(
      fc.asyncProperty(target, body, async (where, text) => {
        const answer =
          where === 'redshift'
            ? await redshift(url, text)
            : await post(`${url}${where}`, text, {
                'content-type': 'application/json',
                authorization: authorization('lakeformation'),
              });
        if (answer.status === 200) return;
        assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
        assert.equal(answer.json.__type, answer.headers.get('x-amzn-errortype'));
      }),
      { numRuns: 300 },
    );
    const alive = await lakeFormation(url, tableBody);
    assert.equal(alive.status, 200);
  });
});

describe('emulator signature verification (started with access keys)', () => {
  const clock = new ManualClock(Date.now());
  const emulator = useEmulator({
    clock,
    accessKeys: new Map([['AKIDVERIFIED', 'verified-secret']]),
  });
  const table = new GetTemporaryGlueTableCredentialsCommand({
    TableArn: TABLE_ARN,
    SupportedPermissionTypes: ['COLUMN_PERMISSION'],
  });

  it('accepts a request signed with a configured key', async () => {
    const client = emulator.lakeFormation({
      credentials: { accessKeyId: 'AKIDVERIFIED', secretAccessKey: 'verified-secret' },
    });
    const out = await client.send(table);
    assert.match(out.AccessKeyId ?? '', /^ASIA/);
  });

  it('refuses a wrong secret with InvalidSignatureException', async () => {
    const client = emulator.lakeFormation({
      credentials: { accessKeyId: 'AKIDVERIFIED', secretAccessKey: 'wrong-secret' },
    });
    await assert.rejects(client.send(table), { name: 'InvalidSignatureException' });
  });

  it('refuses an unknown key with UnrecognizedClientException', async () => {
    const client = emulator.redshift({
      credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'verified-secret' },
    });
    await assert.rejects(client.send(new GetCredentialsCommand({ workgroupName: 'analytics' })), {
      name: 'UnrecognizedClientException',
    });
  });

  it('accepts its own issued credentials until they expire, counting their signed calls', async () => {
    await emulator.control('config', { credentialLifetimeSeconds: 60 });
    const issued = await emulator
      .lakeFormation({
        credentials: { accessKeyId: 'AKIDVERIFIED', secretAccessKey: 'verified-secret' },
      })
      .send(table);
    const asIssued = {
      accessKeyId: issued.AccessKeyId ?? '',
      secretAccessKey: issued.SecretAccessKey ?? '',
      sessionToken: issued.SessionToken ?? '',
    };
    await emulator
      .redshift({ credentials: asIssued })
      .send(new GetCredentialsCommand({ workgroupName: 'analytics' }));
    const record = await emulator.control(`credentials/${issued.AccessKeyId}`);
    assert.equal((record.body as { signedCalls: number }).signedCalls, 1);

    clock.advance(61_000);
    await assert.rejects(
      emulator
        .redshift({ credentials: asIssued })
        .send(new GetCredentialsCommand({ workgroupName: 'analytics' })),
      { name: 'UnrecognizedClientException' },
    );
  });
});
