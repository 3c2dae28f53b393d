/** SCRAM-SHA-256 on the client side, against the RFC 7677 test vector and malformed servers. */
import assert from 'node:assert/strict';
import { MAX_ITERATIONS, SaltedPasswords, ScramClient, ScramError } from '../../src/proxy/scram.js';

// RFC 7677, section 3: user "user", password "pencil".
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST =
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('proxy: SCRAM-SHA-256 client', () => {
  it('computes the RFC 7677 exchange exactly and accepts the genuine server signature', async () => {
    const scram = new ScramClient('pencil', { nonce: CLIENT_NONCE });
    assert.equal(scram.first('user'), `n,,n=user,r=${CLIENT_NONCE}`);
    assert.equal(await scram.final(SERVER_FIRST), CLIENT_FINAL);
    scram.verify(SERVER_FINAL);
  });

  it('derives a password’s key once for a salt and count, and again for another password', async () => {
    const salted = new SaltedPasswords(2);
    for (let i = 0; i < 3; i++) {
      const scram = new ScramClient('pencil', { salted, nonce: CLIENT_NONCE });
      scram.first('user');
      assert.equal(await scram.final(SERVER_FIRST), CLIENT_FINAL);
      scram.verify(SERVER_FINAL);
    }
    assert.equal(salted.derivations, 1);
    // Another password (a refreshed credential) is derived anew, and is wrong for this server.
    const other = new ScramClient('pencil2', { salted, nonce: CLIENT_NONCE });
    other.first('user');
    assert.notEqual(await other.final(SERVER_FIRST), CLIENT_FINAL);
    assert.equal(salted.derivations, 2);
    // Bounded: a third password pushes out the oldest, which is then derived again.
    const third = new ScramClient('pencil3', { salted, nonce: CLIENT_NONCE });
    third.first('user');
    await third.final(SERVER_FIRST);
    const again = new ScramClient('pencil', { salted, nonce: CLIENT_NONCE });
    again.first('user');
    assert.equal(await again.final(SERVER_FIRST), CLIENT_FINAL);
    assert.equal(salted.derivations, 4);
  });

  it('refuses a server asking for more PBKDF2 iterations than allowed, deriving nothing', async () => {
    const salted = new SaltedPasswords();
    const scram = new ScramClient('pencil', { salted, nonce: CLIENT_NONCE });
    scram.first('user');
    const first = SERVER_FIRST.replace('i=4096', `i=${MAX_ITERATIONS + 1}`);
    await assert.rejects(scram.final(first), /PBKDF2 iterations/);
    assert.equal(salted.derivations, 0);
  });

  it('refuses a server that does not know the password', async () => {
    const scram = new ScramClient('pencil', { nonce: CLIENT_NONCE });
    scram.first('user');
    await scram.final(SERVER_FIRST);
    assert.throws(() => scram.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), ScramError);
    assert.throws(() => scram.verify('e=invalid-proof'), /invalid-proof/);
  });

  it('refuses a server nonce that does not extend its own, and a server-first without salt', async () => {
    const scram = new ScramClient('pencil', { nonce: CLIENT_NONCE });
    scram.first();
    await assert.rejects(
      scram.final('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
      ScramError,
    );
    await assert.rejects(
      scram.final(`r=${CLIENT_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`),
      ScramError,
    );
    await assert.rejects(scram.final(`r=${CLIENT_NONCE}x,i=4096`), ScramError);
    await assert.rejects(scram.final('garbage'), ScramError);
  });
});
