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
import type { Clock } from '../clock.js';
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
  | 'client_gone'
  | 'setup_timeout'
  | 'too_many_connections'
  | 'shutting_down';

/**
 * How long a connection's setup may take, client and upstream together: the client's first
 * messages and token, the credential, the upstream connection and login. A loopback client
 * sends its startup at once and a Redshift login takes well under a second; PostgreSQL's own
 * `authentication_timeout` is 60 s, for logins that may ask a person or a directory. A client
 * that sends nothing is told so and closed at this deadline.
 */
export const SETUP_TIMEOUT_MS = 30_000;

/**
 * After a refusal's `ErrorResponse` and the end of the proxy's side, how long the client gets to
 * read it and close before its socket is closed anyway (a client that never reads nor closes
 * cannot keep a connection, or its place under `maxConnections`). What it sends meanwhile is
 * read and dropped, so the closing never resets an answer not yet read.
 */
export const REFUSAL_LINGER_MS = 1_000;

/**
 * The most of a peer's bytes kept before the login is done. Every message then is at most
 * `MAX_STARTUP_BYTES` or `MAX_AUTH_MESSAGE_BYTES`, and no client sends much beyond the message
 * being read before it is logged in: one that has sent more than this is refused (`08P01`) at
 * once, rather than buffered, or left unread where its hanging up would go unnoticed.
 */
export const MAX_SETUP_BUFFER_BYTES = 64 * 1024;

export interface SessionOptions {
  /** The daemon's clock: the setup deadline and the refusal linger are its timers. */
  readonly clock: Clock;
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
  /** The longest the setup may take, client and upstream together (`SETUP_TIMEOUT_MS`). */
  readonly setupTimeoutMs?: number;
  /** Aborted when the proxy shuts down: a session still setting up is told `57P01` and closed. */
  readonly shutdown?: AbortSignal;
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
 * keeps the rest for the next read. Ends with a `Refusal` when the peer goes, and with the setup's
 * abort reason as soon as it is aborted; aborts the setup itself (with `overflow`'s refusal)
 * when more than `MAX_SETUP_BUFFER_BYTES` wait to be read, whatever the session is waiting for.
 */
class Reader {
  #buffer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  readonly signal: AbortSignal;

  constructor(
    readonly socket: Socket | TLSSocket,
    readonly setup: AbortController,
    readonly overflow: () => Refusal,
  ) {
    this.signal = setup.signal;
    socket.on('data', this.#onData);
    socket.once('end', this.#onEnd);
    socket.once('close', this.#onEnd);
    this.signal.addEventListener('abort', this.#onEnd);
  }

  readonly #onData = (chunk: Buffer) => {
    if (this.signal.aborted) return;
    if (this.#buffer.length + chunk.length > MAX_SETUP_BUFFER_BYTES) {
      this.#buffer = Buffer.alloc(0);
      this.setup.abort(this.overflow());
    } else {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    }
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
      if (this.signal.aborted) throw this.signal.reason;
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
    this.signal.removeEventListener('abort', this.#onEnd);
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }
}

/**
 * Opens the upstream connection: TCP, then TLS as `tls` says. Aborting `signal` closes it, at
 * any step and after.
 */
async function openUpstream(
  options: SessionOptions,
  signal: AbortSignal,
): Promise<Socket | TLSSocket> {
  const { host, port } = options.upstream;
  const raw = tcpConnect({ host, port, signal });
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
  if (answer.length > 1) {
    // Bytes before the handshake could be read as if TLS had sent them (libpq refuses them
    // too, since CVE-2021-23222).
    raw.destroy();
    throw new Error('upstream sent data after accepting TLS, before the handshake');
  }
  const tlsOptions: ConnectionOptions = {
    socket: raw,
    servername: /^[\d.]+$|:/.test(host) ? undefined : host,
    rejectUnauthorized: options.tls === 'verify-full',
    ...(options.ca !== undefined && { ca: options.ca }),
  };
  const secure = tlsConnect(tlsOptions);
  // The TCP socket under it is closed by the signal; the TLS one goes with it.
  signal.addEventListener('abort', () => secure.destroy(), { once: true });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return secure;
}

/**
 * Refuses a client: an `ErrorResponse` with `sqlstate` and `text`, then the proxy's side ends.
 * What the client still sends is read and dropped; if it has not closed after
 * `REFUSAL_LINGER_MS`, its socket is closed. Never a dropped socket, never a held one.
 */
export function refuse(client: Socket, clock: Clock, sqlstate: string, text: string): void {
  if (client.destroyed) return;
  client.on('error', () => client.destroy());
  client.end(errorResponse(sqlstate, text));
  client.resume();
  const linger = clock.setTimeout(() => client.destroy(), REFUSAL_LINGER_MS);
  client.once('close', () => linger.cancel());
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
 * client refused and its socket ended); relaying goes on after. Until then, the client going
 * away or the setup deadline (`SETUP_TIMEOUT_MS`) aborts whatever the session is waiting for,
 * and closes the upstream connection if one is open or opening.
 */
export async function runSession(client: Socket, options: SessionOptions): Promise<SessionOutcome> {
  const { clock } = options;
  client.setNoDelay(true);
  client.on('error', () => client.destroy());
  const setup = new AbortController();
  const timeoutMs = options.setupTimeoutMs ?? SETUP_TIMEOUT_MS;
  const clientGone = () =>
    new Refusal('client_gone', SQLSTATE.protocolViolation, 'the client went away');
  const timer = clock.setTimeout(
    () =>
      setup.abort(
        new Refusal(
          'setup_timeout',
          SQLSTATE.connectionFailure,
          `the connection was not set up within ${timeoutMs / 1000} s`,
        ),
      ),
    timeoutMs,
  );
  // Shutting down: a login not done yet is not finished (no new upstream session), the client
  // is told why. A relayed session is past this and gets the drain's grace period.
  const onShutdown = () =>
    setup.abort(
      new Refusal('shutting_down', SQLSTATE.adminShutdown, 'the credcache proxy is shutting down'),
    );
  if (options.shutdown?.aborted) onShutdown();
  else options.shutdown?.addEventListener('abort', onShutdown, { once: true });
  // A CancelRequest is passed on even when the client hangs up right after sending it.
  let abortOnClose = true;
  const onClose = () => {
    if (abortOnClose) setup.abort(clientGone());
  };
  client.once('close', onClose);
  const reader = new Reader(
    client,
    setup,
    () =>
      new Refusal(
        'protocol_error',
        SQLSTATE.protocolViolation,
        `more than ${MAX_SETUP_BUFFER_BYTES} bytes sent before the login was done`,
      ),
  );
  /** `promise`, unless the setup is aborted first. */
  const unlessAborted = <T>(promise: Promise<T>): Promise<T> =>
    setup.signal.aborted
      ? Promise.reject(setup.signal.reason as Error)
      : new Promise<T>((resolve, reject) => {
          const onAbort = () => reject(setup.signal.reason as Error);
          setup.signal.addEventListener('abort', onAbort, { once: true });
          promise.then(resolve, reject).finally(() => {
            setup.signal.removeEventListener('abort', onAbort);
          });
        });
  const settle = (outcome: SessionOutcome, detail?: string) => {
    timer.cancel();
    options.shutdown?.removeEventListener('abort', onShutdown);
    client.off('close', onClose);
    options.outcome?.(outcome, detail);
    return outcome;
  };
  try {
    // First messages: decline encryption (loopback) once each, as PostgreSQL does, then the
    // startup or a cancel.
    let first = await reader.next(readFirstMessage, clientGone);
    const declined = new Set<string>();
    while (first.message.kind === 'ssl' || first.message.kind === 'gssenc') {
      if (declined.has(first.message.kind)) {
        throw new ProtocolError(
          `a second ${first.message.kind === 'ssl' ? 'SSL' : 'GSSENC'}Request`,
        );
      }
      declined.add(first.message.kind);
      client.write('N');
      first = await reader.next(readFirstMessage, clientGone);
    }
    if (first.message.kind === 'cancel') {
      // Pass it on as it came: the client holds upstream's own process id and key. PostgreSQL
      // answers nothing and closes both connections; so does the proxy, once upstream has closed
      // (or at the setup's deadline, so that no upstream connection outlives it).
      abortOnClose = false;
      reader.detach();
      client.resume();
      client.once('end', () => client.destroy());
      const cancel = cancelRequest(first.message.processId, first.message.secretKey);
      const upstream = await openUpstream(options, setup.signal).catch(() => undefined);
      if (upstream) {
        upstream.on('error', () => upstream.destroy());
        upstream.resume();
        await new Promise<void>((resolve) => {
          const done = () => {
            upstream.destroy();
            resolve();
          };
          upstream.once('close', done);
          setup.signal.addEventListener('abort', done, { once: true });
          upstream.end(cancel);
        });
      }
      client.destroy();
      return settle(upstream ? 'cancel_forwarded' : 'upstream_unreachable');
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
    const credential = await unlessAborted(options.credential()).catch((error: unknown) => {
      if (setup.signal.aborted) throw error;
      throw new Refusal(
        'no_credential',
        SQLSTATE.connectionFailure,
        `no credential for the target: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    const upstreamSocket = await openUpstream(options, setup.signal).catch((error: unknown) => {
      if (setup.signal.aborted) throw setup.signal.reason as Error;
      throw new Refusal(
        'upstream_unreachable',
        SQLSTATE.connectionFailure,
        `cannot reach the database at ${options.upstream.host}:${options.upstream.port}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    // An upstream error ends the setup through its reader, and the relay through 'close'.
    upstreamSocket.on('error', () => upstreamSocket.destroy());
    const upstreamReader = new Reader(
      upstreamSocket,
      setup,
      () =>
        new Refusal(
          'upstream_refused',
          SQLSTATE.connectionFailure,
          `upstream sent more than ${MAX_SETUP_BUFFER_BYTES} bytes before the login was done`,
        ),
    );
    await authenticateUpstream(
      upstreamReader,
      credential,
      parameters,
      options.saltedPasswords,
    ).catch((error: unknown) => {
      // What upstream sent broke the protocol: upstream's fault, not the client's.
      if (error instanceof ProtocolError) {
        throw new Refusal(
          'upstream_refused',
          SQLSTATE.connectionFailure,
          `upstream broke the protocol: ${error.message}`,
        );
      }
      throw error;
    });
    // Logged in: the client is told so, then everything is relayed as it comes.
    const fromUpstream = upstreamReader.detach();
    const fromClient = reader.detach();
    client.write(Buffer.concat([authenticationOk(), fromUpstream]));
    if (fromClient.length > 0) upstreamSocket.write(fromClient);
    client.pipe(upstreamSocket);
    upstreamSocket.pipe(client);
    client.once('close', () => upstreamSocket.destroy());
    upstreamSocket.once('close', () => client.destroy());
    return settle('success');
  } catch (error) {
    const refusal = setup.signal.aborted
      ? (setup.signal.reason as Refusal)
      : error instanceof Refusal
        ? error
        : error instanceof ProtocolError
          ? new Refusal('protocol_error', SQLSTATE.protocolViolation, error.message)
          : new Refusal(
              'upstream_refused',
              SQLSTATE.connectionFailure,
              error instanceof Error ? error.message : String(error),
            );
    // Whatever is open or opening upstream goes (the signal closes it), and the client is told.
    if (!setup.signal.aborted) setup.abort(refusal);
    reader.detach();
    if (refusal.outcome !== 'client_gone') {
      refuse(client, clock, refusal.sqlstate, refusal.message);
    }
    return settle(refusal.outcome, refusal.message);
  }
}
