/** The PostgreSQL v3 messages the proxy reads and writes before it relays bytes. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  MAX_STARTUP_BYTES,
  ProtocolError,
  SQLSTATE,
  askCleartextPassword,
  cancelRequest,
  errorResponse,
  md5Password,
  message,
  passwordMessage,
  readAuthentication,
  readErrorFields,
  readFirstMessage,
  readMessage,
  readPassword,
  saslInitialResponse,
  sslRequest,
  startupMessage,
} from '../../src/proxy/wire.js';

describe('proxy: PostgreSQL wire messages', () => {
  it('reads a StartupMessage, only once all of it has arrived', () => {
    const startup = startupMessage({ user: 'alice', database: 'dev', application_name: 'psql' });
    assert.equal(readFirstMessage(startup.subarray(0, 7)), undefined);
    assert.equal(readFirstMessage(startup.subarray(0, startup.length - 1)), undefined);
    const read = readFirstMessage(Buffer.concat([startup, Buffer.from('next')]));
    assert.ok(read?.message.kind === 'startup');
    assert.equal(read.length, startup.length);
    assert.deepEqual(
      [...read.message.parameters],
      [
        ['user', 'alice'],
        ['database', 'dev'],
        ['application_name', 'psql'],
      ],
    );
  });

  it('tells SSLRequest, GSSENCRequest and CancelRequest apart', () => {
    assert.deepEqual(readFirstMessage(sslRequest())?.message, { kind: 'ssl' });
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80_877_104, 4);
    assert.deepEqual(readFirstMessage(gss)?.message, { kind: 'gssenc' });
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80_877_102, 4);
    cancel.writeInt32BE(4242, 8);
    cancel.writeInt32BE(-7, 12);
    const read = readFirstMessage(cancel)?.message;
    assert.ok(read?.kind === 'cancel');
    assert.equal(read.processId, 4242);
    assert.equal(read.secretKey.readInt32BE(0), -7);
    // Written back as it was read: what the proxy passes upstream.
    assert.deepEqual(cancelRequest(read.processId, read.secretKey), cancel);
  });

  it('refuses what is not a first message, before buffering more than the limit', () => {
    // From the length's four bytes alone: nothing more is waited for.
    const head = Buffer.alloc(4);
    head.writeInt32BE(0x7fffffff, 0);
    assert.throws(() => readFirstMessage(head), /a startup packet of 2147483647 bytes/);
    head.writeInt32BE(MAX_STARTUP_BYTES, 0);
    assert.equal(readFirstMessage(head), undefined);
    assert.equal(readFirstMessage(head.subarray(0, 3)), undefined);
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(MAX_STARTUP_BYTES + 1, 0);
    assert.throws(() => readFirstMessage(huge), ProtocolError);
    const tiny = Buffer.alloc(8);
    tiny.writeInt32BE(4, 0);
    assert.throws(() => readFirstMessage(tiny), ProtocolError);
    const v2 = startupMessage({ user: 'a' });
    v2.writeInt32BE(2 << 16, 4);
    assert.throws(() => readFirstMessage(v2), /protocol 2\.0/);
    assert.throws(() => readFirstMessage(startupMessage({ database: 'dev' })), /without a user/);
    const unterminated = startupMessage({ user: 'a' }).subarray(0, -1);
    unterminated.writeInt32BE(unterminated.length, 0);
    assert.throws(() => readFirstMessage(unterminated), /zero byte/);
  });

  it('frames typed messages and refuses impossible lengths', () => {
    const framed = message('p', Buffer.from('secret\0'));
    assert.equal(readMessage(framed.subarray(0, 6)), undefined);
    const read = readMessage(framed);
    assert.equal(read?.type, 'p');
    assert.equal(readPassword(read?.body ?? Buffer.alloc(0)), 'secret');
    assert.deepEqual(passwordMessage('secret'), framed);
    const bad = Buffer.from(framed);
    bad.writeInt32BE(3, 1);
    assert.throws(() => readMessage(bad), ProtocolError);
    assert.throws(() => readMessage(message('p', Buffer.alloc(64)), 32), ProtocolError);
  });

  it('writes an ErrorResponse psql and libpq read: severity, SQLSTATE, message', () => {
    const error = errorResponse(SQLSTATE.invalidPassword, 'password authentication failed');
    const read = readMessage(error);
    assert.equal(read?.type, 'E');
    assert.equal(
      read?.body.toString('utf8'),
      'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0',
    );
    assert.deepEqual(readErrorFields(read?.body ?? Buffer.alloc(0)), {
      code: '28P01',
      message: 'password authentication failed',
    });
  });

  it('reads the authentication requests a server sends', () => {
    const body = (code: number, rest: Buffer = Buffer.alloc(0)) => {
      const head = Buffer.alloc(4);
      head.writeInt32BE(code, 0);
      return Buffer.concat([head, rest]);
    };
    assert.deepEqual(readAuthentication(body(0)), { method: 'ok' });
    assert.deepEqual(readAuthentication(body(3)), { method: 'cleartext' });
    assert.deepEqual(readAuthentication(body(5, Buffer.from([1, 2, 3, 4]))), {
      method: 'md5',
      salt: Buffer.from([1, 2, 3, 4]),
    });
    assert.deepEqual(
      readAuthentication(body(10, Buffer.from('SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0'))),
      {
        method: 'sasl',
        mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'],
      },
    );
    assert.deepEqual(readAuthentication(body(7)), { method: 'unsupported', code: 7 });
    assert.deepEqual(readMessage(askCleartextPassword())?.body, body(3));
  });

  it('answers MD5 as PostgreSQL checks it: md5(md5(password + user) + salt)', () => {
    // pg_authid's well-known md5 of password "postgres" for user "postgres".
    const stored = '3175bce1d3201d16594cebf9d7eb3f9d';
    const salt = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const expected = createHash('md5').update(stored).update(salt).digest('hex');
    assert.equal(md5Password('postgres', 'postgres', salt), `md5${expected}`);
  });

  it('writes a SASLInitialResponse: mechanism, length, client-first message', () => {
    const read = readMessage(saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=abc'));
    assert.equal(read?.type, 'p');
    const bodyText = read?.body ?? Buffer.alloc(0);
    assert.equal(bodyText.subarray(0, 14).toString(), 'SCRAM-SHA-256\0');
    assert.equal(bodyText.readInt32BE(14), 11);
    assert.equal(bodyText.subarray(18).toString(), 'n,,n=,r=abc');
  });
});
