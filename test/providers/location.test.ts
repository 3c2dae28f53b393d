/**
 * The fourth source, `lakeformation_location` (GetTemporaryDataLocationCredentials), from the
 * request to the answer: the key's canonical form, request parsing and its errors, the
 * allow-list, the configured target, and the provider and daemon through the real SDK client.
 *
 * STAND-IN: the built-in emulator does not serve GetTemporaryDataLocationCredentials yet, so the
 * upstream tests here run against `startStandIn`, a tiny restJson1 handler on 127.0.0.1 that
 * answers POST /GetTemporaryDataLocationCredentials in AWS's wire shape (and errors as
 * `x-amzn-errortype`). Once the emulator has the operation, point these tests at it
 * (`useEmulator` / `useDaemon`) and delete the stand-in.
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheEntry } from '../../src/cache/credential-cache.js';
import { keyFromId, locationKey, sourceOfId } from '../../src/cache/key.js';
import { awsConfig } from '../../src/cli/aws-config.js';
import { checkConfig } from '../../src/cli/client.js';
import { allowList } from '../../src/config/allow-list.js';
import { ConfigError, buildConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/daemon/logger.js';
import { type Daemon, startDaemon } from '../../src/daemon/main.js';
import { Renderings } from '../../src/daemon/http/render.js';
import { ApiError } from '../../src/daemon/http/errors.js';
import {
  type RequestRules,
  locationKeyFromBody,
  locationKeyFromQuery,
  requestRules,
} from '../../src/daemon/http/requests.js';
import { targetKey } from '../../src/daemon/targets.js';
import { type UpstreamClients, createUpstreamClients } from '../../src/providers/clients.js';
import { credentialFromJson, credentialJson } from '../../src/providers/credential-json.js';
import { UpstreamError } from '../../src/providers/errors.js';
import { createLocationCredentialsProvider } from '../../src/providers/lakeformation.js';

const SALES = 's3://lake-123456789012/sales/';
const ORDERS = 's3://lake-123456789012/sales/orders/';
const PLACEHOLDER = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'stand-in-secret-key' };
const TOKEN = 'test-token-0123456789abcdef';

const RULES: RequestRules = requestRules(buildConfig({}));

/** One data-location credential as a provider issues it, and as the route answers it. */
const ISSUED = {
  credentials: {
    accessKeyId: 'ASIA1',
    secretAccessKey: 'secret',
    sessionToken: 'token',
    accessibleDataLocations: [SALES],
    credentialsScope: 'READ',
  },
  expiration: Date.UTC(2026, 10, 23, 7, 14, 29),
};
const ANSWER = {
  AccessKeyId: 'ASIA1',
  SecretAccessKey: 'secret',
  SessionToken: 'token',
  Expiration: '2026-11-23T07:14:29.000Z',
  AccessibleDataLocations: [SALES],
  CredentialsScope: 'READ',
};

const search = (params: Record<string, string | string[]>) => {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of typeof value === 'string' ? [value] : value) query.append(name, item);
  }
  return query;
};

function refused(call: () => unknown, code: string, message: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

// ---- a stand-in for the emulator's GetTemporaryDataLocationCredentials ----

interface StandIn {
  readonly url: string;
  /** The JSON bodies received, in order. */
  readonly received: Record<string, unknown>[];
  /** The next answers' AWS error name (status 400), or undefined to answer credentials. */
  failWith: string | undefined;
  /** Leave `Credentials` out of the next answers. */
  withoutCredentials: boolean;
  close(): Promise<void>;
}

async function startStandIn(): Promise<StandIn> {
  let issued = 0;
  const standIn = {
    received: [] as Record<string, unknown>[],
    failWith: undefined as string | undefined,
    withoutCredentials: false,
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/GetTemporaryDataLocationCredentials') {
        res.writeHead(404, { 'x-amzn-errortype': 'UnknownOperationException' }).end('{}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<
        string,
        unknown
      >;
      standIn.received.push(body);
      if (standIn.failWith !== undefined) {
        res
          .writeHead(400, {
            'content-type': 'application/json',
            'x-amzn-errortype': standIn.failWith,
          })
          .end(JSON.stringify({ Message: 'stand-in refusal' }));
        return;
      }
      issued += 1;
      const duration = typeof body.DurationSeconds === 'number' ? body.DurationSeconds : 3600;
      const answer = {
        ...(!standIn.withoutCredentials && {
          Credentials: {
            AccessKeyId: `ASIASTANDIN${issued}`,
            SecretAccessKey: `stand-in-secret-${issued}`,
            SessionToken: `stand-in-token-${issued}`,
            // restJson1 timestamps are epoch seconds.
            Expiration: Math.floor(Date.now() / 1000) + duration,
          },
        }),
        AccessibleDataLocations: body.DataLocations,
        CredentialsScope: body.CredentialsScope ?? 'READ',
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

// ---- unit: the key, requests, the allow-list, the configuration ----

describe('lakeformation_location: the key', () => {
  const key = (dataLocations: string[], credentialsScope: 'READ' | 'READWRITE' = 'READ') =>
    locationKey({ dataLocations, credentialsScope, durationSeconds: 3600 });

  it('sorts and de-duplicates the locations, so order and repeats share one entry', () => {
    assert.equal(key([SALES, ORDERS, SALES]).id, key([ORDERS, SALES]).id);
    assert.deepEqual(key([ORDERS, SALES, ORDERS]).request.dataLocations, [SALES, ORDERS]);
  });

  it('keeps exact strings: s3://b/p and s3://b/p/ are two keys', () => {
    assert.notEqual(key(['s3://lake/p']).id, key(['s3://lake/p/']).id);
  });

  it('keys the scope and the duration', () => {
    assert.notEqual(key([SALES]).id, key([SALES], 'READWRITE').id);
    assert.notEqual(
      key([SALES]).id,
      locationKey({ dataLocations: [SALES], credentialsScope: 'READ', durationSeconds: 900 }).id,
    );
  });

  it('is read back from its id: source and canonical request', () => {
    const original = key([SALES, ORDERS], 'READWRITE');
    assert.equal(sourceOfId(original.id), 'lakeformation_location');
    const again = keyFromId(original.id);
    assert.equal(again.source, 'lakeformation_location');
    assert.deepEqual(again.request, {
      dataLocations: [SALES, ORDERS],
      credentialsScope: 'READWRITE',
      durationSeconds: 3600,
    });
  });
});

describe('lakeformation_location: requests', () => {
  it('takes repeated dataLocations, defaulting the scope to READ and the duration to the configured one', () => {
    const parsed = locationKeyFromQuery(search({ dataLocations: [ORDERS, SALES] }), RULES);
    assert.deepEqual(parsed.request, {
      dataLocations: [SALES, ORDERS],
      credentialsScope: 'READ',
      durationSeconds: 3600,
    });
    const longer = locationKeyFromQuery(
      search({ dataLocations: SALES, credentialsScope: 'READWRITE', durationSeconds: '43200' }),
      RULES,
    );
    assert.equal(longer.request.credentialsScope, 'READWRITE');
    assert.equal(longer.request.durationSeconds, 43200);
  });

  it('never splits at a comma (an S3 key may hold one), and refuses what looks like a comma list', () => {
    const comma = 's3://lake-123456789012/a,b/';
    assert.deepEqual(
      locationKeyFromQuery(search({ dataLocations: comma }), RULES).request.dataLocations,
      [comma],
    );
    refused(
      () => locationKeyFromQuery(search({ dataLocations: `${SALES},${ORDERS}` }), RULES),
      'InvalidRequest',
      /^dataLocations: repeat the parameter once per location/,
    );
  });

  it('names the field of every refusal', () => {
    refused(
      () => locationKeyFromQuery(search({}), RULES),
      'InvalidRequest',
      /^dataLocations: required$/,
    );
    refused(
      () => locationKeyFromQuery(search({ dataLocations: 'lake/sales' }), RULES),
      'InvalidRequest',
      /^dataLocations: not an S3 URI .*; given "lake\/sales"$/,
    );
    refused(
      () =>
        locationKeyFromQuery(search({ dataLocations: SALES, credentialsScope: 'WRITE' }), RULES),
      'InvalidRequest',
      /^credentialsScope: not a credentials scope \(READ, READWRITE\)/,
    );
    refused(
      () => locationKeyFromQuery(search({ dataLocations: SALES, durationSeconds: '899' }), RULES),
      'InvalidRequest',
      /^durationSeconds: must be a whole number of seconds from 900 to 43200$/,
    );
    refused(
      () => locationKeyFromQuery(search({ dataLocations: SALES, tableArn: 'x' }), RULES),
      'InvalidRequest',
      /^"tableArn": unknown parameter; this path takes dataLocations, credentialsScope, durationSeconds, refreshNow$/,
    );
  });

  it('takes the AWS request shape in a body, AuditContext accepted and never keyed', () => {
    const fromBody = locationKeyFromBody(
      {
        DataLocations: [SALES, ORDERS],
        CredentialsScope: 'READWRITE',
        DurationSeconds: 1800,
        AuditContext: { AdditionalAuditContext: 'job-42' },
      },
      RULES,
    );
    assert.equal(
      fromBody.id,
      locationKey({
        dataLocations: [ORDERS, SALES],
        credentialsScope: 'READWRITE',
        durationSeconds: 1800,
      }).id,
    );
    refused(
      () => locationKeyFromBody({ DataLocations: SALES }, RULES),
      'InvalidRequest',
      /^DataLocations: must be a list of strings$/,
    );
    refused(
      () => locationKeyFromBody({ DataLocations: [SALES], TableArn: 'x' }, RULES),
      'InvalidRequest',
      /^TableArn: unknown field/,
    );
    refused(() => locationKeyFromBody({}, RULES), 'InvalidRequest', /^DataLocations: required$/);
  });
});

describe('lakeformation_location: allow.locations', () => {
  it('admits a location matching one pattern, refuses the others naming the location', () => {
    const rules = requestRules(
      buildConfig({ allow: { locations: ['s3://lake-123456789012/sales/*'] } }),
    );
    assert.ok(locationKeyFromQuery(search({ dataLocations: [SALES, ORDERS] }), rules));
    refused(
      () =>
        locationKeyFromQuery(
          search({ dataLocations: [SALES, 's3://lake-123456789012/hr/'] }),
          rules,
        ),
      'Forbidden',
      /^dataLocations: not in the allow-list \(allow\.locations\); given "s3:\/\/lake-123456789012\/hr\/"$/,
    );
    refused(
      () => locationKeyFromBody({ DataLocations: ['s3://lake-123456789012/sales'] }, rules),
      'Forbidden',
      /^DataLocations: not in the allow-list/,
    );
  });

  it('with no allow section admits every location; with tables restricted and no locations list, none', () => {
    const all = allowList(undefined);
    assert.equal(all.denies({ kind: 'location', uri: SALES }), undefined);
    const tablesOnly = allowList({ tables: ['arn:aws:glue:*'] });
    assert.deepEqual(tablesOnly.denies({ kind: 'location', uri: SALES }), {
      list: 'locations',
      field: 'dataLocations',
    });
    const both = allowList({ tables: ['arn:aws:glue:*'], locations: [`${SALES}*`] });
    assert.equal(both.denies({ kind: 'location', uri: ORDERS }), undefined);
  });
});

describe('lakeformation_location: the configured target', () => {
  const target = {
    name: 'sales-files',
    source: 'lakeformation_location',
    dataLocations: [SALES, ORDERS],
  };

  it('defaults the scope to READ and the duration to upstream.durationSeconds, keyed like a request', () => {
    const config = buildConfig({ upstream: { durationSeconds: 7200 }, targets: [target] });
    const [parsed] = config.targets;
    assert.ok(parsed?.source === 'lakeformation_location');
    assert.equal(parsed.credentialsScope, 'READ');
    assert.equal(
      targetKey(parsed, config).id,
      locationKeyFromQuery(search({ dataLocations: [ORDERS, SALES] }), requestRules(config)).id,
    );
  });

  it('names the field and the rule of a bad target, and a location outside allow.locations by index', () => {
    assert.throws(
      () =>
        buildConfig({
          targets: [{ ...target, credentialsScope: 'WRITE', durationSeconds: 50000 }],
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.deepEqual(error.problems, [
          'targets[0].credentialsScope: not a credentials scope (READ, READWRITE)',
          'targets[0].durationSeconds: must be a whole number of seconds from 900 to 43200',
        ]);
        return true;
      },
    );
    assert.throws(
      () =>
        buildConfig({
          allow: { locations: [`${SALES}*`] },
          targets: [{ ...target, dataLocations: [SALES, 's3://lake-123456789012/hr/'] }],
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.deepEqual(error.problems, ['targets[0].dataLocations[1]: not in allow.locations']);
        return true;
      },
    );
  });

  it('is a Lake Formation profile in aws-config and a container-credentials line in check-config', () => {
    const config = buildConfig({ upstream: { region: 'eu-west-1' }, targets: [target] });
    assert.match(awsConfig(config, { configFile: undefined }), /^\[profile sales-files\]$/m);
    const lines = checkConfig({ config, region: undefined });
    assert.ok(
      lines.includes(
        `  sales-files: lakeformation_location dataLocations=${SALES},${ORDERS} credentialsScope=READ (3600 s) → GET /v1/targets/sales-files (container credentials)`,
      ),
      lines.join('\n'),
    );
  });

  it("keeps the answer as one JSON text in AWS's shape, and reads it back", () => {
    const issued = ISSUED;
    const text = credentialJson('lakeformation_location', issued);
    assert.equal(text, JSON.stringify(ANSWER));
    assert.deepEqual(credentialFromJson('lakeformation_location', text ?? ''), issued.credentials);
  });
});

describe('lakeformation_location: rendering an entry kept as an object (a fake provider)', () => {
  it('answers the location shape, and the container shape for a target', () => {
    const entry: CacheEntry = {
      key: locationKey({ dataLocations: [SALES], credentialsScope: 'READ', durationSeconds: 900 }),
      issued: ISSUED,
      storedAt: 0,
      generation: 0,
    };
    const renderings = new Renderings();
    assert.deepEqual(
      JSON.parse(String(renderings.reply(entry, 'lakeformation', 'miss').body)),
      ANSWER,
    );
    assert.deepEqual(JSON.parse(String(renderings.reply(entry, 'container', 'miss').body)), {
      AccessKeyId: 'ASIA1',
      SecretAccessKey: 'secret',
      Token: 'token',
      Expiration: '2026-11-23T07:14:29.000Z',
    });
  });
});

// ---- upstream: the provider and the daemon, against the stand-in ----

describe('lakeformation_location: the provider (against the stand-in)', () => {
  let standIn: StandIn;
  let clients: UpstreamClients;
  beforeEach(async () => {
    standIn = await startStandIn();
    clients = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: standIn.url,
      credentials: PLACEHOLDER,
      maxAttempts: 1,
    });
  });
  afterEach(async () => {
    clients.destroy();
    await standIn.close();
  });

  it('sends DataLocations, CredentialsScope, DurationSeconds and the audit context; answers the credential with what AWS said', async () => {
    const provider = createLocationCredentialsProvider(clients.lakeFormation, {
      auditContext: 'credcache-test',
    });
    assert.equal(provider.source, 'lakeformation_location');
    const issued = await provider.fetch({
      dataLocations: [ORDERS, SALES],
      credentialsScope: 'READWRITE',
      durationSeconds: 1800,
    });
    assert.deepEqual(standIn.received, [
      {
        DataLocations: [ORDERS, SALES],
        CredentialsScope: 'READWRITE',
        DurationSeconds: 1800,
        AuditContext: { AdditionalAuditContext: 'credcache-test' },
      },
    ]);
    assert.deepEqual(issued.credentials, {
      accessKeyId: 'ASIASTANDIN1',
      secretAccessKey: 'stand-in-secret-1',
      sessionToken: 'stand-in-token-1',
      accessibleDataLocations: [ORDERS, SALES],
      credentialsScope: 'READWRITE',
    });
    assert.ok(Math.abs(issued.expiration - (Date.now() + 1_800_000)) < 5_000);
  });

  it('classifies AWS errors like the other calls, and refuses an answer without Credentials', async () => {
    const provider = createLocationCredentialsProvider(clients.lakeFormation);
    const request = {
      dataLocations: [SALES],
      credentialsScope: 'READ' as const,
      durationSeconds: 900,
    };
    standIn.failWith = 'AccessDeniedException';
    const denied = await provider.fetch(request).then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error,
    );
    assert.ok(denied instanceof UpstreamError, String(denied));
    assert.equal(denied.kind, 'AccessDenied');
    assert.equal(denied.evict, true);
    standIn.failWith = undefined;
    standIn.withoutCredentials = true;
    const empty = await provider.fetch(request).then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error,
    );
    assert.ok(empty instanceof UpstreamError, String(empty));
    assert.equal(empty.awsName, 'InvalidResponse');
  });
});

describe('lakeformation_location: the daemon (against the stand-in)', function () {
  this.timeout(15_000);
  let standIn: StandIn;
  let daemon: Daemon;

  beforeEach(async () => {
    standIn = await startStandIn();
    daemon = await startDaemon({
      config: buildConfig({
        listen: '127.0.0.1:0',
        auth: { token: TOKEN },
        upstream: { region: 'us-east-1', maxAttempts: 1 },
        allow: { locations: ['s3://lake-123456789012/*'] },
        targets: [
          {
            name: 'sales-files',
            source: 'lakeformation_location',
            dataLocations: [SALES],
            credentialsScope: 'READWRITE',
          },
        ],
        log: { level: 'silent' },
      }),
      upstream: {
        kind: 'stand-in',
        url: standIn.url,
        region: 'us-east-1',
        credentials: PLACEHOLDER,
      },
      logger: createLogger('silent'),
      env: {},
    });
  });
  afterEach(async () => {
    await daemon.shutdown();
    await standIn.close();
  });

  const ask = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${daemon.url}${path}`, {
      ...init,
      headers: { authorization: TOKEN, ...(init.headers as Record<string, string>) },
    });
    return {
      status: response.status,
      result: response.headers.get('x-credcache-result'),
      cacheControl: response.headers.get('cache-control'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it('GET answers the Lake Formation shape with AccessibleDataLocations and CredentialsScope, then from the cache', async () => {
    const path = `/v1/lakeformation/location-credentials?dataLocations=${encodeURIComponent(ORDERS)}&dataLocations=${encodeURIComponent(SALES)}`;
    const first = await ask(path);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.result, 'miss');
    assert.equal(first.cacheControl, 'no-store');
    assert.deepEqual(Object.keys(first.body), [
      'AccessKeyId',
      'SecretAccessKey',
      'SessionToken',
      'Expiration',
      'AccessibleDataLocations',
      'CredentialsScope',
    ]);
    assert.match(String(first.body.Expiration), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(first.body.AccessibleDataLocations, [SALES, ORDERS]);
    assert.equal(first.body.CredentialsScope, 'READ');
    // The same locations in another order, by POST in the AWS shape: the same entry.
    const again = await ask('/v1/lakeformation/location-credentials', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ DataLocations: [SALES, ORDERS, SALES], CredentialsScope: 'READ' }),
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.result, 'hit');
    assert.equal(again.body.AccessKeyId, first.body.AccessKeyId);
    // The target's load, then this one.
    assert.equal(standIn.received.length, 2);
  });

  it('refuses a location outside allow.locations with 403 naming the field, before any upstream call', async () => {
    const calls = standIn.received.length;
    const answer = await ask(
      `/v1/lakeformation/location-credentials?dataLocations=${encodeURIComponent('s3://other-bucket/x/')}`,
    );
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body, {
      error: {
        code: 'Forbidden',
        message:
          'dataLocations: not in the allow-list (allow.locations); given "s3://other-bucket/x/"',
        retryable: false,
      },
    });
    assert.equal(standIn.received.length, calls);
  });

  it('serves the target as container credentials, and counts it under source="lakeformation_location"', async () => {
    const target = await ask('/v1/targets/sales-files');
    assert.equal(target.status, 200, JSON.stringify(target.body));
    assert.deepEqual(Object.keys(target.body), [
      'AccessKeyId',
      'SecretAccessKey',
      'Token',
      'Expiration',
    ]);
    assert.deepEqual(standIn.received[0], {
      DataLocations: [SALES],
      CredentialsScope: 'READWRITE',
      DurationSeconds: 3600,
      AuditContext: { AdditionalAuditContext: 'credcache' },
    });
    const status = await ask('/v1/status');
    assert.deepEqual((status.body.cache as { bySource: unknown }).bySource, {
      lakeformation_table: 0,
      lakeformation_partition: 0,
      redshift_serverless: 0,
      lakeformation_location: 1,
    });
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    assert.match(metrics, /^credcache_cache_entries\{source="lakeformation_location"\} 1$/m);
    assert.match(
      metrics,
      /^credcache_upstream_requests_total\{source="lakeformation_location",outcome="success"\} 1$/m,
    );
    assert.match(
      metrics,
      /^credcache_http_requests_total\{route="\/v1\/targets\/:name",code="200"\} 1$/m,
    );
  });

  it('maps an upstream refusal like the other routes (403 UpstreamAccessDenied)', async () => {
    standIn.failWith = 'AccessDeniedException';
    const answer = await ask(
      `/v1/lakeformation/location-credentials?dataLocations=${encodeURIComponent(ORDERS)}&durationSeconds=900`,
    );
    assert.equal(answer.status, 403);
    assert.equal((answer.body.error as { code: string }).code, 'UpstreamAccessDenied');
  });
});
