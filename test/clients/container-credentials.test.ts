/**
 * Client suite (issue 5): a credcache target read as AWS container credentials, unchanged, by real
 * clients — the Debian AWS CLI v2 (`/usr/bin/aws`, 2.9.x) and Debian's Python botocore
 * (`python3-botocore`, 1.29.x) — through `AWS_CONTAINER_CREDENTIALS_FULL_URI` pointing at
 * `GET /v1/targets/{name}` of `credcache serve --emulator` run as a child process; then a call each
 * client signs with those credentials, which the emulator attributes to the credential it issued
 * for the target (`signedCalls`).
 *
 * What these client versions do, as the tests below hold it:
 * - The full URI's host must be 169.254.170.2, localhost or 127.0.0.1; `[::1]` is refused by the
 *   client itself, so a daemon listening on IPv6 loopback only is out of their reach.
 * - The token is sent as the raw `Authorization` value from AWS_CONTAINER_AUTHORIZATION_TOKEN only:
 *   neither the CLI 2.9.19 nor botocore 1.29.27 reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
 * - Any non-200 answer, 401 included, is retried: 3 attempts 1 s apart, ~3 s per bad token.
 * - `configure export-credentials` prints Expiration in Python's form
 *   (`2026-11-24T16:15:35.179000+00:00`), not as the daemon sent it (`…35.179Z`); same instant.
 * - A Redshift target answers 200 in the Redshift shape, which the clients fail on with a bare
 *   `'AccessKeyId'` (a Python KeyError): it is not container credentials.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  AWS_CLI,
  type Botocore,
  type CliResult,
  EmulatorControl,
  PYTHON,
  type RunningCredcache,
  asRecord,
  cleanEnv,
  explain,
  mapLimit,
  outputOf,
  requireAwsCliV2,
  requirePythonBotocore,
  runProcess,
  startCredcache,
  stringField,
  timeField,
} from './helpers.js';

const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
/** The table the signed calls ask about: not the target's, so the issued credential is told apart. */
const OTHER_TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/finance/ledger';
const TABLE_OP = 'GetTemporaryGlueTableCredentials';
const PARTITION_OP = 'GetTemporaryGluePartitionCredentials';

const CONFIG = `
listen: 127.0.0.1:0
auth:
  tokenFile: run/token
targets:
  - name: orders
    source: lakeformation_table
    tableArn: ${TABLE_ARN}
    permissions: [SELECT]
  - name: orders-2026
    source: lakeformation_partition
    tableArn: ${TABLE_ARN}
    values: ['2026', '11']
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
`;

/** What `GET /v1/targets/{name}` answers for a Lake Formation target. */
interface ContainerCredentials {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly Token: string;
  readonly Expiration: string;
}

/** How a client is told the token: the variable, a file, both or neither. */
interface TokenSource {
  readonly token?: string;
  readonly tokenFile?: string;
}

/**
 * Resolves the container credentials and, given an endpoint, makes one signed Lake Formation call
 * with them; prints what it saw as JSON. Any failure is a traceback and a non-zero exit.
 */
const BOTOCORE_SCRIPT = `
import json, sys
import botocore.session
session = botocore.session.get_session()
credentials = session.get_credentials()
if credentials is None:
    sys.exit('botocore resolved no credentials')
frozen = credentials.get_frozen_credentials()
expiry = getattr(credentials, '_expiry_time', None)
out = {
    'method': credentials.method,
    'accessKeyId': frozen.access_key,
    'secretAccessKey': frozen.secret_key,
    'token': frozen.token,
    'expiry': expiry.isoformat() if expiry is not None else None,
}
if len(sys.argv) > 1:
    client = session.create_client(
        'lakeformation', region_name='us-east-1', endpoint_url=sys.argv[1])
    answer = client.get_temporary_glue_table_credentials(
        TableArn=sys.argv[2], Permissions=['SELECT'],
        SupportedPermissionTypes=['COLUMN_PERMISSION'])
    out['issuedAccessKeyId'] = answer['AccessKeyId']
print(json.dumps(out))
`;

describe('AWS container credentials from credcache targets (real clients)', function () {
  let daemon: RunningCredcache | undefined;
  let control: EmulatorControl;
  let botocore: Botocore;
  /** The daemon's answer for the `orders` target, fetched directly. */
  let orders: ContainerCredentials;

  before(async function () {
    // Missing clients fail the suite (they are installed by .ci/run), never skip it.
    await requireAwsCliV2();
    botocore = await requirePythonBotocore();
    daemon = await startCredcache(CONFIG);
    control = new EmulatorControl(daemon.emulatorUrl);
    assert.equal(daemon.tokenFile, join(daemon.dir, 'run/token'));
    // Clients send the variable's bytes as they are: the daemon's token is one word, no newline.
    assert.match(daemon.token, /^[A-Za-z0-9_-]{43}$/);
    orders = await served('orders');
  });

  after(async function () {
    if (daemon === undefined) return;
    assert.deepEqual(await daemon.stop(), [0, null], 'credcache exits 0 on SIGTERM');
    assert.ok(
      daemon.logs.some((line) => line.msg === 'stopped'),
      'it logged that it stopped',
    );
    assert.ok(!JSON.stringify(daemon.logs).includes(daemon.token), 'no log line has the token');
  });

  function running(): RunningCredcache {
    assert.ok(daemon, 'credcache did not start');
    return daemon;
  }

  async function served(target: string): Promise<ContainerCredentials> {
    const { url, token } = running();
    const response = await fetch(`${url}/v1/targets/${target}`, {
      headers: { authorization: token },
    });
    const body = asRecord(await response.json(), `GET /v1/targets/${target}`);
    assert.equal(response.status, 200, JSON.stringify(body));
    return {
      AccessKeyId: stringField(body, 'AccessKeyId'),
      SecretAccessKey: stringField(body, 'SecretAccessKey'),
      Token: stringField(body, 'Token'),
      Expiration: stringField(body, 'Expiration'),
    };
  }

  /**
   * The environment of a client whose only credential source is the container provider: no
   * key variables, no profile, config and credentials files that do not exist.
   */
  function containerEnv(
    target: string,
    auth: TokenSource,
    host = '127.0.0.1',
  ): Record<string, string> {
    const { dir, port } = running();
    return {
      AWS_CONFIG_FILE: join(dir, 'no-such-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-such-credentials'),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://${host}:${port}/v1/targets/${target}`,
      ...(auth.token !== undefined && { AWS_CONTAINER_AUTHORIZATION_TOKEN: auth.token }),
      ...(auth.tokenFile !== undefined && {
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: auth.tokenFile,
      }),
      AWS_DEFAULT_REGION: 'us-east-1',
      // One attempt per AWS call, so the emulator's signedCalls count is exact.
      AWS_MAX_ATTEMPTS: '1',
    };
  }

  function aws(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
    return runProcess(
      AWS_CLI,
      [...args, '--output', 'json', '--cli-connect-timeout', '5', '--cli-read-timeout', '20'],
      cleanEnv(env),
      30_000,
    );
  }

  /** `aws … --endpoint-url <emulator> --region us-east-1`: a call signed with what the CLI resolved. */
  function awsSigned(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
    return aws([...args, '--endpoint-url', running().emulatorUrl, '--region', 'us-east-1'], env);
  }

  function botocoreRun(env: Record<string, string>, signedCall: boolean): Promise<CliResult> {
    const args = signedCall ? [running().emulatorUrl, OTHER_TABLE_ARN] : [];
    return runProcess(PYTHON, ['-c', BOTOCORE_SCRIPT, ...args], cleanEnv(env), 30_000);
  }

  async function signedCallsOf(accessKeyId: string): Promise<number> {
    const signedCalls = (await control.credential(accessKeyId)).signedCalls;
    assert.equal(typeof signedCalls, 'number', `signedCalls of ${accessKeyId}`);
    return signedCalls as number;
  }

  /**
   * Asserts the emulator issued `issuedAccessKeyId` for OTHER_TABLE_ARN to a caller that signed
   * with the `orders` target's credential.
   */
  async function assertIssuedToTarget(issuedAccessKeyId: string): Promise<void> {
    const issued = await control.credential(issuedAccessKeyId);
    assert.equal(issued.operation, TABLE_OP);
    assert.equal(asRecord(issued.scope, 'scope').TableArn, OTHER_TABLE_ARN);
    assert.equal(issued.callerAccessKeyId, orders.AccessKeyId, 'signed with the target credential');
  }

  /** Asserts the emulator issued the `orders` target's credential for that target's scope. */
  async function assertOrdersScope(): Promise<void> {
    const credential = await control.credential(orders.AccessKeyId);
    assert.equal(credential.operation, TABLE_OP);
    const scope = asRecord(credential.scope, 'scope');
    assert.equal(scope.TableArn, TABLE_ARN);
    assert.deepEqual(scope.Permissions, ['SELECT']);
  }

  /** Asserts a client failed on the daemon's 401, with the daemon's reason. */
  function assertUnauthorized(result: CliResult, exitCode: number, reason: string): void {
    assert.equal(result.exitCode, exitCode, explain(result));
    assert.ok(
      result.stderr.includes('Received non 200 response (401)') &&
        result.stderr.includes(`"code":"Unauthorized","message":"Authorization: ${reason}"`),
      explain(result),
    );
    assert.ok(!result.stderr.includes(running().token), 'the token is not echoed');
  }

  describe('AWS CLI v2 (/usr/bin/aws)', function () {
    it('configure export-credentials prints the target credential in credential_process form', async function () {
      const result = await aws(
        ['configure', 'export-credentials', '--format', 'process'],
        containerEnv('orders', { token: running().token }),
      );
      const exported = outputOf(result);
      assert.deepEqual(Object.keys(exported), [
        'Version',
        'AccessKeyId',
        'SecretAccessKey',
        'SessionToken',
        'Expiration',
      ]);
      assert.equal(exported.Version, 1);
      assert.equal(exported.AccessKeyId, orders.AccessKeyId);
      assert.equal(exported.SecretAccessKey, orders.SecretAccessKey);
      assert.equal(exported.SessionToken, orders.Token);
      // Re-rendered by Python (microseconds, +00:00), the same instant the daemon served.
      assert.match(
        stringField(exported, 'Expiration'),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/,
      );
      assert.equal(timeField(exported, 'Expiration'), Date.parse(orders.Expiration));
      await assertOrdersScope();
    });

    it('signs a Lake Formation call with them; the emulator counts it against the target credential', async function () {
      const before = await signedCallsOf(orders.AccessKeyId);
      const result = await awsSigned(
        [
          'lakeformation',
          'get-temporary-glue-table-credentials',
          '--table-arn',
          OTHER_TABLE_ARN,
          '--permissions',
          'SELECT',
          '--supported-permission-types',
          'COLUMN_PERMISSION',
        ],
        containerEnv('orders', { token: running().token }),
      );
      await assertIssuedToTarget(stringField(outputOf(result), 'AccessKeyId'));
      assert.equal(await signedCallsOf(orders.AccessKeyId), before + 1);
      await assertOrdersScope();
    });

    it('reads a partition target through localhost and signs a Redshift Serverless call with it', async function () {
      const partition = await served('orders-2026');
      const scope = asRecord((await control.credential(partition.AccessKeyId)).scope, 'scope');
      assert.equal(scope.TableArn, TABLE_ARN);
      assert.deepEqual(asRecord(scope.Partition, 'Partition').Values, ['2026', '11']);
      const before = await signedCallsOf(partition.AccessKeyId);
      const result = await awsSigned(
        [
          'redshift-serverless',
          'get-credentials',
          '--workgroup-name',
          'analytics',
          '--db-name',
          'dev',
        ],
        containerEnv('orders-2026', { token: running().token }, 'localhost'),
      );
      const password = stringField(outputOf(result), 'dbPassword');
      const issued = await control.credential(password);
      assert.equal(issued.operation, 'GetCredentials');
      assert.equal(issued.callerAccessKeyId, partition.AccessKeyId);
      assert.equal(await signedCallsOf(partition.AccessKeyId), before + 1);
      assert.notEqual(partition.AccessKeyId, orders.AccessKeyId);
      assert.equal((await control.credential(partition.AccessKeyId)).operation, PARTITION_OP);
    });

    it('fails on the daemon 401 with no token or a wrong one; reads the token file only if it knows it', async function () {
      const { token, tokenFile } = running();
      const exportArgs = ['configure', 'export-credentials', '--format', 'process'];
      const [missing, wrong, fileOnly] = (await mapLimit(
        [{}, { token: `${token.slice(0, -1)}x` }, { tokenFile }],
        3,
        (auth: TokenSource) => aws(exportArgs, containerEnv('orders', auth)),
      )) as [CliResult, CliResult, CliResult];
      // 253: the CLI found no usable credentials.
      assertUnauthorized(missing, 253, 'missing; send the token as the header value');
      assertUnauthorized(wrong, 253, 'wrong token');
      if (fileOnly.exitCode === 0) {
        // A CLI that reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (newer than 2.9.19).
        assert.equal(outputOf(fileOnly).AccessKeyId, orders.AccessKeyId);
      } else {
        // 2.9.19 reads only AWS_CONTAINER_AUTHORIZATION_TOKEN: it sends no header at all.
        assertUnauthorized(fileOnly, 253, 'missing; send the token as the header value');
      }
    });

    it('refuses a full URI on [::1] itself: only 169.254.170.2, localhost and 127.0.0.1 are allowed', async function () {
      const result = await aws(
        ['configure', 'export-credentials', '--format', 'process'],
        containerEnv('orders', { token: running().token }, '[::1]'),
      );
      assert.equal(result.exitCode, 253, explain(result));
      assert.match(
        result.stderr,
        /Unsupported host '::1'\. {2}Can only retrieve metadata from these hosts: 169\.254\.170\.2, localhost, 127\.0\.0\.1/,
      );
    });

    it('cannot use a Redshift target: 200 in the Redshift shape is not container credentials', async function () {
      const { url, token } = running();
      const response = await fetch(`${url}/v1/targets/warehouse`, {
        headers: { authorization: token },
      });
      assert.equal(response.status, 200);
      const body = asRecord(await response.json(), 'warehouse');
      assert.equal(typeof body.dbPassword, 'string');
      assert.equal(body.AccessKeyId, undefined);
      const result = await aws(
        ['configure', 'export-credentials', '--format', 'process'],
        containerEnv('warehouse', { token }),
      );
      assert.equal(result.exitCode, 253, explain(result));
      assert.match(result.stderr, /Unable to retrieve credentials: 'AccessKeyId'/);
    });
  });

  describe('Python botocore (/usr/bin/python3)', function () {
    it('the container provider resolves the target credential and signs a call the emulator attributes to it', async function () {
      const before = await signedCallsOf(orders.AccessKeyId);
      const result = await botocoreRun(containerEnv('orders', { token: running().token }), true);
      const seen = outputOf(result);
      assert.equal(seen.method, 'container-role');
      assert.equal(seen.accessKeyId, orders.AccessKeyId);
      assert.equal(seen.secretAccessKey, orders.SecretAccessKey);
      assert.equal(seen.token, orders.Token);
      assert.equal(timeField(seen, 'expiry'), Date.parse(orders.Expiration));
      await assertIssuedToTarget(stringField(seen, 'issuedAccessKeyId'));
      assert.equal(await signedCallsOf(orders.AccessKeyId), before + 1);
      await assertOrdersScope();
    });

    it('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE alone: used where botocore knows it, else no token is sent', async function () {
      const result = await botocoreRun(
        containerEnv('orders', { tokenFile: running().tokenFile }),
        false,
      );
      if (botocore.readsTokenFile) {
        assert.equal(outputOf(result).accessKeyId, orders.AccessKeyId);
      } else {
        // botocore 1.29.27 (Debian 12) reads only AWS_CONTAINER_AUTHORIZATION_TOKEN: no header.
        assertUnauthorized(result, 1, 'missing; send the token as the header value');
        assert.match(result.stderr, /CredentialRetrievalError/);
      }
    });
  });

  describe('a table or partition named by the query route, no target (format=container)', function () {
    /** A client environment whose full URI is `path` on the daemon (query URL-encoded by the caller). */
    function queryEnv(path: string): Record<string, string> {
      return {
        ...containerEnv('orders', { token: running().token }),
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${running().port}${path}`,
      };
    }
    const ledger = `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(OTHER_TABLE_ARN)}`;

    it('botocore reads the table route with format=container: a credential issued for that table', async function () {
      const result = await botocoreRun(queryEnv(`${ledger}&format=container`), false);
      const seen = outputOf(result);
      assert.equal(seen.method, 'container-role');
      const scope = await control.credential(stringField(seen, 'accessKeyId'));
      assert.equal(asRecord(scope.scope, 'scope').TableArn, OTHER_TABLE_ARN);
    });

    it("botocore fails on the table shape without it: KeyError 'Token'", async function () {
      const result = await botocoreRun(queryEnv(ledger), false);
      assert.notEqual(result.exitCode, 0, explain(result));
      assert.match(result.stderr, /KeyError: 'Token'|'Token'/);
    });

    it('the AWS CLI exports a partition credential named by the query route', async function () {
      const partition = `/v1/lakeformation/partition-credentials?tableArn=${encodeURIComponent(TABLE_ARN)}&values=2027&values=01&format=container`;
      const result = await aws(
        ['configure', 'export-credentials', '--format', 'process'],
        queryEnv(partition),
      );
      const exported = outputOf(result);
      const scope = await control.credential(stringField(exported, 'AccessKeyId'));
      assert.equal(scope.operation, PARTITION_OP);
      assert.deepEqual(asRecord(scope.scope, 'scope').Partition, { Values: ['2027', '01'] });
    });
  });
});
