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
import { type Format, LAKE_FORMATION_FORMATS, Renderings } from './render.js';
import { S3Index } from '../s3-index.js';
import { type Reply, reply } from './reply.js';
import {
  type RequestRules,
  icebergKeyFromPath,
  icebergKeyFromQuery,
  locationKeyFromBody,
  locationKeyFromQuery,
  partitionKeyFromBody,
  partitionKeyFromQuery,
  redshiftKeyFromQuery,
  s3LocationFromQuery,
  tableKeyFromBody,
  tableKeyFromQuery,
  takeFormat,
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
  /**
   * The upstream region: the region of the table an Iceberg REST path names, and Iceberg's
   * `client.region`.
   */
  readonly region?: string | undefined;
}

export const ROUTE_PATTERNS = {
  table: '/v1/lakeformation/table-credentials',
  partition: '/v1/lakeformation/partition-credentials',
  redshift: '/v1/redshift-serverless/credentials',
  location: '/v1/lakeformation/location-credentials',
  target: '/v1/targets/:name',
  targetRefresh: '/v1/targets/:name/refresh',
  status: '/v1/status',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  s3: '/v1/s3/credentials',
  iceberg: '/v1/iceberg/credentials',
  icebergRest: '/v1/iceberg/v1/:catalogId/namespaces/:namespace/tables/:table/credentials',
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
  const region = deps.region ?? '';
  const renderings = new Renderings({ region });
  // Which cached table covers an S3 path: kept from the cache's events, from its entries now on.
  const s3Index = new S3Index({ isTarget: (key) => targets.has(key) });
  for (const entry of cache.entries()) s3Index.listener.stored?.(entry);
  cache.subscribe(s3Index.listener);

  /**
   * A hit is answered synchronously, from bodies and headers made once per entry; `refreshNow`
   * fetches anew whatever is cached (the cache's forced fetch: single flight, one per interval).
   */
  function credential(
    key: CredentialKey,
    format: Format,
    context: RequestContext,
    refreshNow = false,
    prefix = '',
  ): Reply | Promise<Reply> {
    if (!refreshNow) {
      const hit = cache.getServable(key);
      if (hit) return renderings.reply(hit.entry, format, hit.result, prefix);
    }
    // A miss first lets the event loop read the sockets again: a client that wrote its request
    // and hung up at once is then known to be gone, and its miss costs no upstream call.
    const { signal } = context;
    return afterSocketReads()
      .then(() => (refreshNow ? cache.forceRefresh(key, { signal }) : cache.get(key, { signal })))
      .then((lookup: Lookup) => renderings.reply(lookup.entry, format, lookup.result, prefix));
  }

  /**
   * A request's key, whether it asks for a forced fetch (`refreshNow=true`), and the format it
   * asks for (`format=…`; undefined: the route's default).
   */
  interface Asked<K> {
    readonly key: K;
    readonly refreshNow: boolean;
    readonly format: Format | undefined;
  }

  /**
   * Keys parsed from a query string, remembered by the exact string: clients poll with the same
   * URL, so the parse, validation and canonical key are made once. Only valid keys are kept.
   * `refreshNow` and `format` (one of `formats`; none: the parameter is unknown) are taken out
   * before the key is parsed: neither is ever part of the key.
   */
  function memoized<K>(
    parse: (query: URLSearchParams, rules: RequestRules) => K,
    formats: readonly Format[] = [],
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
        const format = formats.length > 0 ? takeFormat(params, formats) : undefined;
        asked = { key: parse(params, current), refreshNow, format };
        keys.set(rawQuery, asked);
      }
      return asked;
    };
  }
  const tableFromQuery = memoized(tableKeyFromQuery, LAKE_FORMATION_FORMATS);
  const partitionFromQuery = memoized(partitionKeyFromQuery, LAKE_FORMATION_FORMATS);
  const redshiftFromQuery = memoized(redshiftKeyFromQuery);
  const icebergFromQuery = memoized(icebergKeyFromQuery);
  const s3FromQuery = memoized((params) => s3LocationFromQuery(params), LAKE_FORMATION_FORMATS);
  const locationFromQuery = memoized(locationKeyFromQuery, LAKE_FORMATION_FORMATS);
  const fromQuery = <K extends CredentialKey>(
    parsed: (rawQuery: string) => Asked<K>,
    format: Format,
  ): Handler => {
    return (context) => {
      const asked = parsed(context.rawQuery);
      return credential(asked.key, asked.format ?? format, context, asked.refreshNow);
    };
  };

  /**
   * `GET /v1/s3/credentials?path=…`: the cached table credential whose `VendedS3Path` entry is
   * the longest prefix of the path (the S3 index), answered as the table route does with
   * `tableArn` and `prefix` added (`format=lakeformation`, the default), or as container
   * credentials (`format=container`).
   */
  const s3Credential: Handler = (context) => {
    const asked = s3FromQuery(context.rawQuery);
    const covering = s3Index.find(asked.key);
    if (covering === undefined) {
      throw new ApiError('NotFound', 'path: no known table covers this S3 path');
    }
    const { allow } = rules();
    if (!allow.allowsAll) {
      const denied = allow.denies({ kind: 'table', tableArn: covering.tableArn });
      if (denied) {
        throw new ApiError(
          'Forbidden',
          `path: its table is not in the allow-list (allow.${denied.list})`,
        );
      }
    }
    const format = asked.format === 'container' ? 'container' : 's3';
    return credential(covering.key, format, context, asked.refreshNow, covering.prefix);
  };

  /**
   * Iceberg REST paths' keys, by path and query (an Iceberg client asks once per credential's
   * lifetime, so a string per request is all this costs). Only valid keys are kept, at most 1024.
   */
  const icebergPaths = new LRUCache<string, Asked<CredentialKey>>({ max: 1024 });
  let icebergPathsUnder: RequestRules | undefined;
  const icebergFromPath = (context: RequestContext): Asked<CredentialKey> => {
    const current = rules();
    if (current !== icebergPathsUnder) {
      icebergPaths.clear();
      icebergPathsUnder = current;
    }
    const { catalogId = '', namespace = '', table = '' } = context.params;
    const id = JSON.stringify([catalogId, namespace, table, context.rawQuery]);
    let asked = icebergPaths.get(id);
    if (asked === undefined) {
      const params = new URLSearchParams(context.rawQuery);
      const refreshNow = takeRefreshNow(params);
      const path = { catalogId, namespace, table };
      asked = {
        key: icebergKeyFromPath(path, params, region, current),
        refreshNow,
        format: undefined,
      };
      icebergPaths.set(id, asked);
    }
    return asked;
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
      pattern: ROUTE_PATTERNS.location,
      auth: true,
      methods: {
        GET: fromQuery(locationFromQuery, 'lakeformation'),
        POST: (context) =>
          credential(locationKeyFromBody(context.body, rules()), 'lakeformation', context),
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
      pattern: ROUTE_PATTERNS.s3,
      auth: true,
      methods: { GET: s3Credential },
    },
    {
      pattern: ROUTE_PATTERNS.iceberg,
      auth: true,
      methods: { GET: fromQuery(icebergFromQuery, 'iceberg') },
    },
    {
      pattern: ROUTE_PATTERNS.icebergRest,
      auth: true,
      methods: {
        GET: (context) => {
          const { key, refreshNow } = icebergFromPath(context);
          return credential(key, 'iceberg', context, refreshNow);
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
