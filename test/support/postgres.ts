/**
 * A throwaway PostgreSQL cluster per test file: a temporary folder, `initdb`, a superuser with a
 * password, listening only on 127.0.0.1 on a free port (unix sockets in the temporary folder),
 * optionally with TLS from a CA the helper makes; stopped (`pg_ctl -m immediate`) and removed at
 * the end. Used by the client suite only: it needs the PostgreSQL server binaries and `openssl`
 * (`.ci/run` installs them from Debian when missing).
 *
 * initdb and postgres refuse to run as root: as root, the cluster runs as the `postgres` system
 * user (through `runuser`) and the temporary folder is handed to it; otherwise as the caller.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, chown, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import pg from 'pg';

export type PasswordEncryption = 'scram-sha-256' | 'md5';

export interface PostgresOptions {
  /**
   * How passwords are stored and asked for: the cluster's `password_encryption` and the
   * authentication method of its `pg_hba.conf`. Default `scram-sha-256`.
   */
  readonly passwordEncryption?: PasswordEncryption;
  /** Serve TLS (`ssl = on`) with a server certificate for 127.0.0.1 and localhost. */
  readonly tls?: boolean;
}

export interface PostgresTls {
  /** The CA that signed the server certificate, PEM; trust it to verify the server. */
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface RunningPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The superuser's name and password. */
  readonly user: string;
  readonly password: string;
  /** `postgres://user:password@127.0.0.1:port/postgres`, the superuser's connection URL. */
  readonly url: string;
  readonly passwordEncryption: PasswordEncryption;
  /** The temporary folder: data directory, unix sockets, server log, TLS files. */
  readonly dir: string;
  readonly tls: PostgresTls | undefined;
  /** Runs SQL as the superuser over TCP (TLS verified against the CA when on). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** The server log so far (for assertion messages). */
  log(): Promise<string>;
  /** Stops the server at once (`pg_ctl -m immediate`) and removes the temporary folder. */
  stop(): Promise<void>;
}

const SUPERUSER = 'credcache_admin';
/** The system user the cluster runs as when the tests run as root. */
const SERVER_OS_USER = 'postgres';
const INSTALL_HINT =
  'install it with `apt-get install -y postgresql postgresql-client` (`.ci/run` does)';

/** An executable file at `path`, or undefined. */
async function executable(path: string): Promise<string | undefined> {
  try {
    await access(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = await executable(join(dir, name));
    if (found) return found;
  }
  return undefined;
}

/** Newest first: /usr/lib/postgresql/17/bin before /usr/lib/postgresql/15/bin. */
async function debianServerDirs(): Promise<string[]> {
  const root = '/usr/lib/postgresql';
  const versions = await readdir(root).catch(() => [] as string[]);
  return versions
    .filter((version) => /^\d+(\.\d+)?$/.test(version))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(root, version, 'bin'));
}

const SERVER_BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;

async function hasServerBinaries(dir: string): Promise<boolean> {
  for (const name of SERVER_BINARIES) if (!(await executable(join(dir, name)))) return false;
  return true;
}

/**
 * The folder holding initdb, pg_ctl and postgres together: the one `initdb` on PATH resolves to
 * (a symlink to Debian's folder counts), else the newest /usr/lib/postgresql/<version>/bin.
 */
export async function findServerBinaries(): Promise<string> {
  const initdb = await onPath('initdb');
  if (initdb) {
    for (const dir of [dirname(realpathSync(initdb)), dirname(initdb)]) {
      if (await hasServerBinaries(dir)) return dir;
    }
  }
  for (const dir of await debianServerDirs()) if (await hasServerBinaries(dir)) return dir;
  throw new Error(
    `PostgreSQL tests need initdb, pg_ctl and postgres (on PATH or in /usr/lib/postgresql/<version>/bin), which were not found: ${INSTALL_HINT}.`,
  );
}

/** `psql`: on PATH, else Debian's /usr/bin/psql. */
export async function findPsql(): Promise<string> {
  const found = (await onPath('psql')) ?? (await executable('/usr/bin/psql'));
  if (!found) throw new Error(`PostgreSQL tests need psql, which was not found: ${INSTALL_HINT}.`);
  return found;
}

interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program, rejecting with its output when it fails. */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${file} ${args.join(' ')} failed: ${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`,
              { cause: error },
            ),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** The uid and gid of the `postgres` system user, read from /etc/passwd. */
async function serverOsUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === SERVER_OS_USER) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(
    `running as root, PostgreSQL tests run the server as the "${SERVER_OS_USER}" system user, which does not exist: ${INSTALL_HINT} (it creates the user).`,
  );
}

/** A loopback port free now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Makes a CA and a server certificate for 127.0.0.1 and localhost with the openssl CLI. */
async function makeCertificates(dir: string): Promise<PostgresTls> {
  const openssl = (await onPath('openssl')) ?? '/usr/bin/openssl';
  const file = (name: string) => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(openssl, [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=credcache test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run(openssl, [
    'req',
    ...ecKey,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    file('server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await run(openssl, [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.crt'),
  ]);
  // postgres refuses a key file that others can read.
  await chmod(file('server.key'), 0o600);
  return {
    caPem: await readFile(file('ca.crt'), 'utf8'),
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
  };
}

/** A quoted postgresql.conf value. */
const confValue = (value: string): string =>
  `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** Starts a cluster; the caller must `stop()` it. */
export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  const passwordEncryption = options.passwordEncryption ?? 'scram-sha-256';
  const bin = await findServerBinaries();
  const asRoot = runningAsRoot();
  const owner = asRoot ? await serverOsUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'credcache-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const password = randomBytes(18).toString('base64url');
  /** Runs a server binary as the user the cluster belongs to. */
  const asServer = (name: string, args: readonly string[]) =>
    asRoot
      ? run('runuser', ['-u', SERVER_OS_USER, '--', join(bin, name), ...args])
      : run(join(bin, name), args);
  let started = false;
  const cleanUp = async () => {
    if (started) {
      await asServer('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const pwfile = join(dir, 'superuser.password');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    const tls = options.tls ? await makeCertificates(dir) : undefined;
    if (owner) {
      for (const path of [dir, pwfile, ...(tls ? [tls.keyFile, tls.certFile] : [])]) {
        await chown(path, owner.uid, owner.gid);
      }
    }
    await asServer('initdb', [
      '-D',
      data,
      '-U',
      SUPERUSER,
      `--pwfile=${pwfile}`,
      `--auth=${passwordEncryption}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    await rm(pwfile);

    // A port taken between choosing and binding fails the start: choose again, a few times.
    let port = 0;
    for (let attempt = 1; !started; attempt++) {
      port = await freePort();
      const settings: Record<string, string | number> = {
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: dir,
        password_encryption: passwordEncryption,
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: 30,
        shared_buffers: '16MB',
        ...(tls && { ssl: 'on', ssl_cert_file: tls.certFile, ssl_key_file: tls.keyFile }),
      };
      const conf = Object.entries(settings)
        .map(([name, value]) => `${name} = ${typeof value === 'number' ? value : confValue(value)}`)
        .join('\n');
      // The last setting of a name wins: a retry's lines override the previous attempt's.
      const confFile = join(data, 'postgresql.conf');
      await writeFile(confFile, `${await readFile(confFile, 'utf8')}\n${conf}\n`);
      try {
        await asServer('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
        started = true;
      } catch (error) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt >= 3 || !/could not bind|address already in use/i.test(log)) {
          throw new Error(`${String(error)}\nserver log:\n${log}`, { cause: error });
        }
      }
    }

    const connection = (): pg.ClientConfig => ({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      database: 'postgres',
      ...(tls && { ssl: { ca: tls.caPem } }),
    });
    const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
      const client = new pg.Client(connection());
      await client.connect();
      try {
        return await client.query<R>(text, values);
      } finally {
        await client.end();
      }
    };
    // The superuser's password was hashed at initdb with the default method: store it as asked.
    await query(`ALTER ROLE ${SUPERUSER} PASSWORD ${pg.escapeLiteral(password)}`);

    return {
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      passwordEncryption,
      dir,
      tls,
      query,
      log: () => readFile(logFile, 'utf8').catch(() => ''),
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

export interface PostgresHandle {
  /** The running cluster; set by the suite's `before` hook. */
  readonly current: RunningPostgres;
}

/** Registers mocha hooks that run one cluster for the enclosing `describe`. */
export function usePostgres(options: PostgresOptions = {}): PostgresHandle {
  let cluster: RunningPostgres | undefined;
  before(async function () {
    this.timeout(120_000);
    cluster = await startPostgres(options);
  });
  after(async () => {
    await cluster?.stop();
  });
  return {
    get current() {
      if (!cluster) throw new Error('the PostgreSQL cluster is not running (used outside a test?)');
      return cluster;
    },
  };
}
