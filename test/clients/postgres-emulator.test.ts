/**
 * The emulator with a real database behind Redshift Serverless (`--postgres`): a credential
 * from `GetCredentials`, through the real SDK client, logs in to a throwaway PostgreSQL as
 * `dbUser` with `dbPassword` (node-postgres and psql), until it expires; a new credential for the
 * same user replaces the password. Against md5 and SCRAM-SHA-256 clusters.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  GetCredentialsCommand,
  type GetCredentialsCommandInput,
  RedshiftServerlessClient,
} from '@aws-sdk/client-redshift-serverless';
import pg from 'pg';
import { type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import { PLACEHOLDER_CREDENTIALS } from '../support/emulator.js';
import {
  type PasswordEncryption,
  type RunningPostgres,
  findPsql,
  run,
  usePostgres,
} from '../support/postgres.js';

const CREDCACHE_BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;

interface Login {
  readonly dbUser: string;
  readonly dbPassword: string;
  readonly expiration: Date;
}

async function getCredentials(
  endpoint: string,
  input: Partial<GetCredentialsCommandInput> = {},
): Promise<Login> {
  const client = new RedshiftServerlessClient({
    endpoint,
    region: 'us-east-1',
    credentials: PLACEHOLDER_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    const answer = await client.send(
      new GetCredentialsCommand({ workgroupName: 'analytics', dbName: 'dev', ...input }),
    );
    assert.ok(answer.dbUser && answer.dbPassword && answer.expiration, JSON.stringify(answer));
    return { dbUser: answer.dbUser, dbPassword: answer.dbPassword, expiration: answer.expiration };
  } finally {
    client.destroy();
  }
}

/** Logs in as the credential's user and answers who and where the session is. */
async function whoAmI(
  cluster: RunningPostgres,
  login: Login,
  database = 'dev',
): Promise<{ user: string; database: string }> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: login.dbUser,
    password: login.dbPassword,
    database,
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string; database: string }>(
      'select current_user as user, current_database() as database',
    );
    assert.equal(rows.length, 1);
    return rows[0] as { user: string; database: string };
  } finally {
    await client.end();
  }
}

const PASSWORD_REFUSED = /password authentication failed for user/;

async function configure(emulator: RunningEmulator, settings: Record<string, unknown>) {
  const response = await fetch(`${emulator.url}/_emulator/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  assert.equal(response.status, 200, await response.text());
}

for (const passwordEncryption of ['scram-sha-256', 'md5'] as PasswordEncryption[]) {
  describe(`emulator --postgres: Redshift Serverless credentials log in to PostgreSQL (${passwordEncryption})`, function () {
    this.timeout(120_000);
    const cluster = usePostgres({ passwordEncryption });
    let emulator: RunningEmulator | undefined;
    const logged: string[] = [];
    before(async () => {
      emulator = await startEmulator({
        postgres: cluster.current.url,
        logError: (message) => logged.push(message),
      });
    });
    beforeEach(() => emulator?.state.reset());
    after(async () => {
      await emulator?.close();
      assert.deepEqual(logged, [], 'no database errors were logged');
    });
    const url = () => (emulator as RunningEmulator).url;

    it('an issued credential logs in at once as dbUser to dbName; its password is stored as the cluster asks', async () => {
      const login = await getCredentials(url());
      assert.equal(login.dbUser, 'IAMR:credcache-emulator');
      assert.deepEqual(await whoAmI(cluster.current, login), {
        user: login.dbUser,
        database: 'dev',
      });
      const { rows } = await cluster.current.query<{ rolpassword: string; until: Date }>(
        'select rolpassword, rolvaliduntil as until from pg_authid where rolname = $1',
        [login.dbUser],
      );
      const prefix = passwordEncryption === 'md5' ? 'md5' : 'SCRAM-SHA-256$';
      assert.ok(rows[0]?.rolpassword.startsWith(prefix), 'hashed with password_encryption');
      assert.equal(rows[0]?.until.getTime(), login.expiration.getTime(), 'VALID UNTIL expiration');
    });

    it('a second credential for the same user replaces the password: the old one is refused', async () => {
      const first = await getCredentials(url());
      const second = await getCredentials(url());
      assert.equal(second.dbUser, first.dbUser);
      assert.notEqual(second.dbPassword, first.dbPassword);
      await assert.rejects(whoAmI(cluster.current, first), PASSWORD_REFUSED);
      assert.equal((await whoAmI(cluster.current, second)).user, second.dbUser);
    });

    it('the login stops working once the credential expires (VALID UNTIL)', async () => {
      await configure(emulator as RunningEmulator, { credentialLifetimeSeconds: 2 });
      const login = await getCredentials(url());
      assert.equal((await whoAmI(cluster.current, login)).user, login.dbUser);
      const wait = login.expiration.getTime() - Date.now() + 300;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      await assert.rejects(whoAmI(cluster.current, login), PASSWORD_REFUSED);
    });

    it('creates a dbName that does not exist yet, quoted as named', async () => {
      const dbName = 'Sales+Q1@eu-west.x';
      const login = await getCredentials(url(), { dbName });
      assert.deepEqual(await whoAmI(cluster.current, login, dbName), {
        user: login.dbUser,
        database: dbName,
      });
    });

    it('psql logs in with PGPASSWORD and prints current_user', async () => {
      const login = await getCredentials(url());
      const psql = await findPsql();
      const { stdout } = await run(
        psql,
        [
          '-h',
          cluster.current.host,
          '-p',
          String(cluster.current.port),
          '-U',
          login.dbUser,
          '-d',
          'dev',
          '-w',
          '-X',
          '-A',
          '-t',
          '-c',
          'select current_user',
        ],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: login.dbPassword } },
      );
      assert.equal(stdout.trim(), login.dbUser);
    });
  });
}

describe('credcache emulator --postgres URL (process)', function () {
  this.timeout(120_000);
  const cluster = usePostgres();
  let child: ChildProcess | undefined;
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('prints its URL; a credential it issues logs in; it exits 0 on SIGTERM', async () => {
    const started = spawn(
      process.execPath,
      [CREDCACHE_BIN, 'emulator', '--postgres', cluster.current.url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    const lines = createInterface({ input: started.stdout as NodeJS.ReadableStream });
    const [firstLine] = (await once(lines, 'line')) as [string];
    const match = /^emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(firstLine);
    assert.ok(match?.[1], firstLine);
    const login = await getCredentials(match[1]);
    assert.equal((await whoAmI(cluster.current, login)).user, login.dbUser);
    started.kill('SIGTERM');
    assert.deepEqual(await once(started, 'exit'), [0, null]);
  });
});
