/**
 * The route table: the single source of truth for what the daemon answers. The lean
 * `node:http` front serves every GET (and HEAD) of it itself; the express app, loaded on first
 * use, registers the other methods from this same table (POST bodies, 405). A route's `pattern`
 * is also its metrics label.
 */
import { LRUCache } from 'lru-cache';
import type { Registry } from 'prom-client';
import type { CredentialCache, Lookup } from '../../cache/credential-cache.js';
import type { CredentialKey } from '../../cache/key.js';
import { ApiError } from './errors.js';
import type { Readiness } from '../readiness.js';
import type { DaemonStatus } from '../status.js';
import { type Format, Renderings } from './render.js';
import { type Reply, reply } from './reply.js';
import {
  type RequestRules,
  partitionKeyFromBody,
  partitionKeyFromQuery,
  redshiftKeyFromQuery,
  tableKeyFromBody,
  tableKeyFromQuery,
  takeRefreshNow,
} from './requests.js';
import type { Targets } from '../targets.js';

export interface RequestContext {
  /** The query string, without `?` (empty when none). */
  readonly rawQuery: string;
  readonly params: Readonly<Record<string, string>>;
  /** The parsed JSON body (POST). */
  readonly body?: unknown;
  /**
   * Aborted when the client hangs up before its answer (made on first read: a hit never asks).
   * A miss passes it on, so a queued load nobody waits for any more is dropped.
   */
  readonly signal?: AbortSignal;
}

export type Method = 'GET' | 'POST';
export type Handler = (context: RequestContext) => Promise<Reply> | Reply;

export interface Route {
  /** Path with `:param` segments; also the `route` metrics label. */
  readonly pattern: string;
  /** Credential routes: token and loopback Host required. */
  readonly auth: boolean;
  readonly methods: Readonly<Partial<Record<Method, Handler>>>;
}

export interface ApiDependencies {
  readonly cache: CredentialCache;
  readonly targets: Targets;
  /** The rules in use now (a reload replaces them). */
  readonly rules: () => RequestRules;
  readonly readiness: Readiness;
  readonly registry: Registry;
  /** The daemon's status now (`GET /v1/status`). */
  readonly status: () => DaemonStatus;
}

export const ROUTE_PATTERNS = {
  table: '/v1/lakeformation/table-credentials',
  partition: '/v1/lakeformation/partition-credentials',
  redshift: '/v1/redshift-serverless/credentials',
  target: '/v1/targets/:name',
  targetRefresh: '/v1/targets/:name/refresh',
  status: '/v1/status',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
} as const;

/**
 * Settles after two turns of the event loop: long enough for a client's close that arrived with
 * its request (in the same or the next read of the socket) to be seen. Best effort: a close that
 * comes later is caught while the miss waits in the budget's queue.
 */
const afterSocketReads = () =>
  new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

const JSON_NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store' };
const HEALTHY = reply(200, JSON_NO_STORE, '{"status":"ok"}');

export function buildRoutes(deps: ApiDependencies): Route[] {
  const { cache, targets, rules, readiness, registry, status } = deps;
  const renderings = new Renderings();

  /**
   * A hit is answered synchronously, from bodies and headers made once per entry; `refreshNow`
   * fetches anew whatever is cached (the cache's forced fetch: single flight, one per interval).
   */
  function credential(
    key: CredentialKey,
    format: Format,
    context: RequestContext,
    refreshNow = false,
  ): Reply | Promise<Reply> {
    if (!refreshNow) {
      const hit = cache.getServable(key);
      if (hit) return renderings.reply(hit.entry, format, hit.result);
    }
    // A miss first lets the event loop read the sockets again: a client that wrote its request
    // and hung up at once is then known to be gone, and its miss costs no upstream call.
    const { signal } = context;
    return afterSocketReads()
      .then(() => (refreshNow ? cache.forceRefresh(key, { signal }) : cache.get(key, { signal })))
      .then((lookup: Lookup) => renderings.reply(lookup.entry, format, lookup.result));
  }

  /** A request's key, and whether it asks for a forced fetch (`refreshNow=true`). */
  interface Asked<K> {
    readonly key: K;
    readonly refreshNow: boolean;
  }

  /**
   * Keys parsed from a query string, remembered by the exact string: clients poll with the same
   * URL, so the parse, validation and canonical key are made once. Only valid keys are kept.
   * `refreshNow` is taken out before the key is parsed: it is never part of the key.
   */
  function memoized<K extends CredentialKey>(
    parse: (query: URLSearchParams, rules: RequestRules) => K,
  ): (rawQuery: string) => Asked<K> {
    const keys = new LRUCache<string, Asked<K>>({ max: 1024 });
    let madeUnder: RequestRules | undefined;
    return (rawQuery) => {
      const current = rules();
      if (current !== madeUnder) {
        // New rules (a reload): a key allowed before may be refused now, a default has changed.
        keys.clear();
        madeUnder = current;
      }
      let asked = keys.get(rawQuery);
      if (asked === undefined) {
        const params = new URLSearchParams(rawQuery);
        const refreshNow = takeRefreshNow(params);
        asked = { key: parse(params, current), refreshNow };
        keys.set(rawQuery, asked);
      }
      return asked;
    };
  }
  const tableFromQuery = memoized(tableKeyFromQuery);
  const partitionFromQuery = memoized(partitionKeyFromQuery);
  const redshiftFromQuery = memoized(redshiftKeyFromQuery);
  const fromQuery = <K extends CredentialKey>(
    parsed: (rawQuery: string) => Asked<K>,
    format: Format,
  ): Handler => {
    return (context) => {
      const { key, refreshNow } = parsed(context.rawQuery);
      return credential(key, format, context, refreshNow);
    };
  };

  /** The configured target `params.name` names; 404 when none does. */
  const targetOf = (params: Readonly<Record<string, string>>) => {
    const name = params.name ?? '';
    const target = targets.get(name);
    if (!target) {
      throw new ApiError(
        'NotFound',
        `name: no target ${JSON.stringify(name.slice(0, 63))} is configured`,
      );
    }
    return {
      key: target.key,
      format: (target.key.source === 'redshift_serverless' ? 'redshift' : 'container') as Format,
    };
  };

  /** A query that names no key: `refreshNow` where `takesRefreshNow`, nothing else. */
  const bareQuery = (rawQuery: string, takesRefreshNow: boolean): boolean => {
    if (rawQuery === '') return false;
    const params = new URLSearchParams(rawQuery);
    const refreshNow = takesRefreshNow && takeRefreshNow(params);
    const [unknown] = params.keys();
    if (unknown !== undefined) {
      throw new ApiError(
        'InvalidRequest',
        `${JSON.stringify(unknown.slice(0, 80))}: unknown parameter; ${takesRefreshNow ? 'a target takes refreshNow only' : 'this path takes none'}`,
      );
    }
    return refreshNow;
  };

  return [
    {
      pattern: ROUTE_PATTERNS.table,
      auth: true,
      methods: {
        GET: fromQuery(tableFromQuery, 'lakeformation'),
        POST: (context) =>
          credential(tableKeyFromBody(context.body, rules()), 'lakeformation', context),
      },
    },
    {
      pattern: ROUTE_PATTERNS.partition,
      auth: true,
      methods: {
        GET: fromQuery(partitionFromQuery, 'lakeformation'),
        POST: (context) =>
          credential(partitionKeyFromBody(context.body, rules()), 'lakeformation', context),
      },
    },
    {
      pattern: ROUTE_PATTERNS.redshift,
      auth: true,
      methods: {
        GET: fromQuery(redshiftFromQuery, 'redshift'),
      },
    },
    {
      pattern: ROUTE_PATTERNS.target,
      auth: true,
      methods: {
        GET: (context) => {
          const { key, format } = targetOf(context.params);
          return credential(key, format, context, bareQuery(context.rawQuery, true));
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.targetRefresh,
      auth: true,
      methods: {
        // The body, if any, is not read: the path names all there is.
        POST: (context) => {
          const { key, format } = targetOf(context.params);
          bareQuery(context.rawQuery, false);
          return credential(key, format, context, true);
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.status,
      auth: true,
      methods: {
        GET: (context) => {
          bareQuery(context.rawQuery, false);
          return reply(200, JSON_NO_STORE, JSON.stringify(status()));
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.healthz,
      auth: false,
      methods: {
        GET: () => HEALTHY,
      },
    },
    {
      pattern: ROUTE_PATTERNS.readyz,
      auth: false,
      methods: {
        GET: () => {
          const states = readiness.targets();
          const ready = readiness.ready();
          const body = {
            status: ready ? 'ready' : readiness.shuttingDown ? 'shutting down' : 'not ready',
            targets: states,
            ...(!ready && {
              failing: states.filter((target) => !target.ready).map((target) => target.name),
            }),
          };
          return reply(ready ? 200 : 503, JSON_NO_STORE, JSON.stringify(body));
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.metrics,
      auth: false,
      methods: {
        GET: async () =>
          reply(
            200,
            { 'content-type': registry.contentType, 'cache-control': 'no-store' },
            await registry.metrics(),
          ),
      },
    },
  ];
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
  /** Set when the path matched but a parameter is not decodable (bad percent-encoding). */
  readonly malformed?: true;
}

/** Parameterised paths whose match is kept (clients poll the same few target paths). */
const KEPT_MATCHES = 256;

/**
 * Finds the route of a path (without its query). Exact patterns by map lookup; parameterised
 * ones (`/v1/targets/:name`, `/v1/targets/:name/refresh`) segment by segment, a `:param`
 * segment matching one non-empty segment. A match is made once per path and kept (every exact
 * path's up front; the first `KEPT_MATCHES` parameterised paths seen, so a flood of distinct
 * paths cannot grow it), so a poll allocates no match, no params object and no decoded name.
 */
export function routeMatcher(routes: readonly Route[]): (path: string) => RouteMatch | undefined {
  const kept = new Map<string, RouteMatch>();
  /** Each parameterised pattern's segments: a literal, or `{ param }` for `:param`. */
  const parameterisedRoutes: { segments: (string | { param: string })[]; route: Route }[] = [];
  const none: Readonly<Record<string, string>> = Object.freeze({});
  for (const route of routes) {
    if (!route.pattern.includes('/:'))
      kept.set(route.pattern, Object.freeze({ route, params: none }));
    else {
      parameterisedRoutes.push({
        segments: route.pattern
          .split('/')
          .map((segment) => (segment.startsWith(':') ? { param: segment.slice(1) } : segment)),
        route,
      });
    }
  }
  const exactPaths = kept.size;
  const parameterised = (path: string): RouteMatch | undefined => {
    const parts = path.split('/');
    for (const { segments, route } of parameterisedRoutes) {
      if (segments.length !== parts.length) continue;
      const raw: [string, string][] = [];
      const fits = segments.every((segment, index) => {
        const part = parts[index] ?? '';
        if (typeof segment === 'string') return segment === part;
        raw.push([segment.param, part]);
        return part !== '';
      });
      if (!fits) continue;
      try {
        const params = Object.fromEntries(
          raw.map(([name, value]) => [name, decodeURIComponent(value)]),
        );
        return Object.freeze({ route, params: Object.freeze(params) });
      } catch {
        return Object.freeze({ route, params: none, malformed: true as const });
      }
    }
    return undefined;
  };
  return (path) => {
    const known = kept.get(path);
    if (known) return known;
    const found = parameterised(path);
    if (found && kept.size < exactPaths + KEPT_MATCHES) kept.set(path, found);
    return found;
  };
}
