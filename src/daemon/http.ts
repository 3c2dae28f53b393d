/**
 * The HTTP front: one `node:http` request listener. It checks the loopback Host header and
 * the token on credential routes, serves the hot GET routes itself (no per-request framework
 * machinery on the path clients poll), and hands everything else to the express app built from
 * the same route table. Every answer is counted under its route pattern.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Clock } from '../clock.js';
import type { Metrics, RouteMetrics } from '../metrics/metrics.js';
import type { TokenAuth } from './auth.js';
import { isLoopbackHost } from './config.js';
import { ApiError, errorBody, errorHeaders, invalid, toApiError } from './errors.js';
import type { Logger } from './logger.js';
import { type Method, type Reply, type Route, type RouteMatch, routeMatcher } from './routes.js';

/** Request bodies above this are refused (SPEC: 16 KiB). */
export const MAX_BODY_BYTES = 16 * 1024;

export interface FrontOptions {
  readonly routes: readonly Route[];
  readonly auth: TokenAuth;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Host names besides the loopback ones that credential requests may name (a non-loopback listen address). */
  readonly extraHosts?: readonly string[];
}

/** The hostname of a Host header value, without port or IPv6 brackets. */
export function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-length': String(Buffer.byteLength(reply.body)),
  });
  res.end(reply.body);
}

function sendError(res: ServerResponse, error: ApiError): void {
  send(res, { status: error.status, headers: errorHeaders(error), body: errorBody(error) });
}

export interface Front {
  readonly listener: RequestListener;
  /** Requests being answered now. */
  inFlight(): number;
}

export function createFront(options: FrontOptions): Front {
  const { routes, auth, metrics, clock, logger } = options;
  const match = routeMatcher(routes);
  const app = expressApp(routes, logger);
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
  let inFlight = 0;

  const guard = (req: IncomingMessage): ApiError | undefined => {
    const host = req.headers.host;
    if (host !== undefined) {
      const name = hostName(host);
      if (!isLoopbackHost(name) && !extraHosts.has(name)) {
        return new ApiError('Forbidden', 'Host: not a loopback name (DNS-rebinding guard)');
      }
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

  const serveHot = async (
    res: ServerResponse,
    found: RouteMatch,
    query: URLSearchParams,
    done: (status: number) => void,
  ): Promise<void> => {
    let reply: Reply;
    try {
      const handler = found.route.methods.GET;
      if (!handler) throw new ApiError('MethodNotAllowed', 'GET: not allowed');
      reply = await handler({ query, params: found.params });
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.code === 'InternalError') logger.error({ err: error }, 'request failed');
      sendError(res, apiError);
      done(apiError.status);
      return;
    }
    send(res, reply);
    done(reply.status);
  };

  const listener: RequestListener = (req, res) => {
    const started = clock.monotonic();
    inFlight += 1;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const found = match(path);
    const observe = found ? metricsFor(found.route.pattern) : unmatched;
    const done = (status: number) => {
      inFlight -= 1;
      observe.observe(status, (clock.monotonic() - started) / 1000);
    };
    if (found?.route.auth) {
      const refused = guard(req);
      if (refused) {
        sendError(res, refused);
        done(refused.status);
        return;
      }
    }
    if (found?.route.hot && req.method === 'GET') {
      let query: URLSearchParams;
      try {
        query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      } catch {
        const error = invalid('query: malformed');
        sendError(res, error);
        done(error.status);
        return;
      }
      void serveHot(res, found, query, done);
      return;
    }
    res.once('close', () => done(res.statusCode));
    app(req, res);
  };

  return { listener, inFlight: () => inFlight };
}

/** Express: bodies, the non-hot routes, 404 / 405 and error answers; built from the route table. */
function expressApp(routes: readonly Route[], logger: Logger): express.Express {
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
      if (!handler) continue;
      const run = (req: Request, res: Response, next: NextFunction) => {
        const query = new URLSearchParams(
          req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        );
        Promise.resolve(
          handler({
            query,
            params: req.params as Record<string, string>,
            ...(method === 'POST' && { body: req.body as unknown }),
          }),
        ).then((reply) => send(res, reply), next);
      };
      if (method === 'GET') chain.get(run);
      else chain.post(parseJson, run);
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
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const apiError = bodyParserError(error) ?? toApiError(error);
    if (apiError.code === 'InternalError') logger.error({ err: error }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, apiError);
  });
  return app;
}

/** Express's and body-parser's own errors (bad encoding, too large, bad JSON) as API errors. */
function bodyParserError(error: unknown): ApiError | undefined {
  if (error instanceof URIError) return invalid('path: malformed percent-encoding');
  if (error instanceof ApiError || typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  if (!('type' in error)) {
    return typeof status === 'number' && status >= 400 && status < 500
      ? invalid('request: malformed')
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
