/**
 * Every metric the daemon exposes (docs/metrics.md), on a registry that is passed in (tests make
 * a fresh one).
 * Labels are bounded: routes are patterns, sources and reasons are fixed sets, AWS error names
 * are checked for shape. Nothing here ever sees an ARN, a partition value or a secret.
 */
import { Counter, Gauge, Histogram, type Registry, collectDefaultMetrics } from 'prom-client';
import { SOURCES, type Source } from '../providers/types.js';
import { VERSION } from '../version.js';
import { type CounterChild, HotCounter, HotHistogram } from './hot.js';

export type CacheResultLabel = 'hit' | 'miss' | 'coalesced' | 'stale' | 'negative';
export type EvictionReasonLabel = 'lru' | 'expired' | 'idle' | 'revoked';
export type TriggerLabel = 'background' | 'on_demand';

/** What the gauges read at every scrape; given once the pieces that hold it exist (`watch`). */
export interface MetricsState {
  /** Entries per source. */
  readonly entries?: () => Readonly<Record<Source, number>>;
  /** Seconds of validity left per configured target (absent: none held). */
  readonly targetRemaining?: () => Iterable<readonly [target: string, seconds: number | undefined]>;
  /** Whether the daemon is ready (every target holds a servable credential). */
  readonly ready?: () => boolean;
}

export interface MetricsOptions extends MetricsState {
  /** Collect prom-client's default process metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** Outcome label of an upstream call: `success` or the AWS error name, kept to a sane shape. */
export function outcomeLabel(awsName: string | undefined): string {
  if (awsName === undefined) return 'success';
  return /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(awsName) ? awsName : 'Other';
}

export function createMetrics(registry: Registry, options: MetricsOptions = {}) {
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let state: MetricsState = options;

  // The three series every request touches: plain numbers, read when scraped (hot.ts).
  const httpRequests = new HotCounter(
    'credcache_http_requests_total',
    'HTTP requests answered, by route pattern and status code.',
    ['route', 'code'],
    registry,
  );
  const httpDuration = new HotHistogram(
    'credcache_http_request_duration_seconds',
    'Time to answer an HTTP request, by route pattern.',
    ['route'],
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registry,
  );
  const cacheRequests = new HotCounter(
    'credcache_cache_requests_total',
    'Credential lookups, by source and result (hit, miss, coalesced, stale, negative).',
    ['source', 'result'],
    registry,
  );
  new Gauge({
    name: 'credcache_cache_entries',
    help: 'Credentials held in the cache, by source.',
    labelNames: ['source'] as const,
    registers,
    collect() {
      const counts = state.entries?.();
      for (const source of SOURCES) this.set({ source }, counts?.[source] ?? 0);
    },
  });
  const upstreamRequests = new Counter({
    name: 'credcache_upstream_requests_total',
    help: 'Calls to AWS, by source and outcome (success, or the AWS error name, Timeout, NetworkError).',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });
  const upstreamDuration = new Histogram({
    name: 'credcache_upstream_request_duration_seconds',
    help: 'Duration of calls to AWS, by source.',
    labelNames: ['source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const refreshes = new Counter({
    name: 'credcache_refreshes_total',
    help: 'Credential loads, by source, trigger (background, on_demand) and outcome (success, failure).',
    labelNames: ['source', 'trigger', 'outcome'] as const,
    registers,
  });
  const evictions = new Counter({
    name: 'credcache_evictions_total',
    help: 'Entries removed from the cache, by source and reason (lru, expired, idle, revoked).',
    labelNames: ['source', 'reason'] as const,
    registers,
  });
  new Gauge({
    name: 'credcache_target_remaining_seconds',
    help: 'Seconds of validity left on the credential held for each configured target (0: none).',
    labelNames: ['target'] as const,
    registers,
    collect() {
      this.reset();
      for (const [target, seconds] of state.targetRemaining?.() ?? []) {
        this.set({ target }, Math.max(0, seconds ?? 0));
      }
    },
  });

  new Gauge({
    name: 'credcache_ready',
    help: 'Whether /readyz answers 200: every configured target holds a servable credential (1) or not (0).',
    registers,
    collect() {
      this.set(state.ready?.() === false ? 0 : 1);
    },
  });

  new Gauge({
    name: 'credcache_build_info',
    help: 'Always 1; the running version in its label.',
    labelNames: ['version'] as const,
    registers,
  }).set({ version: VERSION }, 1);
  const configReloads = new Counter({
    name: 'credcache_config_reloads_total',
    help: 'Configuration reloads (SIGHUP), by outcome (success, failure: the running configuration kept).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const sinkWrites = new Counter({
    name: 'credcache_sink_writes_total',
    help: 'File sink writes, by sink (its place in the configuration, sinks[0]) and outcome (success, failure: the previous file kept).',
    labelNames: ['sink', 'outcome'] as const,
    registers,
  });
  configReloads.inc({ outcome: 'success' }, 0);
  configReloads.inc({ outcome: 'failure' }, 0);

  const proxyConnections = new Counter({
    name: 'credcache_proxy_connections_total',
    help: 'Client connections to a PostgreSQL proxy, by target and outcome (success, or why refused).',
    labelNames: ['target', 'outcome'] as const,
    registers,
  });
  const proxyActive = new Gauge({
    name: 'credcache_proxy_active_connections',
    help: 'Client connections a PostgreSQL proxy holds now (in setup or relayed), by target.',
    labelNames: ['target'] as const,
    registers,
  });

  // Zero every fixed-label series up front, so dashboards and rate() see them from the start.
  for (const source of SOURCES) {
    for (const result of ['hit', 'miss', 'coalesced', 'stale', 'negative'] as const) {
      cacheRequests.labels({ source, result }).inc(0);
    }
    for (const reason of ['lru', 'expired', 'idle', 'revoked'] as const) {
      evictions.inc({ source, reason }, 0);
    }
    for (const trigger of ['background', 'on_demand'] as const) {
      for (const outcome of ['success', 'failure'] as const) {
        refreshes.inc({ source, trigger, outcome }, 0);
      }
    }
  }

  // Bound once: a lookup is counted on every request, without looking its labels up each time.
  const results = ['hit', 'miss', 'coalesced', 'stale', 'negative'] as const;
  const cacheRequestChildren = Object.fromEntries(
    SOURCES.map((source) => [
      source,
      Object.fromEntries(
        results.map((result) => [result, cacheRequests.labels({ source, result })]),
      ),
    ]),
  ) as Record<Source, Record<CacheResultLabel, CounterChild>>;

  return {
    registry,
    /** From now on the gauges read `watched` (the engine and readiness, once they exist). */
    watch(watched: MetricsState) {
      state = watched;
    },
    /** Per-route handles, made once per route so the hot path does no label lookups. */
    route(route: string) {
      const duration = httpDuration.labels({ route });
      const byCode = new Map<number, CounterChild>();
      return {
        observe(status: number, seconds: number) {
          let counter = byCode.get(status);
          if (!counter) {
            counter = httpRequests.labels({ route, code: String(status) });
            byCode.set(status, counter);
          }
          counter.inc();
          duration.observe(seconds);
        },
      };
    },
    cacheRequest(source: Source, result: CacheResultLabel) {
      cacheRequestChildren[source][result].inc();
    },
    upstreamCall(source: Source, awsName: string | undefined, seconds: number) {
      upstreamRequests.inc({ source, outcome: outcomeLabel(awsName) });
      upstreamDuration.observe({ source }, seconds);
    },
    refresh(source: Source, trigger: TriggerLabel, outcome: 'success' | 'failure') {
      refreshes.inc({ source, trigger, outcome });
    },
    eviction(source: Source, reason: EvictionReasonLabel) {
      evictions.inc({ source, reason });
    },
    configReload(outcome: 'success' | 'failure') {
      configReloads.inc({ outcome });
    },
    /** Starts the series of these sinks at 0 (at start and after a reload). */
    sinks(labels: readonly string[]) {
      for (const sink of labels) {
        for (const outcome of ['success', 'failure'] as const) sinkWrites.inc({ sink, outcome }, 0);
      }
    },
    sinkWrite(sink: string, outcome: 'success' | 'failure') {
      sinkWrites.inc({ sink, outcome });
    },
    /** A proxy target's series, made once (targets come from the configuration: bounded). */
    proxy(target: string) {
      proxyActive.set({ target }, 0);
      return {
        connection(outcome: string) {
          proxyConnections.inc({ target, outcome });
        },
        opened() {
          proxyActive.inc({ target });
        },
        closed() {
          proxyActive.dec({ target });
        },
      };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
export type RouteMetrics = ReturnType<Metrics['route']>;
