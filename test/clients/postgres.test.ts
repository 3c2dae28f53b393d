/**
 * The throwaway PostgreSQL cluster of test/support/postgres.ts, as later tests rely on it: the
 * superuser logs in over TCP on 127.0.0.1 with its password (and only with it), passwords are
 * stored as asked (md5 or SCRAM-SHA-256), and TLS is verified against the CA the helper made.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import pg from 'pg';
import { type PasswordEncryption, startPostgres } from '../support/postgres.js';

describe('test/support/postgres: a throwaway cluster', function () {
  this.timeout(120_000);

  for (const passwordEncryption of ['scram-sha-256', 'md5'] as PasswordEncryption[]) {
    it(`${passwordEncryption}: the superuser logs in with its password only; passwords are stored as ${passwordEncryption}`, async () => {
      const cluster = await startPostgres({ passwordEncryption });
      try {
        assert.equal(cluster.host, '127.0.0.1');
        const client = new pg.Client({ connectionString: cluster.url });
        await client.connect();
        const { rows } = await client.query<{ user: string; encryption: string; ssl: string }>(
          "select current_user as user, current_setting('password_encryption') as encryption, current_setting('ssl') as ssl",
        );
        await client.end();
        assert.deepEqual(rows, [
          { user: cluster.user, encryption: passwordEncryption, ssl: 'off' },
        ]);
        const stored = await cluster.query<{ rolpassword: string }>(
          'select rolpassword from pg_authid where rolname = current_user',
        );
        const prefix = passwordEncryption === 'md5' ? 'md5' : 'SCRAM-SHA-256$';
        assert.ok(stored.rows[0]?.rolpassword.startsWith(prefix), 'stored as asked');
        const wrong = new pg.Client({ ...clientOf(cluster.url), password: 'not-the-password' });
        await assert.rejects(wrong.connect(), /password authentication failed/);
        const listen = await cluster.query<{ value: string }>(
          "select current_setting('listen_addresses') as value",
        );
        assert.equal(listen.rows[0]?.value, '127.0.0.1');
      } finally {
        await cluster.stop();
      }
      await assert.rejects(stat(cluster.dir), /ENOENT/, 'the temporary folder is removed');
    });
  }

  it('TLS: the server certificate verifies against the CA for 127.0.0.1', async () => {
    const cluster = await startPostgres({ tls: true });
    try {
      assert.ok(cluster.tls);
      const client = new pg.Client({ ...clientOf(cluster.url), ssl: { ca: cluster.tls.caPem } });
      await client.connect();
      const { rows } = await client.query<{ ssl: boolean }>(
        'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
      );
      await client.end();
      assert.deepEqual(rows, [{ ssl: true }]);
      // Without the CA, verification fails: the certificate is the helper's own.
      const untrusted = new pg.Client({ ...clientOf(cluster.url), ssl: {} });
      await assert.rejects(untrusted.connect(), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      await cluster.stop();
    }
  });
});

/** A connection URL as separate pg client fields. */
function clientOf(url: string): pg.ClientConfig {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: parsed.pathname.slice(1),
  };
}
