/**
 * The emulator's HTTP server: routes a request to an operation (restJson1 path for Lake
 * Formation, awsJson1_1 `X-Amz-Target` for Redshift Serverless), to the S3 data plane (an S3
 * method on a path naming a bucket) or to the control API,
 * checks the signature, applies injected faults, and writes AWS-shaped answers.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock.js';
import { listen, serverUrl } from '../net/address.js';
import { hostOfHeader, isLoopbackHost } from '../net/loopback.js';
import { handleControl, handleObjectControl } from './control.js';
import type { LoginDatabase } from './database.js';
import { EmulatorError } from './errors.js';
import {
  LAKE_FORMATION,
  OPERATION_HANDLERS,
  type Operation,
  REDSHIFT_SERVERLESS,
} from './operations.js';
import { handleS3, isS3Request } from './s3.js';
import { type ParsedAuthorization, parseAuthorization, verifySignature } from './sigv4.js';
import { EmulatorState, type Fault, isOperationName } from './state.js';
import { parseJsonObject } from './validation.js';

export interface EmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 or absent picks a free one. */
  readonly port?: number;
  readonly clock?: Clock;
  /**
   * Access keys (id → secret) whose signatures are verified. When given, requests must be signed
   * by one of them or by a credential the emulator issued; when absent, any access key id is
   * accepted and signatures are not checked.
   */
  readonly accessKeys?: ReadonlyMap<string, string>;
  /**
   * A PostgreSQL superuser connection URL: every Redshift Serverless `GetCredentials` then
   * creates or alters the role `dbUser` there, with the issued password, valid until the
   * credential expires, and allowed to connect to `dbName` (created when missing).
   */
  readonly postgres?: string;
  /** Where issued logins go instead of `postgres` (a fake in unit tests). */
  readonly loginDatabase?: LoginDatabase;
  /** Reports failures the caller sees only as an internal error; default: a line on stderr. */
  readonly logError?: (message: string) => void;
}

export interface RunningEmulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly state: EmulatorState;
  /** Stops listening and drops every connection, including requests held by a `hang` fault. */
  close(): Promise<void>;
}

/**
 * What an AWS SDK client of the emulator uses when its environment names none: the region, and
 * placeholder credentials to sign with (the emulator accepts any key unless started with keys).
 */
export const EMULATOR_CLIENT = {
  region: 'us-east-1',
  credentials: {
    accessKeyId: 'AKIDCREDCACHEEMULATOR',
    secretAccessKey: 'credcache-emulator-placeholder-secret',
  },
} as const;

/** Largest request body the emulator reads. */
export const MAX_BODY_BYTES = 1024 * 1024;

const REDSHIFT_TARGET_PREFIX = 'RedshiftServerless.';

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const clock = options.clock ?? systemClock;
  const state = new EmulatorState();
  const logError =
    options.logError ?? ((message: string) => process.stderr.write(`emulator: ${message}\n`));
  // Imported only when asked for: pg is loaded by an emulator with a database, and by nothing else.
  const database =
    options.loginDatabase ??
    (options.postgres !== undefined
      ? await (await import('./database.js')).connectPostgres(options.postgres)
      : undefined);
  const context: Context = { clock, state, accessKeys: options.accessKeys, database, logError };
  const server = createServer((req, res) => {
    handleRequest(req, res, context).catch((error: unknown) => {
      // Every expected failure is answered inside handleRequest; this is the last guard.
      writeError(res, new EmulatorError('InternalFailure', String(error)), 'application/json');
    });
  });
  server.keepAliveTimeout = 65_000;
  try {
    await listen(server, { host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (error) {
    await database?.close();
    throw error;
  }
  return {
    url: serverUrl(server),
    port: (server.address() as AddressInfo).port,
    state,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await database?.close();
    },
  };
}

interface Context {
  readonly clock: Clock;
  readonly state: EmulatorState;
  readonly accessKeys: ReadonlyMap<string, string> | undefined;
  readonly database: LoginDatabase | undefined;
  readonly logError: (message: string) => void;
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, ctx: Context) {
  const path = req.url ?? '/';
  if (path.startsWith('/_emulator/') || path === '/_emulator') {
    const refusal = controlRefusal(req);
    if (refusal) {
      // Answered before the body is read: the connection closes after it.
      res.setHeader('connection', 'close');
      writeJson(res, refusal.status, refusal.body, 'application/json');
      return;
    }
    if (
      path === '/_emulator/s3' ||
      path.startsWith('/_emulator/s3/') ||
      path.startsWith('/_emulator/s3?')
    ) {
      const answer = await handleObjectControl(req, ctx.state, ctx.clock.now());
      writeJson(res, answer.status, answer.body, 'application/json');
      return;
    }
    const body = await readBody(req).catch(() => undefined);
    const answer = handleControl(ctx.state, req.method ?? 'GET', path, body);
    writeJson(res, answer.status, answer.body, 'application/json');
    return;
  }

  if (isS3Request(req.method ?? 'GET', path)) {
    await handleS3(req, res, ctx);
    return;
  }

  const operation = route(req);
  const contentType = operation?.service.contentType ?? 'application/json';
  try {
    if (!operation) {
      throw new EmulatorError(
        'UnknownOperationException',
        `No operation at ${req.method} ${path.slice(0, 200)}`,
      );
    }
    ctx.state.countCall(operation.name);
    const body = await readBody(req);
    if (body === undefined) {
      throw new EmulatorError(
        'RequestEntityTooLargeException',
        `Request body exceeds ${MAX_BODY_BYTES} bytes`,
      );
    }
    const auth = parseAuthorization(
      headerString(req.headers.authorization),
      operation.service.signingName,
      operation.service.missingAuthStatus,
    );
    await authenticate(req, path, body, auth, ctx);
    const fault = ctx.state.takeFault(operation.name);
    if (fault && !(await applyFault(fault, operation, req, res, ctx.clock))) return;
    const input = parseJsonObject(body, operation.service.serializationError);
    const output = await operation.handle(input, {
      state: ctx.state,
      nowMs: ctx.clock.now(),
      callerAccessKeyId: auth.accessKeyId,
      database: ctx.database,
      logError: ctx.logError,
    });
    writeJson(res, 200, output, contentType);
  } catch (error) {
    if (!(error instanceof EmulatorError)) throw error;
    writeError(res, error, contentType);
  }
}

function route(req: IncomingMessage): Operation | undefined {
  if (req.method !== 'POST') return undefined;
  const [pathname] = (req.url ?? '/').split('?', 1);
  const target = headerString(req.headers['x-amz-target']);
  if (pathname === '/' && target !== undefined) {
    // awsJson1_1: the operation is named by the header; only this service's operations count.
    const name = target.startsWith(REDSHIFT_TARGET_PREFIX)
      ? target.slice(REDSHIFT_TARGET_PREFIX.length)
      : '';
    const operation = isOperationName(name) ? OPERATION_HANDLERS[name] : undefined;
    return operation?.service === REDSHIFT_SERVERLESS ? operation : undefined;
  }
  // restJson1: the operation is named by the path.
  const name = pathname?.slice(1) ?? '';
  const operation = isOperationName(name) ? OPERATION_HANDLERS[name] : undefined;
  return operation?.service === LAKE_FORMATION ? operation : undefined;
}

async function authenticate(
  req: IncomingMessage,
  path: string,
  body: string,
  auth: ParsedAuthorization,
  ctx: Context,
): Promise<void> {
  const issued = ctx.state.lookup(auth.accessKeyId);
  if (ctx.accessKeys) {
    const secret =
      ctx.accessKeys.get(auth.accessKeyId) ??
      (issued && issued.expiration > ctx.clock.now() ? issued.secretAccessKey : undefined);
    if (secret === undefined) {
      throw new EmulatorError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    await verifySignature(
      { method: req.method ?? 'POST', path, headers: req.headers, body },
      auth,
      secret,
      ctx.clock.now(),
    );
  }
  if (issued) issued.signedCalls += 1;
}

/**
 * Acts out an injected fault. Returns true when the request should then be answered normally
 * (latency), false when the fault has answered it or holds it (hang).
 */
async function applyFault(
  fault: Fault,
  operation: Operation,
  req: IncomingMessage,
  res: ServerResponse,
  clock: Clock,
): Promise<boolean> {
  switch (fault.mode) {
    case 'error':
      throw new EmulatorError(
        fault.errorType ?? operation.service.internalError,
        fault.message ?? 'Injected fault',
        ...(fault.status !== undefined ? [fault.status] : []),
      );
    case 'throttle':
      // What AWS answers in practice: a 400 with a generic throttling name and message.
      throw new EmulatorError(
        fault.errorType ?? 'ThrottlingException',
        fault.message ?? 'Rate exceeded',
        fault.status ?? 400,
      );
    case 'latency':
      await new Promise<void>((resolve) => clock.setTimeout(resolve, fault.latencyMs ?? 0));
      return !res.destroyed;
    case 'hang':
      // Hold the request without answering; the client times out or the emulator closes.
      req.resume();
      return false;
  }
}

/** The request body as text, or undefined when it is larger than MAX_BODY_BYTES. */
/**
 * What the control API refuses: anything a web page in a browser on the same host can send
 * without a CORS preflight (which is never answered). A page reaching the emulator by a name that
 * resolves to loopback (DNS rebinding) sends that name as Host; a cross-site form or `fetch` can
 * POST only `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data` bodies.
 */
function controlRefusal(req: IncomingMessage): { status: number; body: unknown } | undefined {
  const host = req.headers.host;
  if (host !== undefined) {
    const name = hostOfHeader(host);
    if (name === undefined || !isLoopbackHost(name)) {
      return controlError(403, 'Forbidden', 'Host: not a loopback name (DNS-rebinding guard)');
    }
  }
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      return controlError(
        415,
        'UnsupportedMediaType',
        'Content-Type: must be application/json (what a web page cannot send without a preflight)',
      );
    }
  }
  return undefined;
}

function controlError(status: number, code: string, message: string) {
  return { status, body: { error: { code, message } } };
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function writeError(res: ServerResponse, error: EmulatorError, contentType: string): void {
  res.setHeader('x-amzn-errortype', error.name);
  writeJson(res, error.status, { __type: error.name, message: error.message }, contentType);
}

function writeJson(res: ServerResponse, status: number, body: unknown, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(payload);
}
