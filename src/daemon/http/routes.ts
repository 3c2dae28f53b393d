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
import { type Format, Renderings } from './render.js';
import { type Reply, reply } from './reply.js';
import {
  type RequestRules,
  partitionKeyFromBody,
  partitionKeyFromQuery,
  redshiftKeyFromQuery,
  tableKeyFromBody,
  tableKeyFromQuery,
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
}

export const ROUTE_PATTERNS = {
  table: '/v1/lakeformation/table-credentials',
  partition: '/v1/lakeformation/partition-credentials',
  redshift: '/v1/redshift-serverless/credentials',
  target: '/v1/targets/:name',
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
  const { cache, targets, rules, readiness, registry } = deps;
  const renderings = new Renderings();

  /** A hit is answered synchronously, from bodies and headers made once per entry. */
  function credential(
    key: CredentialKey,
    format: Format,
    context: RequestContext,
  ): Reply | Promise<Reply> {
    const hit = cache.getServable(key);
    if (hit) return renderings.reply(hit.entry, format, hit.result);
    // A miss first lets the event loop read the sockets again: a client that wrote its request
    // and hung up at once is then known to be gone, and its miss costs no upstream call.
    const { signal } = context;
    return afterSocketReads()
      .then(() => cache.get(key, { signal }))
      .then((lookup: Lookup) => renderings.reply(lookup.entry, format, lookup.result));
  }

  /**
   * Keys parsed from a query string, remembered by the exact string: clients poll with the same
   * URL, so the parse, validation and canonical key are made once. Only valid keys are kept.
   */
  function memoized<K extends CredentialKey>(
    parse: (query: URLSearchParams, rules: RequestRules) => K,
  ): (rawQuery: string) => K {
    const keys = new LRUCache<string, K>({ max: 1024 });
    let madeUnder: RequestRules | undefined;
    return (rawQuery) => {
      const current = rules();
      if (current !== madeUnder) {
        // New rules (a reload): a key allowed before may be refused now, a default has changed.
        keys.clear();
        madeUnder = current;
      }
      let key = keys.get(rawQuery);
      if (key === undefined) {
        key = parse(new URLSearchParams(rawQuery), current);
        keys.set(rawQuery, key);
      }
      return key;
    };
  }
  const tableFromQuery = memoized(tableKeyFromQuery);
  const partitionFromQuery = memoized(partitionKeyFromQuery);
  const redshiftFromQuery = memoized(redshiftKeyFromQuery);

  return [
    {
      pattern: ROUTE_PATTERNS.table,
      auth: true,
      methods: {
        GET: (context) => credential(tableFromQuery(context.rawQuery), 'lakeformation', context),
        POST: (context) =>
          credential(tableKeyFromBody(context.body, rules()), 'lakeformation', context),
      },
    },
    {
      pattern: ROUTE_PATTERNS.partition,
      auth: true,
      methods: {
        GET: (context) =>
          credential(partitionFromQuery(context.rawQuery), 'lakeformation', context),
        POST: (context) =>
          credential(partitionKeyFromBody(context.body, rules()), 'lakeformation', context),
      },
    },
    {
      pattern: ROUTE_PATTERNS.redshift,
      auth: true,
      methods: {
        GET: (context) => credential(redshiftFromQuery(context.rawQuery), 'redshift', context),
      },
    },
    {
      pattern: ROUTE_PATTERNS.target,
      auth: true,
      methods: {
        GET: (context) => {
          const { params, rawQuery } = context;
          const name = params.name ?? '';
          const target = targets.get(name);
          if (!target) {
            throw new ApiError(
              'NotFound',
              `name: no target ${JSON.stringify(name.slice(0, 63))} is configured`,
            );
          }
          const [unknown] = rawQuery === '' ? [] : new URLSearchParams(rawQuery).keys();
          if (unknown !== undefined) {
            throw new ApiError(
              'InvalidRequest',
              `${JSON.stringify(unknown.slice(0, 80))}: unknown parameter; a target takes none`,
            );
          }
          const format = target.key.source === 'redshift_serverless' ? 'redshift' : 'container';
          return credential(target.key, format, context);
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
 * Finds the route of a path (without its query). Exact patterns by map lookup; the one
 * parameterised pattern, `/v1/targets/:name`, by prefix, with a single non-empty segment. A match
 * is made once per path and kept (every exact path's up front; the first `KEPT_MATCHES`
 * parameterised paths seen, so a flood of distinct paths cannot grow it), so a poll allocates no
 * match, no params object and no decoded name.
 */
export function routeMatcher(routes: readonly Route[]): (path: string) => RouteMatch | undefined {
  const kept = new Map<string, RouteMatch>();
  const prefixed: { prefix: string; param: string; route: Route }[] = [];
  const none: Readonly<Record<string, string>> = Object.freeze({});
  for (const route of routes) {
    const colon = route.pattern.indexOf('/:');
    if (colon === -1) kept.set(route.pattern, Object.freeze({ route, params: none }));
    else {
      prefixed.push({
        prefix: route.pattern.slice(0, colon + 1),
        param: route.pattern.slice(colon + 2),
        route,
      });
    }
  }
  const exactPaths = kept.size;
  const parameterised = (path: string): RouteMatch | undefined => {
    for (const { prefix, param, route } of prefixed) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      if (rest === '' || rest.includes('/')) continue;
      try {
        return Object.freeze({
          route,
          params: Object.freeze({ [param]: decodeURIComponent(rest) }),
        });
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
