/**
 * The fourth source, `lakeformation_location` (GetTemporaryDataLocationCredentials), from the
 * request to the answer: the key's canonical form, request parsing and its errors, the
 * allow-list, the configured target, and the provider and daemon through the real SDK client
 * against the built-in emulator over loopback HTTP (`useEmulator`, `useDaemon`). What was sent
 * is read back from the emulator: the scope and audit context it remembered for the credential
 * it issued, and its call counts.
 *
 * The locations are the emulator's data-bucket layout (docs/emulator.md): SALES is the location
 * `vendedS3Path` gives table lake/sales, ORDERS a folder under it; the emulator refuses any
 * location that lies under no table's location.
 *
 * One stand-in handler remains, `answerWithoutCredentials`: an AWS answer that leaves out
 * `Credentials` is something the emulator (rightly) never sends, so that one case is served by
 * a few lines of restJson1 on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheEntry } from '../../src/cache/credential-cache.js';
import { keyFromId, locationKey, sourceOfId } from '../../src/cache/key.js';
import { awsConfig } from '../../src/cli/aws-config.js';
import { checkConfig } from '../../src/cli/client.js';
import { allowList } from '../../src/config/allow-list.js';
import { ConfigError, buildConfig } from '../../src/config/config.js';
import { Renderings } from '../../src/daemon/http/render.js';
import { ApiError } from '../../src/daemon/http/errors.js';
import {
  type RequestRules,
  locationKeyFromBody,
  locationKeyFromQuery,
  requestRules,
} from '../../src/daemon/http/requests.js';
import { targetKey } from '../../src/daemon/targets.js';
import { vendedS3Path } from '../../src/emulator/locations.js';
import { type UpstreamClients, createUpstreamClients } from '../../src/providers/clients.js';
import { credentialFromJson, credentialJson } from '../../src/providers/credential-json.js';
import { UpstreamError } from '../../src/providers/errors.js';
import { createLocationCredentialsProvider } from '../../src/providers/lakeformation.js';
import { TOKEN, useDaemon } from '../support/daemon.js';
import { PLACEHOLDER_CREDENTIALS, useEmulator } from '../support/emulator.js';

/** The emulator's data bucket of account 123456789012 in us-east-1. */
const BUCKET = 's3://emulator-123456789012-us-east-1';
const SALES_TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/lake/sales';
/** Table lake/sales's location, as `vendedS3Path` gives it (checked below). */
const SALES = `${BUCKET}/lake/sales/`;
const ORDERS = `${SALES}orders/`;
/** Another table's location in the same bucket: outside `${SALES}*`. */
const HR = `${BUCKET}/lake/hr/`;

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

// ---- unit: the key, requests, the allow-list, the configuration ----

describe('lakeformation_location: the key', () => {
  const key = (dataLocations: string[], credentialsScope: 'READ' | 'READWRITE' = 'READ') =>
    locationKey({ dataLocations, credentialsScope, durationSeconds: 3600 });

  it('sorts and de-duplicates the locations, so order and repeats share one entry', () => {
    assert.equal(key([SALES, ORDERS, SALES]).id, key([ORDERS, SALES]).id);
    assert.deepEqual(key([ORDERS, SALES, ORDERS]).request.dataLocations, [SALES, ORDERS]);
  });

  it('keeps exact strings: s3://b/p and s3://b/p/ are two keys', () => {
    assert.notEqual(key([SALES.slice(0, -1)]).id, key([SALES]).id);
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
    const comma = `${SALES}a,b/`;
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
    const rules = requestRules(buildConfig({ allow: { locations: [`${SALES}*`] } }));
    assert.ok(locationKeyFromQuery(search({ dataLocations: [SALES, ORDERS] }), rules));
    refused(
      () => locationKeyFromQuery(search({ dataLocations: [SALES, HR] }), rules),
      'Forbidden',
      /^dataLocations: not in the allow-list \(allow\.locations\); given "s3:\/\/emulator-123456789012-us-east-1\/lake\/hr\/"$/,
    );
    refused(
      () => locationKeyFromBody({ DataLocations: [SALES.slice(0, -1)] }, rules),
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
          targets: [{ ...target, dataLocations: [SALES, HR] }],
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

// ---- upstream: the provider and the daemon, against the built-in emulator ----

/** What the emulator remembers of a credential it issued (`GET /_emulator/credentials/{id}`). */
interface Remembered {
  operation: string;
  scope: Record<string, unknown>;
  auditContext: string | null;
  expiration: string;
}

const LOCATION_CALLS = 'GetTemporaryDataLocationCredentials';

/** The emulator's count of GetTemporaryDataLocationCredentials calls (`GET /_emulator/calls`). */
function locationCalls(answer: { status: number; body: unknown }): number {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const { byOperation } = answer.body as { byOperation: Record<string, number> };
  return byOperation[LOCATION_CALLS] ?? assert.fail(`no count of ${LOCATION_CALLS}`);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a refusal'),
    (error: unknown) => error,
  );
}

describe('lakeformation_location: the provider (against the emulator)', () => {
  const emulator = useEmulator();
  let clients: UpstreamClients;
  beforeEach(() => {
    clients = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: emulator.current.url,
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterEach(() => clients.destroy());

  const calls = async () => locationCalls(await emulator.control('calls'));

  it('uses locations the emulator accepts: SALES is the location of table lake/sales', () => {
    assert.deepEqual(vendedS3Path(SALES_TABLE_ARN), [SALES]);
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
    assert.equal(await calls(), 1);
    // What the emulator received, as it remembers the credential it issued for it.
    const { accessKeyId } = issued.credentials;
    const described = await emulator.control(`credentials/${encodeURIComponent(accessKeyId)}`);
    assert.equal(described.status, 200, JSON.stringify(described.body));
    const remembered = described.body as Remembered;
    assert.equal(remembered.operation, LOCATION_CALLS);
    assert.deepEqual(remembered.scope, {
      DataLocations: [ORDERS, SALES],
      CredentialsScope: 'READWRITE',
      DurationSeconds: 1800,
    });
    assert.equal(remembered.auditContext, 'credcache-test');
    // The answer is exactly the credential the emulator issued, with its locations and scope.
    const secrets = emulator.current.state.lookup(accessKeyId) ?? assert.fail('not issued');
    assert.match(accessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.deepEqual(issued.credentials, {
      accessKeyId,
      secretAccessKey: secrets.secretAccessKey,
      sessionToken: secrets.sessionToken,
      accessibleDataLocations: [ORDERS, SALES],
      credentialsScope: 'READWRITE',
    });
    assert.equal(new Date(issued.expiration).toISOString(), remembered.expiration);
    assert.ok(Math.abs(issued.expiration - (Date.now() + 1_800_000)) < 5_000);
  });

  it('classifies AWS errors like the other calls: a fault, and a location under no table', async () => {
    const provider = createLocationCredentialsProvider(clients.lakeFormation);
    const request = {
      dataLocations: [SALES],
      credentialsScope: 'READ' as const,
      durationSeconds: 900,
    };
    const fault = await emulator.control('faults', {
      operation: LOCATION_CALLS,
      mode: 'error',
      errorType: 'AccessDeniedException',
    });
    assert.equal(fault.status, 200, JSON.stringify(fault.body));
    const denied = await rejection(provider.fetch(request));
    assert.ok(denied instanceof UpstreamError, String(denied));
    assert.equal(denied.kind, 'AccessDenied');
    assert.equal(denied.awsName, 'AccessDeniedException');
    assert.equal(denied.httpStatus, 403);
    assert.equal(denied.evict, true);
    await emulator.control('faults', { operation: LOCATION_CALLS, mode: 'ok' });
    // The emulator's own refusal: a bucket that is no data bucket lies under no table.
    const outside = await rejection(
      provider.fetch({ ...request, dataLocations: ['s3://other-bucket/x/'] }),
    );
    assert.ok(outside instanceof UpstreamError, String(outside));
    assert.equal(outside.kind, 'AccessDenied');
    assert.match(outside.message, /it lies under no table's location/);
    assert.equal(await calls(), 2);
  });
});

describe('lakeformation_location: an answer without Credentials (the one stand-in)', () => {
  // The only hand-made upstream in this file: AWS's model makes `Credentials` optional, so an
  // answer without it must be refused as InvalidResponse, but the emulator always sends it.
  // This handler answers POST /GetTemporaryDataLocationCredentials with status 200 and
  // everything but `Credentials`.
  let url = '';
  const received: string[] = [];
  const answerWithoutCredentials = createServer((req, res) => {
    req.resume().on('end', () => {
      received.push(`${req.method} ${req.url}`);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ AccessibleDataLocations: [SALES], CredentialsScope: 'READ' }));
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => answerWithoutCredentials.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(answerWithoutCredentials.address() as AddressInfo).port}`;
  });
  after(async () => {
    answerWithoutCredentials.closeAllConnections();
    await new Promise<void>((resolve) => answerWithoutCredentials.close(() => resolve()));
  });

  it('refuses it as InvalidResponse', async () => {
    const clients = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: url,
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const provider = createLocationCredentialsProvider(clients.lakeFormation);
      const empty = await rejection(
        provider.fetch({ dataLocations: [SALES], credentialsScope: 'READ', durationSeconds: 900 }),
      );
      assert.ok(empty instanceof UpstreamError, String(empty));
      assert.equal(empty.awsName, 'InvalidResponse');
      assert.deepEqual(received, ['POST /GetTemporaryDataLocationCredentials']);
    } finally {
      clients.destroy();
    }
  });
});

describe('lakeformation_location: the daemon (against the emulator)', function () {
  this.timeout(15_000);
  const daemon = useDaemon({
    upstream: { region: 'us-east-1', maxAttempts: 1 },
    allow: { locations: [`${BUCKET}/*`] },
    targets: [
      {
        name: 'sales-files',
        source: 'lakeformation_location',
        dataLocations: [SALES],
        credentialsScope: 'READWRITE',
      },
    ],
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
  const calls = async () => locationCalls(await daemon.control('calls'));
  const remembered = async (accessKeyId: unknown) => {
    const described = await daemon.control(
      `credentials/${encodeURIComponent(String(accessKeyId))}`,
    );
    assert.equal(described.status, 200, JSON.stringify(described.body));
    return described.body as Remembered;
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
    // The emulator issued it for the canonical request, with the configured audit context.
    const issued = await remembered(first.body.AccessKeyId);
    assert.deepEqual(issued.scope, {
      DataLocations: [SALES, ORDERS],
      CredentialsScope: 'READ',
      DurationSeconds: 3600,
    });
    assert.equal(issued.auditContext, 'credcache');
    assert.equal(first.body.Expiration, issued.expiration);
    const secrets =
      daemon.current.emulator.state.lookup(String(first.body.AccessKeyId)) ??
      assert.fail('not issued');
    assert.equal(first.body.SecretAccessKey, secrets.secretAccessKey);
    assert.equal(first.body.SessionToken, secrets.sessionToken);
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
    assert.equal(await calls(), 2);
  });

  it('refuses a location outside allow.locations with 403 naming the field, before any upstream call', async () => {
    // A location the emulator would serve (another region's data bucket), so only the
    // allow-list stands between it and an upstream call.
    const elsewhere = 's3://emulator-123456789012-eu-west-1/lake/sales/';
    const callsBefore = await calls();
    const answer = await ask(
      `/v1/lakeformation/location-credentials?dataLocations=${encodeURIComponent(elsewhere)}`,
    );
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body, {
      error: {
        code: 'Forbidden',
        message: `dataLocations: not in the allow-list (allow.locations); given "${elsewhere}"`,
        retryable: false,
      },
    });
    assert.equal(await calls(), callsBefore);
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
    const issued = await remembered(target.body.AccessKeyId);
    assert.equal(issued.operation, LOCATION_CALLS);
    assert.deepEqual(issued.scope, {
      DataLocations: [SALES],
      CredentialsScope: 'READWRITE',
      DurationSeconds: 3600,
    });
    assert.equal(issued.auditContext, 'credcache');
    assert.equal(await calls(), 1);
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
    const fault = await daemon.control('faults', {
      operation: LOCATION_CALLS,
      mode: 'error',
      errorType: 'AccessDeniedException',
    });
    assert.equal(fault.status, 200, JSON.stringify(fault.body));
    const callsBefore = await calls();
    const answer = await ask(
      `/v1/lakeformation/location-credentials?dataLocations=${encodeURIComponent(ORDERS)}&durationSeconds=900`,
    );
    assert.equal(answer.status, 403);
    assert.equal((answer.body.error as { code: string }).code, 'UpstreamAccessDenied');
    assert.equal(await calls(), callsBefore + 1);
  });
});
