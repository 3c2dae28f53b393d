/**
 * The HTTP front: one `node:http` request listener. On every route it refuses (400) a Host that
 * is not one well-formed `host[:port]` and a Host or Authorization sent twice; on credential
 * routes it checks that Host is a loopback name (DNS-rebinding guard) and the token. It serves
 * every GET (and HEAD) of the route table itself — no per-request framework machinery on the path
 * clients poll, and a cache hit answered without waiting on a promise — and hands the other
 * methods (POST bodies, 405) to an express app built from the same table, loaded on first use.
 * Every answer is counted under its route pattern.
 *
 * On shutdown the front drains (every answer from then on carries `Connection: close`, so a
 * keep-alive client closes its connection after it instead of having it reset later), and at the
 * end of the grace period it answers whatever is still waiting (`abandon`).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express, NextFunction, Request, Response } from 'express';
import { LoadCancelled } from '../../cache/fetcher.js';
import type { Clock } from '../../clock.js';
import type { Metrics, RouteMetrics } from '../../metrics/metrics.js';
import { hostOfHeader, isLoopbackHost } from '../../net/loopback.js';
import type { TokenAuth } from './auth.js';
import { ApiError, errorBody, errorHeaders, invalid, toApiError } from './errors.js';
import type { Logger } from '../logger.js';
import { RefusalLog } from './refusals.js';
import { type Reply, reply } from './reply.js';
import { type Method, type RequestContext, type Route, routeMatcher } from './routes.js';

/** Request bodies above this are refused (16 KiB, as docs/api.md states). */
export const MAX_BODY_BYTES = 16 * 1024;

export interface FrontOptions {
  readonly routes: readonly Route[];
  /** The token check in use (the running configuration's: a reload may change it). */
  readonly auth: Pick<TokenAuth, 'check'>;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Host names besides the loopback ones that credential requests may name (a non-loopback listen address). */
  readonly extraHosts?: readonly string[];
  /** The access log of refused requests (made here when not given; fronts may share one). */
  readonly refusals?: RefusalLog;
}

/** Whether the name `name` is `lower` (lower-case letters), in any case; allocates nothing. */
function isHeader(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let index = 0; index < lower.length; index += 1) {
    if ((name.charCodeAt(index) | 0x20) !== lower.charCodeAt(index)) return false;
  }
  return true;
}

/**
 * `Host` or `Authorization` when the request sent it more than once, else undefined. Node keeps
 * the first of repeated Host and Authorization headers in `req.headers` and drops the others, so
 * the raw list (name, value, name, value, …) is counted; nothing is allocated.
 */
function repeatedHeader(raw: readonly string[]): 'Host' | 'Authorization' | undefined {
  let hosts = 0;
  let authorizations = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index] ?? '';
    if (isHeader(name, 'host')) {
      if (++hosts > 1) return 'Host';
    } else if (isHeader(name, 'authorization')) {
      if (++authorizations > 1) return 'Authorization';
    }
  }
  return undefined;
}

/** Connections on which an answer has been sent: a later parse error there only closes them. */
const answered = new WeakSet<object>();

/** Counted (never sent) for a request whose client hung up before its answer, as nginx does. */
const CLIENT_CLOSED = 499;

/** The flat header pair that makes Node close the connection once the answer is written. */
const CLOSE = ['connection', 'close'] as const;

/**
 * Writes `answer`, with `Connection: close` when `close`. A request already answered (by
 * `abandon` at the end of the grace period) is left alone: its late answer goes nowhere.
 */
function send(res: ServerResponse, answer: Reply, close: boolean): void {
  if (res.headersSent || res.writableEnded) return;
  if (res.socket) answered.add(res.socket);
  // Rendered replies are shared between requests: add to a copy, never to them.
  res.writeHead(
    answer.status,
    (close ? [...answer.headers, ...CLOSE] : answer.headers) as string[],
  );
  res.end(answer.body);
}

function errorReply(error: ApiError): Reply {
  return reply(error.status, errorHeaders(error), errorBody(error));
}

/** What every exchange of one front shares: shutdown state and what still waits. */
interface FrontState {
  readonly clock: Clock;
  /** Exchanges whose answer is still to come (a load, a body, express). */
  readonly waiting: Set<Exchange>;
  inFlight: number;
  /** Shutdown has begun: every answer carries `Connection: close`. */
  draining: boolean;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * One request and its answer: the only object the front makes per request (a hit allocates
 * nothing else of ours). It is also what a GET handler is given (`RequestContext`); its hang-up
 * signal is made only when a handler asks for it (a miss). A class with methods and a prototype
 * getter, not closures and an object literal with a getter: such a literal is built on V8's slow
 * path and made hits about 40 % slower.
 */
class Exchange implements RequestContext {
  rawQuery = '';
  params: Readonly<Record<string, string>> = NO_PARAMS;
  /** Answered (or abandoned): a later answer is dropped. */
  finished = false;
  /** The client hung up before its answer: nothing is written, 499 is counted. */
  gone = false;
  /** Answered before the body was read: the connection closes after the answer. */
  closeAfter = false;
  /** Answered by express (POST, 405): counted when the response closes, not in `finish`. */
  viaExpress = false;
  #hangUp: AbortController | undefined;

  constructor(
    readonly res: ServerResponse,
    readonly started: number,
    readonly observe: RouteMetrics,
    readonly front: FrontState,
  ) {}

  /** Writes `answer` (unless the client is gone or it was answered already) and counts it. */
  finish(answer: Reply): void {
    if (this.finished) return;
    this.finished = true;
    const { front } = this;
    front.waiting.delete(this);
    if (this.viaExpress) {
      // Answered for express at the end of the grace period; express's own answer is dropped.
      send(this.res, answer, true);
      return;
    }
    if (!this.gone) send(this.res, answer, front.draining || this.closeAfter);
    front.inFlight -= 1;
    this.observe.observe(
      this.gone ? CLIENT_CLOSED : answer.status,
      (front.clock.monotonic() - this.started) / 1000,
    );
  }

  /** Marks the request abandoned by its client; false when it was answered already. */
  hangUp(): boolean {
    if (this.finished) return false;
    this.gone = true;
    return true;
  }

  get signal(): AbortSignal {
    if (!this.#hangUp) {
      const controller = (this.#hangUp = new AbortController());
      const res = this.res;
      const socket = res.socket;
      const hungUp = () => {
        socket?.off('end', hungUp);
        if (this.hangUp()) controller.abort(new LoadCancelled('the client hung up'));
      };
      // A client that closed its side (FIN) is gone: Node aborts its request, but only says so
      // on the response once the socket has closed, some turns later.
      socket?.once('end', hungUp);
      res.once('close', hungUp);
    }
    return this.#hangUp.signal;
  }
}

export interface Front {
  readonly listener: RequestListener;
  /** Requests being answered now. */
  inFlight(): number;
  /** From now on every answer carries `Connection: close` (shutdown has begun). */
  drain(): void;
  /**
   * Answers every request still waiting for its answer with `error` (and `Connection: close`);
   * their own answers, when they come, are dropped. Returns how many were answered.
   */
  abandon(error: ApiError): number;
}

export function createFront(options: FrontOptions): Front {
  const { routes, auth, metrics, clock, logger } = options;
  const refusals = options.refusals ?? new RefusalLog({ clock, logger });
  const match = routeMatcher(routes);
  const extraHosts = new Set((options.extraHosts ?? []).map((host) => host.toLowerCase()));
  const routeMetrics = new Map<string, RouteMetrics>();
  const metricsFor = (pattern: string): RouteMetrics => {
    let handle = routeMetrics.get(pattern);
    if (!handle) {
      handle = metrics.route(pattern);
      routeMetrics.set(pattern, handle);
    }
    return handle;
  };
  const unmatched = metricsFor('unmatched');
  let app: Promise<Express> | undefined;
  const state: FrontState = { clock, waiting: new Set(), inFlight: 0, draining: false };
  const write = (res: ServerResponse, answer: Reply) => send(res, answer, state.draining);
  // Clients send the same Host on every request: remember the last well-formed one, and
  // whether credential requests may name it (a malformed Host is parsed anew each time).
  let knownHost: string | undefined;
  let knownHostAllowed = false;

  /**
   * What the request's Host and Authorization headers say before any route looks at it: an error
   * (400) when Host is not one well-formed `host[:port]` or either header is repeated; otherwise
   * whether Host names this daemon (a loopback name or an allowed one; true without Host).
   */
  const checkHeaders = (req: IncomingMessage): ApiError | boolean => {
    const repeated = repeatedHeader(req.rawHeaders);
    if (repeated !== undefined) return invalid(`${repeated}: sent more than once`);
    const host = req.headers.host;
    if (host === undefined) return true;
    if (host !== knownHost) {
      const name = hostOfHeader(host);
      if (name === undefined) return invalid('Host: not one well-formed host[:port]');
      knownHostAllowed = isLoopbackHost(name) || extraHosts.has(name);
      knownHost = host;
    }
    return knownHostAllowed;
  };

  /** Why a credential request is refused (Host not this daemon's, then the token), if it is. */
  const guard = (req: IncomingMessage, hostAllowed: boolean): ApiError | undefined => {
    if (!hostAllowed) {
      return new ApiError('Forbidden', 'Host: not a loopback name (DNS-rebinding guard)');
    }
    if (!auth.check(req.headers.authorization)) {
      return new ApiError(
        'Unauthorized',
        req.headers.authorization === undefined
          ? 'Authorization: missing; send the token as the header value'
          : 'Authorization: wrong token',
      );
    }
    return undefined;
  };

  /** The error answer to `req`, logged in the access log of refusals. */
  const refuse = (req: IncomingMessage, route: string, error: ApiError): Reply => {
    refusals.note({
      method: req.method ?? '',
      route,
      status: error.status,
      code: error.code,
      reason: error.message,
    });
    return errorReply(error);
  };

  const fail = (req: IncomingMessage, route: string, error: unknown): Reply => {
    const apiError = toApiError(error);
    if (apiError.code === 'InternalError') logger.error({ err: error }, 'request failed');
    return refuse(req, route, apiError);
  };

  const listener: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const found = match(path);
    const exchange = new Exchange(
      res,
      clock.monotonic(),
      found ? metricsFor(found.route.pattern) : unmatched,
      state,
    );
    state.inFlight += 1;
    const hostAllowed = checkHeaders(req);
    if (typeof hostAllowed !== 'boolean') {
      // Before the route, the token or any body: the connection closes after the refusal.
      exchange.closeAfter = true;
      exchange.finish(refuse(req, found?.route.pattern ?? 'unmatched', hostAllowed));
      return;
    }
    if (!found) {
      exchange.finish(
        refuse(
          req,
          'unmatched',
          new ApiError('NotFound', `path: no route for ${JSON.stringify(path.slice(0, 120))}`),
        ),
      );
      return;
    }
    const route = found.route.pattern;
    if (found.malformed) {
      exchange.finish(refuse(req, route, invalid('path: malformed percent-encoding')));
      return;
    }
    if (found.route.auth) {
      const refused = guard(req, hostAllowed);
      if (refused) {
        // Answered before any body is read: the connection closes after it, so a client
        // trickling a body after a 401 or 403 does not keep its socket.
        exchange.closeAfter = true;
        exchange.finish(refuse(req, route, refused));
        return;
      }
    }
    const get = found.route.methods.GET;
    if (get && (req.method === 'GET' || req.method === 'HEAD')) {
      let answer: Reply | Promise<Reply>;
      if (q !== -1) exchange.rawQuery = url.slice(q + 1);
      exchange.params = found.params;
      try {
        answer = get(exchange);
      } catch (error) {
        exchange.finish(fail(req, route, error));
        return;
      }
      if (answer instanceof Promise) {
        state.waiting.add(exchange);
        answer.then(
          (settled) => exchange.finish(settled),
          (error: unknown) => exchange.finish(fail(req, route, error)),
        );
      } else {
        exchange.finish(answer);
      }
      return;
    }
    exchange.viaExpress = true;
    state.waiting.add(exchange);
    res.once('close', () => {
      state.waiting.delete(exchange);
      state.inFlight -= 1;
      exchange.observe.observe(res.statusCode, (clock.monotonic() - exchange.started) / 1000);
    });
    app ??= expressApp(routes, logger, write, (request, error) =>
      refuse(request, request.route ? String(request.route.path) : 'unmatched', error),
    );
    app.then(
      (express) => express(req, res),
      (error: unknown) => write(res, fail(req, route, error)),
    );
  };

  return {
    listener,
    inFlight: () => state.inFlight,
    drain: () => {
      state.draining = true;
    },
    abandon: (error) => {
      state.draining = true;
      const exchanges = [...state.waiting];
      state.waiting.clear();
      const answer = errorReply(error);
      for (const exchange of exchanges) exchange.finish(answer);
      return exchanges.length;
    },
  };
}

/**
 * Answers what Node's HTTP parser refuses (malformed request line or headers, data after
 * `Connection: close`, headers over the limit) with the API's JSON error instead of Node's bare
 * 400, then closes the connection. Wire to the server's `clientError` event.
 */
export function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable || answered.has(socket)) {
    socket.destroy();
    return;
  }
  // 400 either way: InvalidRequest is the API's 400 (docs/api.md names no 431 or 408).
  const body = errorBody(
    invalid(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'request: the request line and headers are larger than the server accepts (16 KiB)'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'request: not received in time (server.headersTimeoutSeconds, server.requestTimeoutSeconds)'
          : 'request: not a well-formed HTTP/1.1 request',
    ),
  );
  socket.end(
    'HTTP/1.1 400 Bad Request\r\n' +
      'content-type: application/json\r\ncache-control: no-store\r\nconnection: close\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Express, for what needs more than a GET: bodies, 405 and their errors; built from the route
 * table and imported only when first needed, so a daemon that is only polled never loads it.
 */
async function expressApp(
  routes: readonly Route[],
  logger: Logger,
  send: (res: ServerResponse, answer: Reply) => void,
  refuse: (req: Request, error: ApiError) => Reply,
): Promise<Express> {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const parseJson = express.json({ limit: MAX_BODY_BYTES, type: () => true, strict: true });

  for (const route of routes) {
    const chain = app.route(route.pattern);
    for (const [method, handler] of Object.entries(route.methods) as [
      Method,
      Route['methods'][Method],
    ][]) {
      if (!handler || method === 'GET') continue; // GET and HEAD are the front's
      chain.post(parseJson, (req: Request, res: Response, next: NextFunction) => {
        const q = req.url.indexOf('?');
        const hangUp = new AbortController();
        res.once('close', () => {
          if (!res.writableFinished) hangUp.abort(new LoadCancelled('the client hung up'));
        });
        Promise.resolve(
          handler({
            rawQuery: q === -1 ? '' : req.url.slice(q + 1),
            params: req.params as Record<string, string>,
            body: req.body as unknown,
            signal: hangUp.signal,
          }),
        ).then((answer) => send(res, answer), next);
      });
    }
    const allowed = Object.keys(route.methods);
    chain.all((req: Request, _res: Response, next: NextFunction) => {
      next(
        new ApiError('MethodNotAllowed', `${req.method}: not allowed on ${route.pattern}`, {
          allow: allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed,
        }),
      );
    });
  }
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError('NotFound', `path: no route for ${JSON.stringify(req.path.slice(0, 120))}`));
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const apiError = bodyParserError(error) ?? toApiError(error);
    if (apiError.code === 'InternalError') logger.error({ err: error }, 'request failed');
    // Refused before the rest of the body was read: close rather than read it.
    if (apiError.code === 'PayloadTooLarge') res.shouldKeepAlive = false;
    if (res.writableEnded) return; // answered already, at the end of the shutdown grace period
    if (res.headersSent) {
      res.destroy();
      return;
    }
    send(res, refuse(req, apiError));
  });
  return app;
}

/** Express's and body-parser's own errors (bad encoding, too large, bad JSON) as API errors. */
function bodyParserError(error: unknown): ApiError | undefined {
  if (error instanceof URIError) return invalid('path: malformed percent-encoding');
  if (error instanceof ApiError || typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  if (!('type' in error)) {
    // A 4xx without a type here is body-parser's wrap of an error of the body stream itself:
    // decompression (zlib's Z_DATA_ERROR, brotli's errors) of a body its Content-Encoding misnames.
    return typeof status === 'number' && status >= 400 && status < 500
      ? invalid('body: could not be decoded; does it match its Content-Encoding?')
      : undefined;
  }
  switch ((error as { type: unknown }).type) {
    case 'entity.too.large':
      return new ApiError('PayloadTooLarge', `body: larger than ${MAX_BODY_BYTES} bytes`);
    case 'entity.parse.failed':
      return invalid('body: not valid JSON (a JSON object in the AWS request shape)');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return invalid('body: unsupported charset or content encoding; send UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return invalid('body: incomplete request body');
    default:
      return undefined;
  }
}
