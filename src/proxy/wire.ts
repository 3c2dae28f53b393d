/**
 * The PostgreSQL v3 wire messages the proxy reads and writes before it relays bytes: the
 * untyped first messages a client sends (SSLRequest, GSSENCRequest, CancelRequest,
 * StartupMessage), typed messages in both directions, the authentication requests and answers,
 * and `ErrorResponse`. Lengths are checked before anything is allocated: a client cannot make
 * the proxy buffer more than `MAX_STARTUP_BYTES` before it has authenticated.
 */
import { createHash } from 'node:crypto';

/** PostgreSQL's own limit on a startup packet (src/include/libpq/pqcomm.h: MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_BYTES = 10_000;
/** The most a message before authentication may hold (a password, a SASL response). */
export const MAX_AUTH_MESSAGE_BYTES = 10_000;

const PROTOCOL_3 = 196_608; // 3 << 16
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

export type FirstMessage =
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel'; readonly processId: number; readonly secretKey: Buffer }
  | { readonly kind: 'startup'; readonly parameters: ReadonlyMap<string, string> };

/** Why a client's bytes are not a message the proxy can take. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * The first message of a connection, when `buffer` holds all of it: the message and the bytes
 * it took; undefined while more bytes are needed. Throws `ProtocolError` for what is not one.
 */
export function readFirstMessage(
  buffer: Buffer,
): { message: FirstMessage; length: number } | undefined {
  // The length is checked as soon as its four bytes are in: a huge one is refused at once.
  if (buffer.length < 4) return undefined;
  const length = buffer.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_BYTES) {
    throw new ProtocolError(`a startup packet of ${length} bytes`);
  }
  if (buffer.length < length) return undefined;
  const code = buffer.readInt32BE(4);
  if (code === SSL_REQUEST && length === 8) return { message: { kind: 'ssl' }, length };
  if (code === GSSENC_REQUEST && length === 8) return { message: { kind: 'gssenc' }, length };
  if (code === CANCEL_REQUEST) {
    // The secret key is 4 bytes up to protocol 3.0, up to 256 from 3.2.
    if (length < 16 || length > 12 + 256) throw new ProtocolError('a malformed CancelRequest');
    return {
      message: {
        kind: 'cancel',
        processId: buffer.readInt32BE(8),
        secretKey: Buffer.from(buffer.subarray(12, length)),
      },
      length,
    };
  }
  if (code >> 16 !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
  }
  const parameters = new Map<string, string>();
  const fields = buffer.subarray(8, length).toString('utf8').split('\0');
  // key\0value\0 … \0: the last two split results are the final empty name and the remainder.
  if (fields.length < 2 || fields.at(-1) !== '' || fields.at(-2) !== '') {
    throw new ProtocolError('a StartupMessage not ending in a zero byte');
  }
  for (let i = 0; i + 1 < fields.length - 2; i += 2) {
    parameters.set(fields[i] ?? '', fields[i + 1] ?? '');
  }
  if (!parameters.get('user')) throw new ProtocolError('a StartupMessage without a user');
  return { message: { kind: 'startup', parameters }, length };
}

/** A StartupMessage for protocol 3.0 with `parameters` (the proxy's upstream connection). */
export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const body = Buffer.from(
    `${Object.entries(parameters)
      .map(([key, value]) => `${key}\0${value}\0`)
      .join('')}\0`,
  );
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3, 4);
  body.copy(out, 8);
  return out;
}

/** A CancelRequest for the backend `processId` with `secretKey` (passed upstream as it came). */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  const out = Buffer.alloc(12 + secretKey.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(CANCEL_REQUEST, 4);
  out.writeInt32BE(processId, 8);
  secretKey.copy(out, 12);
  return out;
}

/** The SSLRequest the proxy sends upstream before TLS. */
export function sslRequest(): Buffer {
  const out = Buffer.alloc(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST, 4);
  return out;
}

/** A typed message: one type byte, a length that counts itself, the body. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/**
 * The next typed message in `buffer`: its type, body and the bytes it took; undefined while more
 * bytes are needed. Throws when its length is impossible or over `max`.
 */
export function readMessage(
  buffer: Buffer,
  max = MAX_AUTH_MESSAGE_BYTES,
): { type: string; body: Buffer; length: number } | undefined {
  if (buffer.length < 5) return undefined;
  const declared = buffer.readInt32BE(1);
  if (declared < 4 || declared > max) {
    throw new ProtocolError(`a message of ${declared} bytes`);
  }
  if (buffer.length < 1 + declared) return undefined;
  return {
    type: String.fromCharCode(buffer[0] ?? 0),
    body: buffer.subarray(5, 1 + declared),
    length: 1 + declared,
  };
}

/** SQLSTATEs the proxy answers with. */
export const SQLSTATE = {
  /** Wrong token (`invalid_password`). */
  invalidPassword: '28P01',
  /** No token, or an authentication method the proxy does not take. */
  invalidAuthorization: '28000',
  /** Upstream cannot be reached or refused the proxy (`connection_failure`). */
  connectionFailure: '08006',
  /** Malformed first messages (`protocol_violation`). */
  protocolViolation: '08P01',
  /** Shutting down (`admin_shutdown`). */
  adminShutdown: '57P01',
  /** Over a proxy's `maxConnections` (`too_many_connections`, as PostgreSQL answers). */
  tooManyConnections: '53300',
  featureNotSupported: '0A000',
} as const;

/** An `ErrorResponse` (severity FATAL unless given) with a SQLSTATE and a message. */
export function errorResponse(code: string, text: string, severity = 'FATAL'): Buffer {
  const fields = [`S${severity}`, `V${severity}`, `C${code}`, `M${text}`]
    .map((field) => `${field}\0`)
    .join('');
  return message('E', Buffer.from(`${fields}\0`));
}

/** The code and message of an `ErrorResponse` body (an upstream refusal, for logs and the client). */
export function readErrorFields(body: Buffer): { code: string; message: string } {
  let code = '';
  let text = '';
  for (const field of body.toString('utf8').split('\0')) {
    if (field.startsWith('C')) code = field.slice(1);
    else if (field.startsWith('M')) text = field.slice(1);
  }
  return { code, message: text };
}

export type AuthenticationRequest =
  | { readonly method: 'ok' }
  | { readonly method: 'cleartext' }
  | { readonly method: 'md5'; readonly salt: Buffer }
  | { readonly method: 'sasl'; readonly mechanisms: readonly string[] }
  | { readonly method: 'sasl-continue'; readonly data: string }
  | { readonly method: 'sasl-final'; readonly data: string }
  | { readonly method: 'unsupported'; readonly code: number };

/** The body of an `R` (Authentication) message. */
export function readAuthentication(body: Buffer): AuthenticationRequest {
  if (body.length < 4) throw new ProtocolError('a short Authentication message');
  const code = body.readInt32BE(0);
  switch (code) {
    case 0:
      return { method: 'ok' };
    case 3:
      return { method: 'cleartext' };
    case 5:
      if (body.length < 8) throw new ProtocolError('an AuthenticationMD5Password without salt');
      return { method: 'md5', salt: Buffer.from(body.subarray(4, 8)) };
    case 10:
      return {
        method: 'sasl',
        mechanisms: body.subarray(4).toString('utf8').split('\0').filter(Boolean),
      };
    case 11:
      return { method: 'sasl-continue', data: body.subarray(4).toString('utf8') };
    case 12:
      return { method: 'sasl-final', data: body.subarray(4).toString('utf8') };
    default:
      return { method: 'unsupported', code };
  }
}

/** `AuthenticationCleartextPassword`: how the proxy asks a client for the token. */
export function askCleartextPassword(): Buffer {
  const body = Buffer.alloc(4);
  body.writeInt32BE(3, 0);
  return message('R', body);
}

/** `AuthenticationOk`. */
export function authenticationOk(): Buffer {
  return message('R', Buffer.alloc(4));
}

/** A `PasswordMessage` (`p`) holding `password`. */
export function passwordMessage(password: string): Buffer {
  return message('p', Buffer.from(`${password}\0`));
}

/** The password of a client's `PasswordMessage` body. */
export function readPassword(body: Buffer): string {
  const end = body.indexOf(0);
  return body.subarray(0, end === -1 ? body.length : end).toString('utf8');
}

/** PostgreSQL's MD5 answer: `md5` + md5(md5(password + user) + salt), hex. */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password).update(user).digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}

/** A `SASLInitialResponse` (`p`): the mechanism, then the client-first message. */
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data);
  const name = Buffer.from(`${mechanism}\0`);
  const length = Buffer.alloc(4);
  length.writeInt32BE(payload.length, 0);
  return message('p', Buffer.concat([name, length, payload]));
}

/** A `SASLResponse` (`p`): the client-final message. */
export function saslResponse(data: string): Buffer {
  return message('p', Buffer.from(data));
}
