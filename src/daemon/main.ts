/**
 * The daemon put together, and nothing else: config → logger → metrics → upstream → engine →
 * sinks → running configuration (token, rules, targets, sinks; reloadable) → observers → routes → HTTP fronts → listeners; then the targets' first loads, and on
 * shutdown the same in reverse. Every behaviour lives in the module it names.
 */
import { Registry } from 'prom-client';
import { type Clock, systemClock } from '../clock.js';
import { type Config, acceptedHosts } from '../config/config.js';
import { createMetrics } from '../metrics/metrics.js';
import { type CredentialEngine, createCredentialEngine } from '../refresh/engine.js';
import { TokenAuth } from './http/auth.js';
import { createFront } from './http/front.js';
import { RefusalLog } from './http/refusals.js';
import { EXIT_RESERVE_MS, type Listeners, openListeners } from './lifecycle.js';
import { startProxies } from '../proxy/proxies.js';
import { type Logger, createLogger } from './logger.js';
import {
  engineObservers,
  sinkObserver,
  type WarmReport,
  logStartup,
  proxyOutcomeObserver,
  tokenReloadObserver,
  upstreamCallObserver,
  watchState,
} from './observers.js';
import { Readiness } from './readiness.js';
import { type ReloadOutcome, RunningConfig } from './reload.js';
import { daemonStatus } from './status.js';
import { buildRoutes } from './http/routes.js';
import { Targets } from './targets.js';
import { type LocalUpstream, createUpstream } from './upstream.js';
import { Sinks } from '../sinks/sinks.js';

export interface DaemonOptions {
  readonly config: Config;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** A local endpoint for both services (the emulator the command line started), instead of AWS. */
  readonly upstream?: LocalUpstream | undefined;
}

/** The running daemon: where it listens (`url`, `probeUrl`), its parts, and its shutdown. */
export interface Daemon extends Pick<Listeners, 'url' | 'probeUrl'> {
  readonly auth: TokenAuth;
  readonly engine: CredentialEngine;
  readonly registry: Registry;
  readonly readiness: Readiness;
  readonly warm: WarmReport;
  /**
   * Applies the configuration `load` gives (SIGHUP), or keeps the running one when it fails
   * (reload.ts).
   */
  reload(load: () => Promise<Config>): Promise<ReloadOutcome>;
  /** Drains and closes the listeners within the grace period (lifecycle.ts), then stops upstream. */
  shutdown(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(config.log.level);
  const registry = new Registry();
  const metrics = createMetrics(registry);

  const upstream = createUpstream(config, {
    clock,
    env,
    local: options.upstream,
    observe: upstreamCallObserver(metrics, logger),
  });

  const targets = new Targets(config);
  const engine = createCredentialEngine({
    clock,
    providers: upstream.providers,
    maxEntries: config.cache.maxEntries,
    minRemainingMs: config.cache.minRemainingSeconds * 1000,
    negativeTtlMs: config.cache.negativeTtlSeconds * 1000,
    refreshNowMinIntervalMs: config.cache.refreshNowMinIntervalSeconds * 1000,
    idleMs: config.cache.idleSeconds * 1000,
    targets: targets.all().map((target) => target.key),
    budget: {
      maxConcurrent: config.upstream.maxConcurrent,
      ratePerSecond: config.upstream.ratePerSecond,
      maxWaitMs: config.upstream.maxWaitSeconds * 1000,
      maxQueue: config.upstream.maxQueue,
    },
    on: engineObservers(metrics, logger),
  });
  // Subscribed before the first load: each sink is written when its target's credential is stored.
  const observe = sinkObserver(metrics, logger);
  const peek = engine.cache.peek.bind(engine.cache);
  const sinks = new Sinks({ sinks: config.sinks, targets, peek, observe });
  engine.cache.subscribe(sinks);
  const running = new RunningConfig({
    config,
    logger,
    metrics,
    targets,
    sinks,
    engine,
    auth: (next) =>
      new TokenAuth({
        clock,
        ...next.auth,
        tokenOrigin: env.CREDCACHE_TOKEN || env.CREDCACHE_AUTH_TOKEN ? 'environment' : 'config',
        onReload: tokenReloadObserver(logger),
      }),
  });
  const readiness = new Readiness(clock, engine.cache, engine.scheduler, targets);
  watchState(metrics, { clock, engine, readiness, targets });

  const { cache, scheduler } = engine;
  const status = () => daemonStatus({ clock, cache, scheduler, readiness, targets });
  const routes = buildRoutes({
    cache,
    targets,
    rules: () => running.rules,
    readiness,
    registry,
    status,
    // As upstream.ts resolves it: the configuration's (preflight's), else the local endpoint's.
    region: config.upstream.region ?? options.upstream?.region,
  });
  // One access log of refusals for both listeners: its line budget is the daemon's.
  const shared = {
    auth: running,
    metrics,
    clock,
    logger,
    refusals: new RefusalLog({ clock, logger }),
  };
  const front = createFront({ ...shared, routes, extraHosts: acceptedHosts(config) });
  const probeFront = config.probeListen
    ? createFront({ ...shared, routes: routes.filter((route) => !route.auth) })
    : undefined;
  const stopUpstream = () => {
    engine.stop();
    upstream.destroy();
  };
  const listeners = await openListeners({
    config,
    clock,
    logger,
    front,
    probeFront,
    onShutdown: () => {
      readiness.shutDown();
      engine.drain();
    },
    onAnswered: () => engine.stop(),
  }).catch((error: unknown) => {
    stopUpstream();
    throw error;
  });
  const proxyLog = proxyOutcomeObserver(logger, clock);
  const proxies = await startProxies({
    clock,
    proxies: config.proxies,
    targetKey: (name) => targets.get(name)?.key,
    cache: engine.cache,
    checkToken: running.isToken,
    metrics: (target) => metrics.proxy(target),
    onOutcome: proxyLog.observe,
  }).catch(async (error: unknown) => {
    await listeners.close();
    stopUpstream();
    throw error;
  });

  // Every target's standing job starts with its first load; a failed one is retried in the
  // background (logged by the observers, shown by /readyz) until upstream answers.
  const warmStarted = clock.monotonic();
  engine.start();
  await engine.warm();
  const warm: WarmReport = {
    targets: targets.size,
    warmed: readiness.targets().filter((target) => target.ready).length,
    ms: Math.round(clock.monotonic() - warmStarted),
  };
  logStartup(logger, {
    config,
    listen: listeners.url,
    probeListen: listeners.probeUrl,
    upstream: await upstream.describe(),
    auth: running.auth.mode,
    allowsAll: running.rules.allow.allowsAll,
    warm,
    proxies: config.proxies.map(({ target, upstream, tls, clientAuth }, index) => ({
      target,
      listen: proxies.addresses[index] ?? '',
      upstream,
      tls,
      clientAuth,
    })),
  });

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      // The proxies stop accepting at once; relayed sessions get the grace period the HTTP
      // drain has, less the reserve it keeps for the exit.
      const proxyGrace = Math.max(0, config.shutdownGraceSeconds * 1000 - EXIT_RESERVE_MS);
      // The proxies' listeners close first (synchronously), so that `shutting down`, logged once
      // the HTTP listener is closed, also means that a new proxy connection is refused.
      const proxiesClosed = proxies.close(proxyGrace);
      await Promise.all([listeners.close(), proxiesClosed]);
      proxyLog.stop();
      stopUpstream();
      logger.info('stopped');
    })());
  const { url, probeUrl } = listeners;
  return {
    url,
    probeUrl,
    get auth() {
      return running.auth;
    },
    engine,
    registry,
    readiness,
    warm,
    reload: (load) => running.reload(load),
    shutdown,
  };
}
