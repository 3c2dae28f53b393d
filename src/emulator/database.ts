/**
 * The optional real database behind the emulated Redshift Serverless: every issued credential
 * becomes a PostgreSQL login role (`dbUser` with `dbPassword`, valid until the credential's
 * expiration, allowed to connect to `dbName`), so the credential logs in to a real database until
 * it expires, as a Redshift endpoint accepts it.
 *
 * `pg` is imported only when a database is asked for: the daemon, and an emulator without one,
 * never load it.
 */
import type { Pool, PoolClient } from 'pg';

/** What one `GetCredentials` answer lets its holder do in the database. */
export interface DatabaseLogin {
  readonly dbUser: string;
  readonly dbPassword: string;
  /** Epoch ms after which the password no longer logs in. */
  readonly expirationMs: number;
  readonly dbName: string;
}

/** Where issued logins are installed; a fake stands in for PostgreSQL in unit tests. */
export interface LoginDatabase {
  /** Creates or alters the role and grants it `CONNECT`; resolves once it can log in. */
  install(login: DatabaseLogin): Promise<void>;
  close(): Promise<void>;
}

/** The database a credential is for when the request names none: Redshift's default. */
export const DEFAULT_DB_NAME = 'dev';

/** How long a database call may take before the `GetCredentials` call fails. */
export const DATABASE_TIMEOUT_MS = 10_000;

/** SQLSTATE of `CREATE DATABASE` racing another session that created it. */
const DUPLICATE_DATABASE = '42P04';

/**
 * Connects to PostgreSQL as a superuser (`postgres://user:password@host:port/database`) and
 * checks the connection works. Calls are made one at a time over one connection, so two
 * credentials for the same role never race.
 */
export async function connectPostgres(url: string): Promise<LoginDatabase> {
  const { default: pg } = await import('pg');
  const pool: Pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: DATABASE_TIMEOUT_MS,
    query_timeout: DATABASE_TIMEOUT_MS,
  });
  // An idle connection that dies (a server restart) is dropped; the next call opens another.
  pool.on('error', () => undefined);
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect to PostgreSQL at ${redact(url)}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const { escapeIdentifier, escapeLiteral } = pg;

  async function install(client: PoolClient, login: DatabaseLogin): Promise<void> {
    const database = escapeIdentifier(login.dbName);
    const role = escapeIdentifier(login.dbUser);
    const found = await client.query('select 1 from pg_database where datname = $1', [
      login.dbName,
    ]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${database}`).catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== DUPLICATE_DATABASE) throw error;
      });
    }
    const exists = await client.query('select 1 from pg_roles where rolname = $1', [login.dbUser]);
    const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
    const validUntil = new Date(login.expirationMs).toISOString();
    await client.query(
      `${verb} ROLE ${role} LOGIN PASSWORD ${escapeLiteral(login.dbPassword)} VALID UNTIL ${escapeLiteral(validUntil)}`,
    );
    await client.query(`GRANT CONNECT ON DATABASE ${database} TO ${role}`);
  }

  return {
    async install(login) {
      const client = await pool.connect();
      try {
        await install(client, login);
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Query parameters node-postgres reads a password from (`?password=…`, as libpq does) and the
 * TLS key's passphrase: hidden like the URL's own password.
 */
const SECRET_PARAMETERS = ['password', 'sslpassword'] as const;

/** The URL without its password (in the URL or in its query), for messages and logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const name of SECRET_PARAMETERS) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
