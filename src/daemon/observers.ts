/**
 * What the daemon does with what happens inside: every upstream call and every engine event
 * becomes metrics and log lines here, and the gauges read the engine and readiness. Nothing
 * here changes the engine's course; a secret never reaches a label or a log line (the events
 * carry keys, sources and AWS error names, never a credential).
 */
import type { CredentialKey } from '../cache/key.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import type { createMetrics } from '../metrics/metrics.js';
import { isLoopbackHost } from '../net/loopback.js';
import { DEFAULT_CHAIN_SOURCES } from '../providers/identity.js';
import type { UpstreamCall } from '../providers/instrumented.js';
import type { SinkObserver } from '../sinks/sinks.js';
import type { CredentialEngine, CredentialEngineOptions } from '../refresh/engine.js';
import type { AuthMode } from './http/auth.js';
import { LogBudget } from './log-budget.js';
import type { Logger } from './logger.js';
import type { Readiness } from './readiness.js';
import type { Targets } from './targets.js';
import type { UpstreamDescription } from './upstream.js';

type Metrics = ReturnType<typeof createMetrics>;
type EngineEvents = NonNullable<CredentialEngineOptions['on']>;

/** A short description of a key's non-secret fields, for logs. */
function keyFields(key: CredentialKey): Record<string, unknown> {
  return { source: key.source, ...key.request };
}

/** Every sink write counted; a failed one logged with its sink, target, path and error code. */
export function sinkObserver(metrics: Metrics, logger: Logger): SinkObserver {
  return {
    configured: (sinks) => metrics.sinks(sinks),
    written: (sink) => metrics.sinkWrite(sink, 'success'),
    failed(sink, details) {
      metrics.sinkWrite(sink, 'failure');
      logger.error({ sink, ...details }, 'sink write failed; the previous file is kept');
    },
  };
}

/** Every upstream call: counted and timed; a failure logged with AWS's name and request id. */
export function upstreamCallObserver(
  metrics: Metrics,
  logger: Logger,
): (call: UpstreamCall) => void {
  return (call) => {
    metrics.upstreamCall(call.source, call.error?.awsName, call.seconds);
    const ms = Math.round(call.seconds * 1000);
    if (call.error) {
      const { awsName, kind, requestId, message } = call.error;
      logger.warn(
        { source: call.source, error: awsName, kind, requestId, ms, message },
        'upstream call failed',
      );
    } else {
      logger.debug({ source: call.source, ms }, 'upstream call succeeded');
    }
  };
}

/** The engine's events: lookups, loads and evictions counted; what an operator must see, logged. */
export function engineObservers(metrics: Metrics, logger: Logger): EngineEvents {
  return {
    lookup: (key, result) => metrics.cacheRequest(key.source, result),
    load: (key, lane, error) => {
      metrics.refresh(key.source, lane, error === undefined ? 'success' : 'failure');
      if (error !== undefined && lane === 'background') {
        const { awsName, kind, requestId, message } = error;
        logger.warn(
          { key: keyFields(key), error: awsName, kind, requestId, message },
          'background refresh failed',
        );
      }
    },
    evict: (entry, reason) => {
      metrics.eviction(entry.key.source, reason);
      if (reason === 'revoked') {
        logger.warn({ key: keyFields(entry.key) }, 'access revoked upstream; entry evicted');
      }
    },
    housekeepingError: (error) =>
      logger.error(
        { error: error instanceof Error ? error.message : String(error) },
        'housekeeping run failed; the next runs as scheduled',
      ),
  };
}

/** The gauges, read at every scrape: entries per source, readiness, targets' time left. */
export function watchState(
  metrics: Metrics,
  state: {
    readonly clock: Clock;
    readonly engine: CredentialEngine;
    readonly readiness: Readiness;
    readonly targets: Targets;
  },
): void {
  const { clock, engine, readiness, targets } = state;
  metrics.watch({
    entries: () => engine.cache.countBySource(),
    ready: () => readiness.ready(),
    targetRemaining: () =>
      targets.all().map(({ name, key }) => {
        const entry = engine.cache.peek(key);
        return [name, entry ? (entry.issued.expiration - clock.now()) / 1000 : undefined] as const;
      }),
  });
}

/** The token file's reloads: a new token in use, or an unreadable file (the last token kept). */
export function tokenReloadObserver(
  logger: Logger,
): (event: { path: string; error?: string }) => void {
  return ({ path, error }) =>
    error
      ? logger.warn({ tokenFile: path, error }, 'token file unreadable; keeping the last token')
      : logger.info({ tokenFile: path }, 'token file changed; new token in use');
}

/** The targets' first loads: how many, how many hold a servable credential, how long it took. */
export interface WarmReport {
  readonly targets: number;
  readonly warmed: number;
  readonly ms: number;
}

/** A proxy as the start-up line names it: never a password, only where and how. */
export type StartedProxy = Pick<
  Config['proxies'][number],
  'target' | 'upstream' | 'tls' | 'clientAuth'
> & {
  /** `host:port` it listens on (the port chosen when the configuration said 0). */
  readonly listen: string;
};

/**
 * The start-up lines: a warning for each setting that widens who can read credentials, then one
 * structured line saying where it listens, where upstream is, how clients authenticate and how
 * many targets were warmed.
 */
export function logStartup(
  logger: Logger,
  started: {
    readonly config: Config;
    readonly listen: string;
    readonly probeListen: string | undefined;
    readonly upstream: UpstreamDescription;
    readonly auth: AuthMode;
    readonly allowsAll: boolean;
    readonly warm: WarmReport;
    /** The PostgreSQL proxies, each with the address it listens on. */
    readonly proxies?: readonly StartedProxy[];
  },
): void {
  const { config, auth, warm } = started;
  const proxies = started.proxies ?? [];
  if (auth.kind === 'disabled') {
    logger.warn(
      'authentication is disabled (auth.disabled: true): any local process can read credentials',
    );
  }
  proxies.forEach((proxy, index) => {
    if (proxy.clientAuth === 'none') {
      logger.warn(
        { proxy: `proxies[${index}]`, target: proxy.target, listen: proxy.listen },
        'proxy without client authentication (clientAuth: none): any local process can use the database as the target',
      );
    }
  });
  if (!isLoopbackHost(config.listen.host)) {
    logger.warn(
      { listen: started.listen },
      'listening on a non-loopback address (allowNonLoopback: true)',
    );
  }
  if (started.allowsAll)
    logger.info('no allow-list configured: every table and workgroup is allowed');
  if (started.upstream.identityError !== undefined) {
    logger.warn(
      { tried: DEFAULT_CHAIN_SOURCES, error: started.upstream.identityError },
      'no AWS identity: no source of the SDK default chain gave credentials; upstream calls fail until one does',
    );
  }
  logger.info(
    {
      listen: started.listen,
      ...(started.probeListen !== undefined && { probeListen: started.probeListen }),
      upstream: started.upstream,
      auth: auth.kind === 'file' ? { tokenFile: auth.path, created: auth.created } : auth,
      ...(proxies.length > 0 && { proxies }),
      targets: warm.targets,
      warmed: warm.warmed,
      warmMs: warm.ms,
    },
    'credcache listening',
  );
}

/**
 * The PostgreSQL proxies' connections: each refusal logged with its target and reason (never a
 * password or the token), a successful login at debug. Refusals share a line budget (`LogBudget`):
 * a local process opening connection after connection with a wrong token cannot flood the log;
 * past the budget they are counted by outcome, in one line when the window ends.
 */
export function proxyOutcomeObserver(
  logger: Logger,
  clock: Clock,
): { readonly observe: (target: string, outcome: string, detail?: string) => void; stop(): void } {
  const budget = new LogBudget({
    clock,
    report: (byOutcome, windowSeconds) => {
      const total = Object.values(byOutcome).reduce((sum, count) => sum + count, 0);
      logger.warn(
        { suppressed: total, byOutcome, windowSeconds },
        'more proxy connections were refused than the log shows; counted here',
      );
    },
  });
  return {
    observe(target, outcome, detail) {
      if (outcome === 'success' || outcome === 'cancel_forwarded') {
        logger.debug({ target, outcome }, 'proxy connection');
      } else if (outcome !== 'client_gone' && budget.admit(outcome)) {
        logger.warn({ target, outcome, reason: detail }, 'proxy connection refused');
      }
    },
    stop: () => budget.stop(),
  };
}
