/** SCRAM-SHA-256 on the client side, against the RFC 7677 test vector and malformed servers. */
import assert from 'node:assert/strict';
import { ScramClient, ScramError } from '../../src/proxy/scram.js';

// RFC 7677, section 3: user "user", password "pencil".
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST =
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('proxy: SCRAM-SHA-256 client', () => {
  it('computes the RFC 7677 exchange exactly and accepts the genuine server signature', () => {
    const scram = new ScramClient('pencil', CLIENT_NONCE);
    assert.equal(scram.first('user'), `n,,n=user,r=${CLIENT_NONCE}`);
    assert.equal(scram.final(SERVER_FIRST), CLIENT_FINAL);
    scram.verify(SERVER_FINAL);
  });

  it('refuses a server that does not know the password', () => {
    const scram = new ScramClient('pencil', CLIENT_NONCE);
    scram.first('user');
    scram.final(SERVER_FIRST);
    assert.throws(() => scram.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), ScramError);
    assert.throws(() => scram.verify('e=invalid-proof'), /invalid-proof/);
  });

  it('refuses a server nonce that does not extend its own, and a server-first without salt', () => {
    const scram = new ScramClient('pencil', CLIENT_NONCE);
    scram.first();
    assert.throws(() => scram.final('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), ScramError);
    assert.throws(
      () => scram.final(`r=${CLIENT_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`),
      ScramError,
    );
    assert.throws(() => scram.final(`r=${CLIENT_NONCE}x,i=4096`), ScramError);
    assert.throws(() => scram.final('garbage'), ScramError);
  });
});
