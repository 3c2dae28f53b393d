/**
 * The emulator's login database as GetCredentials drives it, with a hand-written fake in place
 * of PostgreSQL (the client suite runs the real one): what is installed, that it happens before
 * the answer, and that a database failure is the service's internal error, logged.
 */
import assert from 'node:assert/strict';
import {
  GetCredentialsCommand,
  InternalServerException,
} from '@aws-sdk/client-redshift-serverless';
import { type DatabaseLogin, type LoginDatabase, redact } from '../../src/emulator/database.js';
import { useEmulator } from '../support/emulator.js';

class FakeLoginDatabase implements LoginDatabase {
  readonly installed: DatabaseLogin[] = [];
  failWith: Error | undefined;

  install(login: DatabaseLogin): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.installed.push(login);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('emulator: GetCredentials with a login database', () => {
  const database = new FakeLoginDatabase();
  const logged: string[] = [];
  const emulator = useEmulator({
    loginDatabase: database,
    logError: (message) => logged.push(message),
  });
  beforeEach(() => {
    database.installed.length = 0;
    database.failWith = undefined;
    logged.length = 0;
  });

  it('installs dbUser, dbPassword, expiration and dbName before answering', async () => {
    const answer = await emulator
      .redshift()
      .send(new GetCredentialsCommand({ workgroupName: 'analytics', dbName: 'sales' }));
    assert.deepEqual(database.installed, [
      {
        dbUser: answer.dbUser,
        dbPassword: answer.dbPassword,
        expirationMs: answer.expiration?.getTime(),
        dbName: 'sales',
      },
    ]);
  });

  it('uses dev when the request names no dbName', async () => {
    await emulator.redshift().send(new GetCredentialsCommand({ workgroupName: 'analytics' }));
    assert.equal(database.installed[0]?.dbName, 'dev');
  });

  it('a database failure answers InternalServerException, and is logged', async () => {
    database.failWith = new Error('connection terminated unexpectedly');
    await assert.rejects(
      emulator.redshift().send(new GetCredentialsCommand({ workgroupName: 'analytics' })),
      (error) => error instanceof InternalServerException,
    );
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /IAMR:credcache-emulator.*connection terminated unexpectedly/);
  });
});

describe('emulator: the database URL in messages and logs (redact)', () => {
  it('hides the password in the URL and in its query, and keeps the rest', () => {
    assert.equal(
      redact('postgres://admin:s3cret@127.0.0.1:5433/postgres'),
      'postgres://admin:***@127.0.0.1:5433/postgres',
    );
    assert.equal(
      redact('postgres://admin@127.0.0.1:5433/postgres?password=s3cret&application_name=x'),
      'postgres://admin@127.0.0.1:5433/postgres?password=***&application_name=x',
    );
    assert.equal(
      redact('postgres://admin@h/db?sslpassword=k3y&sslmode=verify-full'),
      'postgres://admin@h/db?sslpassword=***&sslmode=verify-full',
    );
    assert.equal(
      redact('postgres://admin@127.0.0.1/postgres'),
      'postgres://admin@127.0.0.1/postgres',
    );
    assert.equal(redact('not a url s3cret'), '(not a URL)');
  });
});
