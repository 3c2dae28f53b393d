/**
 * One client connection of the PostgreSQL-protocol proxy: the client's first messages read
 * (SSLRequest and GSSENCRequest declined with `N`: the proxy listens on loopback only; a
 * CancelRequest passed upstream), the client authenticated with the daemon's token as its
 * password (or not, with `clientAuth: none`), then an upstream connection opened with the
 * target's current cached `dbUser` / `dbPassword` — over TLS as configured, answering cleartext,
 * MD5 or SCRAM-SHA-256 as the server asks — and from `AuthenticationOk` on, bytes relayed both
 * ways untouched. The client never sees the password; every refusal is an `ErrorResponse` with a
 * SQLSTATE, never a dropped socket.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { SCRAM_SHA_256, ScramClient, type SaltedPasswords } from './scram.js';
import {
  ProtocolError,
  SQLSTATE,
  askCleartextPassword,
  authenticationOk,
  cancelRequest,
  errorResponse,
  md5Password,
  passwordMessage,
  readAuthentication,
  readErrorFields,
  readFirstMessage,
  readMessage,
  readPassword,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from './wire.js';

export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
}

export type TlsMode = 'verify-full' | 'require' | 'disable';

export interface DatabaseCredential {
  readonly dbUser: string;
  readonly dbPassword: string;
}

/** How a connection ended its setup: `success`, or why it was refused (a metrics label). */
export type SessionOutcome =
  | 'success'
  | 'bad_token'
  | 'no_token'
  | 'protocol_error'
  | 'no_credential'
  | 'upstream_unreachable'
  | 'upstream_refused'
  | 'cancel_forwarded'
  | 'client_gone';

export interface SessionOptions {
  readonly upstream: UpstreamAddress;
  readonly tls: TlsMode;
  /** Trusted CAs for `verify-full` and `require` (PEM); absent: Node's bundled roots. */
  readonly ca?: string | Buffer | undefined;
  /** `token`: the client's password must be the daemon's token; `none`: any local client. */
  readonly clientAuth: 'token' | 'none';
  /** Whether a presented password is the daemon's token (constant time). */
  readonly checkToken: (password: string) => boolean;
  /** The target's current credential (from the cache: a hit, or one load shared with others). */
  readonly credential: () => Promise<DatabaseCredential>;
  /** Told once, when the setup ends (relaying, or refused). */
  readonly outcome?: (outcome: SessionOutcome, detail?: string) => void;
  /** SCRAM keys already derived for a password, shared by the proxy's connections. */
  readonly saltedPasswords?: SaltedPasswords;
  /** The longest the setup may take, client and upstream together (default 30 s). */
  readonly setupTimeoutMs?: number;
}

/** A refusal: what the client is told, and the outcome counted. */
class Refusal extends Error {
  constructor(
    readonly outcome: SessionOutcome,
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads from `socket` until `parse` finds a whole message in what has arrived; returns it and
 * keeps the rest for the next read. Ends with a `Refusal` when the peer goes.
 */
class Reader {
  #buffer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(readonly socket: Socket | TLSSocket) {
    socket.on('data', this.#onData);
    socket.once('end', this.#onEnd);
    socket.once('close', this.#onEnd);
  }

  readonly #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#wake?.();
  };

  readonly #onEnd = () => {
    this.#ended = true;
    this.#wake?.();
  };

  async next<T extends { length: number }>(
    parse: (buffer: Buffer) => T | undefined,
    gone: () => Refusal,
  ): Promise<T> {
    for (;;) {
      const found = parse(this.#buffer);
      if (found) {
        this.#buffer = this.#buffer.subarray(found.length);
        return found;
      }
      if (this.#ended) throw gone();
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Stops reading; returns what arrived beyond the last message (to relay on). */
  detach(): Buffer {
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onEnd);
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }
}

/** Opens the upstream connection: TCP, then TLS as `tls` says. */
async function openUpstream(options: SessionOptions): Promise<Socket | TLSSocket> {
  const { host, port } = options.upstream;
  const raw = tcpConnect({ host, port });
  raw.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  if (options.tls === 'disable') return raw;
  raw.write(sslRequest());
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
    raw.once('close', () => reject(new Error('upstream closed on SSLRequest')));
  });
  if (answer[0] !== 0x53 /* S */) {
    raw.destroy();
    throw new Error('upstream does not accept TLS');
  }
  const tlsOptions: ConnectionOptions = {
    socket: raw,
    servername: /^[\d.]+$|:/.test(host) ? undefined : host,
    rejectUnauthorized: options.tls === 'verify-full',
    ...(options.ca !== undefined && { ca: options.ca }),
  };
  const secure = tlsConnect(tlsOptions);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return secure;
}

/** Logs in upstream as `credential`, answering what the server asks; resolves at AuthenticationOk. */
async function authenticateUpstream(
  upstream: Reader,
  credential: DatabaseCredential,
  parameters: ReadonlyMap<string, string>,
  saltedPasswords: SaltedPasswords | undefined,
): Promise<void> {
  const socket = upstream.socket;
  const startup: Record<string, string> = {};
  for (const [key, value] of parameters) if (key !== 'user') startup[key] = value;
  socket.write(startupMessage({ ...startup, user: credential.dbUser }));
  const gone = () =>
    new Refusal('upstream_refused', SQLSTATE.connectionFailure, 'upstream closed the connection');
  let scram: ScramClient | undefined;
  for (;;) {
    const { type, body } = await upstream.next((buffer) => readMessage(buffer), gone);
    if (type === 'E') {
      const { code, message } = readErrorFields(body);
      throw new Refusal(
        'upstream_refused',
        SQLSTATE.connectionFailure,
        `upstream refused the login (${code}): ${message}`,
      );
    }
    if (type !== 'R') {
      throw new Refusal(
        'upstream_refused',
        SQLSTATE.connectionFailure,
        `upstream sent ${type} before authenticating`,
      );
    }
    const request = readAuthentication(body);
    switch (request.method) {
      case 'ok':
        return;
      case 'cleartext':
        socket.write(passwordMessage(credential.dbPassword));
        break;
      case 'md5':
        socket.write(
          passwordMessage(md5Password(credential.dbUser, credential.dbPassword, request.salt)),
        );
        break;
      case 'sasl':
        if (!request.mechanisms.includes(SCRAM_SHA_256)) {
          throw new Refusal(
            'upstream_refused',
            SQLSTATE.connectionFailure,
            `upstream offers no SASL mechanism the proxy speaks (${request.mechanisms.join(', ')})`,
          );
        }
        scram = new ScramClient(credential.dbPassword, {
          ...(saltedPasswords && { salted: saltedPasswords }),
        });
        socket.write(saslInitialResponse(SCRAM_SHA_256, scram.first()));
        break;
      case 'sasl-continue':
        if (!scram)
          throw new Refusal(
            'upstream_refused',
            SQLSTATE.connectionFailure,
            'upstream continued a SASL exchange never begun',
          );
        socket.write(saslResponse(await scram.final(request.data)));
        break;
      case 'sasl-final':
        if (!scram)
          throw new Refusal(
            'upstream_refused',
            SQLSTATE.connectionFailure,
            'upstream ended a SASL exchange never begun',
          );
        scram.verify(request.data);
        break;
      case 'unsupported':
        throw new Refusal(
          'upstream_refused',
          SQLSTATE.connectionFailure,
          `upstream asks for an authentication method the proxy does not speak (code ${request.code})`,
        );
    }
  }
}

/**
 * Runs one client connection to its end. Resolves once the setup has ended (relaying, or the
 * client refused and its socket ended); relaying goes on after.
 */
export async function runSession(client: Socket, options: SessionOptions): Promise<SessionOutcome> {
  client.setNoDelay(true);
  const reader = new Reader(client);
  let upstreamSocket: Socket | TLSSocket | undefined;
  const clientGone = () =>
    new Refusal('client_gone', SQLSTATE.protocolViolation, 'the client went away');
  const timer = setTimeout(() => {
    client.destroy();
    upstreamSocket?.destroy();
  }, options.setupTimeoutMs ?? 30_000);
  const settle = (outcome: SessionOutcome, detail?: string) => {
    clearTimeout(timer);
    options.outcome?.(outcome, detail);
    return outcome;
  };
  client.on('error', () => client.destroy());
  try {
    // First messages: decline encryption (loopback), then the startup or a cancel.
    let first = await reader.next(readFirstMessage, clientGone);
    while (first.message.kind === 'ssl' || first.message.kind === 'gssenc') {
      client.write('N');
      first = await reader.next(readFirstMessage, clientGone);
    }
    if (first.message.kind === 'cancel') {
      // Pass it on as it came: the client holds upstream's own process id and key.
      const cancel = cancelRequest(first.message.processId, first.message.secretKey);
      const upstream = await openUpstream(options).catch(() => undefined);
      upstream?.end(cancel);
      client.end();
      return settle('cancel_forwarded');
    }
    const { parameters } = first.message;
    if (options.clientAuth === 'token') {
      client.write(askCleartextPassword());
      const answer = await reader.next((buffer) => readMessage(buffer), clientGone);
      if (answer.type !== 'p') {
        throw new Refusal(
          'no_token',
          SQLSTATE.invalidAuthorization,
          'send the credcache token as the password',
        );
      }
      if (!options.checkToken(readPassword(answer.body))) {
        throw new Refusal(
          'bad_token',
          SQLSTATE.invalidPassword,
          'password authentication failed: the password must be the credcache token',
        );
      }
    }
    const credential = await options.credential().catch((error: unknown) => {
      throw new Refusal(
        'no_credential',
        SQLSTATE.connectionFailure,
        `no credential for the target: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    upstreamSocket = await openUpstream(options).catch((error: unknown) => {
      throw new Refusal(
        'upstream_unreachable',
        SQLSTATE.connectionFailure,
        `cannot reach the database at ${options.upstream.host}:${options.upstream.port}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    const upstreamReader = new Reader(upstreamSocket);
    upstreamSocket.on('error', () => client.destroy());
    await authenticateUpstream(upstreamReader, credential, parameters, options.saltedPasswords);
    // Logged in: the client is told so, then everything is relayed as it comes.
    const fromUpstream = upstreamReader.detach();
    const fromClient = reader.detach();
    client.write(Buffer.concat([authenticationOk(), fromUpstream]));
    if (fromClient.length > 0) upstreamSocket.write(fromClient);
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
    const up = upstreamSocket;
    client.once('close', () => up.destroy());
    up.once('close', () => client.destroy());
    return settle('success');
  } catch (error) {
    const refusal =
      error instanceof Refusal
        ? error
        : error instanceof ProtocolError
          ? new Refusal('protocol_error', SQLSTATE.protocolViolation, error.message)
          : new Refusal(
              'upstream_refused',
              SQLSTATE.connectionFailure,
              error instanceof Error ? error.message : String(error),
            );
    upstreamSocket?.destroy();
    if (refusal.outcome !== 'client_gone' && !client.destroyed) {
      client.end(errorResponse(refusal.sqlstate, refusal.message));
    }
    return settle(refusal.outcome, refusal.message);
  }
}
