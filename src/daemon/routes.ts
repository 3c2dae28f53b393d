/**
 * The route table: the single source of truth for what the daemon answers. The lean
 * `node:http` front serves the `hot` GET routes itself; the express app registers every route
 * from this same table (POST bodies, health, readiness, metrics, 404/405). A route's `pattern`
 * is also its metrics label.
 */
import type { Registry } from 'prom-client';
import type { CredentialCache } from '../cache/credential-cache.js';
import type { CredentialKey } from '../cache/key.js';
import { ApiError } from './errors.js';
import type { Readiness } from './readiness.js';
import { type Format, renderedBody } from './render.js';
import {
  type RequestRules,
  partitionKeyFromBody,
  partitionKeyFromQuery,
  redshiftKeyFromQuery,
  tableKeyFromBody,
  tableKeyFromQuery,
} from './requests.js';
import type { Targets } from './targets.js';

export interface RequestContext {
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string>>;
  /** The parsed JSON body (POST). */
  readonly body?: unknown;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

export type Method = 'GET' | 'POST';
export type Handler = (context: RequestContext) => Promise<Reply> | Reply;

export interface Route {
  /** Path with `:param` segments; also the `route` metrics label. */
  readonly pattern: string;
  /** Credential routes: token and loopback Host required. */
  readonly auth: boolean;
  /** Served by the lean front for GET (the credential reads); else by express. */
  readonly hot: boolean;
  readonly methods: Readonly<Partial<Record<Method, Handler>>>;
}

export interface ApiDependencies {
  readonly cache: CredentialCache;
  readonly targets: Targets;
  readonly rules: RequestRules;
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

const JSON_NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export function buildRoutes(deps: ApiDependencies): Route[] {
  const { cache, targets, rules, readiness, registry } = deps;

  async function credential(key: CredentialKey, format: Format): Promise<Reply> {
    const { entry, result } = await cache.get(key);
    return {
      status: 200,
      headers: { ...JSON_NO_STORE, 'x-credcache-result': result },
      body: renderedBody(entry, format),
    };
  }

  return [
    {
      pattern: ROUTE_PATTERNS.table,
      auth: true,
      hot: true,
      methods: {
        GET: ({ query }) => credential(tableKeyFromQuery(query, rules), 'lakeformation'),
        POST: ({ body }) => credential(tableKeyFromBody(body, rules), 'lakeformation'),
      },
    },
    {
      pattern: ROUTE_PATTERNS.partition,
      auth: true,
      hot: true,
      methods: {
        GET: ({ query }) => credential(partitionKeyFromQuery(query, rules), 'lakeformation'),
        POST: ({ body }) => credential(partitionKeyFromBody(body, rules), 'lakeformation'),
      },
    },
    {
      pattern: ROUTE_PATTERNS.redshift,
      auth: true,
      hot: true,
      methods: {
        GET: ({ query }) => credential(redshiftKeyFromQuery(query, rules), 'redshift'),
      },
    },
    {
      pattern: ROUTE_PATTERNS.target,
      auth: true,
      hot: true,
      methods: {
        GET: ({ params, query }) => {
          const name = params.name ?? '';
          const target = targets.get(name);
          if (!target) {
            throw new ApiError(
              'NotFound',
              `name: no target ${JSON.stringify(name.slice(0, 63))} is configured`,
            );
          }
          const [unknown] = query.keys();
          if (unknown !== undefined) {
            throw new ApiError(
              'InvalidRequest',
              `${JSON.stringify(unknown.slice(0, 80))}: unknown parameter; a target takes none`,
            );
          }
          const format = target.key.source === 'redshift_serverless' ? 'redshift' : 'container';
          return credential(target.key, format);
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.healthz,
      auth: false,
      hot: false,
      methods: {
        GET: () => ({ status: 200, headers: JSON_NO_STORE, body: '{"status":"ok"}' }),
      },
    },
    {
      pattern: ROUTE_PATTERNS.readyz,
      auth: false,
      hot: false,
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
          return { status: ready ? 200 : 503, headers: JSON_NO_STORE, body: JSON.stringify(body) };
        },
      },
    },
    {
      pattern: ROUTE_PATTERNS.metrics,
      auth: false,
      hot: false,
      methods: {
        GET: async () => ({
          status: 200,
          headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
          body: await registry.metrics(),
        }),
      },
    },
  ];
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Finds the route of a path (without its query). Exact patterns by map lookup; the one
 * parameterised pattern, `/v1/targets/:name`, by prefix, with a single non-empty segment.
 */
export function routeMatcher(routes: readonly Route[]): (path: string) => RouteMatch | undefined {
  const exact = new Map<string, Route>();
  const prefixed: { prefix: string; param: string; route: Route }[] = [];
  for (const route of routes) {
    const colon = route.pattern.indexOf('/:');
    if (colon === -1) exact.set(route.pattern, route);
    else {
      prefixed.push({
        prefix: route.pattern.slice(0, colon + 1),
        param: route.pattern.slice(colon + 2),
        route,
      });
    }
  }
  const none: Record<string, string> = {};
  return (path) => {
    const route = exact.get(path);
    if (route) return { route, params: none };
    for (const { prefix, param, route: candidate } of prefixed) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      if (rest === '' || rest.includes('/')) continue;
      let value: string;
      try {
        value = decodeURIComponent(rest);
      } catch {
        continue;
      }
      return { route: candidate, params: { [param]: value } };
    }
    return undefined;
  };
}
