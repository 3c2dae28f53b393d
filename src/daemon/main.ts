/**
 * The daemon put together: configuration → logger → metrics → token → upstream (AWS, or the
 * built-in emulator) → credential engine → HTTP front; then prewarm the targets, and on
 * shutdown undo it in reverse. Reading this file tells how the program is built.
 */
import { type Server, createServer } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { Registry } from 'prom-client';
import type { CredentialKey } from '../cache/key.js';
import { type Clock, systemClock } from '../clock.js';
import type { RunningEmulator } from '../emulator/server.js';
import { createMetrics } from '../metrics/metrics.js';
import { type UpstreamClients, createUpstreamClients } from '../providers/clients.js';
import { type UpstreamCall, instrumented } from '../providers/instrumented.js';
import {
  createPartitionCredentialsProvider,
  createTableCredentialsProvider,
} from '../providers/lakeformation.js';
import { createRedshiftCredentialsProvider } from '../providers/redshift-serverless.js';
import { type CredentialEngine, createCredentialEngine } from '../refresh/engine.js';
import { TokenAuth } from './auth.js';
import { allowList } from '../config/allow-list.js';
import { type Config, ConfigError, defaultDuration } from '../config/config.js';
import { ApiError } from './errors.js';
import { createFront, onClientError } from './http.js';
import { type Logger, createLogger } from './logger.js';
import { Readiness } from './readiness.js';
import { buildRoutes } from './routes.js';
import { Targets } from './targets.js';

/** Credentials the SDK clients sign with when talking to the built-in emulator. */
const EMULATOR_CREDENTIALS = {
  accessKeyId: 'AKIDCREDCACHEEMULATOR',
  secretAccessKey: 'credcache-emulator-placeholder-secret',
};
const EMULATOR_REGION = 'us-east-1';

/**
 * On shutdown, idle connections are closed this long after SIGTERM (at most the grace period),
 * then again at this interval. Each sweep runs after the event loop has next read the sockets,
 * so a request a client wrote before the sweep (on loopback: already in the socket) makes its
 * connection busy and is answered rather than reset; the delay itself is for a client that has
 * just connected and not yet written its request. Short: it is added to every shutdown with an
 * idle keep-alive connection open.
 */
const IDLE_LINGER_MS = 100;
/** After answering what was left at the grace deadline, how long those answers get to go out. */
const FLUSH_MS = 250;

export interface DaemonOptions {
  readonly config: Config;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Run the built-in emulator in this process and point the SDK clients at it. */
  readonly emulator?: { readonly port?: number } | undefined;
}

export interface WarmReport {
  readonly targets: number;
  readonly warmed: number;
  readonly ms: number;
}

export interface Daemon {
  /** `http://host:port` the API answers on. */
  readonly url: string;
  /** `http://host:port` of the probe listener, when configured. */
  readonly probeUrl: string | undefined;
  readonly emulatorUrl: string | undefined;
  /** The built-in emulator, when running against it. */
  readonly emulator: RunningEmulator | undefined;
  readonly auth: TokenAuth;
  readonly engine: CredentialEngine;
  readonly registry: Registry;
  readonly readiness: Readiness;
  readonly warm: WarmReport;
  /**
   * Stops accepting (new connections are refused), answers what it has received with
   * `Connection: close`, closes idle connections, and waits up to the grace period for the rest;
   * requests still waiting then are answered 504 (retryable). Then stops timers and upstream.
   */
  shutdown(): Promise<void>;
}

/** A short description of a key's non-secret fields, for logs. */
function keyFields(key: CredentialKey): Record<string, unknown> {
  return { source: key.source, ...key.request };
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(config.log.level);

  const region =
    config.upstream.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    (options.emulator ? EMULATOR_REGION : undefined);
  if (region === undefined) {
    throw new ConfigError(
      ['upstream.region: required (or set AWS_REGION) when not running against the emulator'],
      config.origin,
    );
  }

  const auth = new TokenAuth({
    clock,
    disabled: config.auth.disabled,
    token: config.auth.token,
    tokenOrigin: env.CREDCACHE_TOKEN || env.CREDCACHE_AUTH_TOKEN ? 'environment' : 'config',
    tokenFile: config.auth.tokenFile,
    tokenFileMode: config.auth.tokenFileMode,
    onReload: ({ path, error }) =>
      error
        ? logger.warn({ tokenFile: path, error }, 'token file unreadable; keeping the last token')
        : logger.info({ tokenFile: path }, 'token file changed; new token in use'),
  });

  // Imported only when asked for: a daemon against AWS does not carry the emulator's code.
  const emulator: RunningEmulator | undefined = options.emulator
    ? await (
        await import('../emulator/server.js')
      ).startEmulator({ host: '127.0.0.1', port: options.emulator.port ?? 0 })
    : undefined;

  const ownCredentials = env.AWS_ACCESS_KEY_ID !== undefined || env.AWS_PROFILE !== undefined;
  const clients: UpstreamClients = createUpstreamClients({
    region,
    maxAttempts: config.upstream.maxAttempts,
    attemptTimeoutMs: config.upstream.timeoutSeconds * 1000,
    ...(emulator
      ? {
          lakeFormationEndpoint: emulator.url,
          redshiftServerlessEndpoint: emulator.url,
          ...(!ownCredentials && { credentials: EMULATOR_CREDENTIALS }),
        }
      : {
          ...(config.upstream.lakeFormationEndpoint !== undefined && {
            lakeFormationEndpoint: config.upstream.lakeFormationEndpoint,
          }),
          ...(config.upstream.redshiftServerlessEndpoint !== undefined && {
            redshiftServerlessEndpoint: config.upstream.redshiftServerlessEndpoint,
          }),
        }),
  });

  const targets = new Targets(config);
  const registry = new Registry();
  const metrics = createMetrics(registry);

  const observeCall = (call: UpstreamCall) => {
    metrics.upstreamCall(call.source, call.error?.awsName, call.seconds);
    if (call.error) {
      logger.warn(
        {
          source: call.source,
          error: call.error.awsName,
          kind: call.error.kind,
          requestId: call.error.requestId,
          ms: Math.round(call.seconds * 1000),
          message: call.error.message,
        },
        'upstream call failed',
      );
    } else {
      logger.debug(
        { source: call.source, ms: Math.round(call.seconds * 1000) },
        'upstream call succeeded',
      );
    }
  };
  const providers = {
    lakeformation_table: instrumented(
      createTableCredentialsProvider(clients.lakeFormation, {
        auditContext: config.upstream.auditContext,
      }),
      clock,
      observeCall,
    ),
    lakeformation_partition: instrumented(
      createPartitionCredentialsProvider(clients.lakeFormation, {
        auditContext: config.upstream.auditContext,
      }),
      clock,
      observeCall,
    ),
    redshift_serverless: instrumented(
      createRedshiftCredentialsProvider(clients.redshiftServerless),
      clock,
      observeCall,
    ),
  };

  const engine = createCredentialEngine({
    clock,
    providers,
    maxEntries: config.cache.maxEntries,
    minRemainingMs: config.cache.minRemainingSeconds * 1000,
    negativeTtlMs: config.cache.negativeTtlSeconds * 1000,
    idleMs: config.cache.idleSeconds * 1000,
    targets: targets.all().map((target) => target.key),
    budget: {
      maxConcurrent: config.upstream.maxConcurrent,
      ratePerSecond: config.upstream.ratePerSecond,
      maxWaitMs: config.upstream.maxWaitSeconds * 1000,
      maxQueue: config.upstream.maxQueue,
    },
    on: {
      lookup: (key, result) => metrics.cacheRequest(key.source, result),
      load: (key, lane, error) => {
        metrics.refresh(key.source, lane, error === undefined ? 'success' : 'failure');
        if (error !== undefined && lane === 'background') {
          logger.warn(
            {
              key: keyFields(key),
              error: error.awsName,
              kind: error.kind,
              requestId: error.requestId,
              message: error.message,
            },
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
    },
  });
  const readiness = new Readiness(clock, engine.cache, engine.scheduler, targets);
  metrics.watch({
    entries: () => engine.cache.countBySource(),
    ready: () => readiness.ready(),
    targetRemaining: () =>
      targets.all().map(({ name, key }) => {
        const entry = engine.cache.peek(key);
        return [name, entry ? (entry.issued.expiration - clock.now()) / 1000 : undefined] as const;
      }),
  });

  const rules = {
    defaultDurationSeconds: (source: Parameters<typeof defaultDuration>[1]) =>
      defaultDuration(config, source),
    allow: allowList(config.allow),
  };
  const routes = buildRoutes({
    cache: engine.cache,
    targets,
    rules,
    readiness,
    registry,
  });
  const front = createFront({
    routes,
    auth,
    metrics,
    clock,
    logger,
    extraHosts: [
      ...config.allowHosts,
      // Listening on one non-loopback address: clients name it in Host.
      ...(config.allowNonLoopback && !['0.0.0.0', '::'].includes(config.listen.host)
        ? [config.listen.host]
        : []),
    ],
  });

  // Node would answer two requests itself, with a bare status and no JSON error: an HTTP/1.1
  // request without Host (400) and an Expect other than 100-continue (417). The front answers
  // both instead: a Host-less request cannot come from a browser, so the rebinding guard loses
  // nothing, and an unknown expectation may be ignored (RFC 9110, 10.1.1).
  // A client gets server.headersTimeoutSeconds for its request line and headers and
  // server.requestTimeoutSeconds for the whole request, checked every second (Node's default
  // check runs every 30 s: slow headers held a socket for a minute); at most
  // server.maxConnections are open at once (Node closes the ones beyond), so slow or idle
  // sockets cannot use up the process's file descriptors.
  const serverOptions = {
    keepAliveTimeout: 65_000,
    requireHostHeader: false,
    headersTimeout: config.server.headersTimeoutSeconds * 1000,
    requestTimeout: config.server.requestTimeoutSeconds * 1000,
    connectionsCheckingInterval: 1_000,
  };
  const server = createServer(serverOptions, front.listener);
  server.maxConnections = config.server.maxConnections;
  server.on('clientError', onClientError).on('checkExpectation', front.listener);
  // Probes and scrapes come to the pod's address: a listener that serves nothing secret.
  const probeFront = config.probeListen
    ? createFront({ routes: routes.filter((route) => !route.auth), auth, metrics, clock, logger })
    : undefined;
  const probeServer = probeFront
    ? createServer(serverOptions, probeFront.listener)
        .on('clientError', onClientError)
        .on('checkExpectation', probeFront.listener)
    : undefined;
  if (probeServer) probeServer.maxConnections = config.server.maxConnections;
  const cleanupUpstream = async () => {
    engine.stop();
    clients.destroy();
    await emulator?.close();
  };
  try {
    await listen(server, config.listen.host, config.listen.port, 'listen');
    if (probeServer && config.probeListen) {
      await listen(probeServer, config.probeListen.host, config.probeListen.port, 'probeListen');
    }
  } catch (error) {
    if (server.listening) server.close();
    await cleanupUpstream();
    throw error;
  }
  const url = serverUrl(server);
  const probeUrl = probeServer ? serverUrl(probeServer) : undefined;

  if (auth.mode.kind === 'disabled') {
    logger.warn(
      'authentication is disabled (auth.disabled: true): any local process can read credentials',
    );
  }
  if (!isLoopbackAddress((server.address() as AddressInfo).address)) {
    logger.warn({ listen: url }, 'listening on a non-loopback address (allowNonLoopback: true)');
  }
  if (rules.allow.allowsAll)
    logger.info('no allow-list configured: every table and workgroup is allowed');

  // Every target's standing job starts with its first load; a failed one is retried in the
  // background (logged by the observers, shown by /readyz) until upstream answers.
  const warmStarted = clock.monotonic();
  engine.start();
  await engine.warm();
  const warm: WarmReport = {
    targets: targets.size,
    warmed: targets.all().filter((target) => {
      const entry = engine.cache.peek(target.key);
      return entry !== undefined && engine.cache.servable(entry);
    }).length,
    ms: Math.round(clock.monotonic() - warmStarted),
  };
  logger.info(
    {
      listen: url,
      ...(probeUrl !== undefined && { probeListen: probeUrl }),
      upstream: emulator ? { kind: 'emulator', url: emulator.url } : { kind: 'aws', region },
      auth:
        auth.mode.kind === 'file'
          ? { tokenFile: auth.mode.path, created: auth.mode.created }
          : auth.mode,
      targets: warm.targets,
      warmed: warm.warmed,
      warmMs: warm.ms,
    },
    'credcache listening',
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      const graceMs = config.shutdownGraceSeconds * 1000;
      // Refuse new connections first (ECONNREFUSED, which clients retry), rather than accept
      // them and drop them. net.Server's close, not http.Server's: that one also destroys every
      // idle keep-alive connection at once, under any request a client has just written on it.
      const closed = new Promise<void>((resolve) =>
        NetServer.prototype.close.call(server, () => resolve()),
      );
      front.drain();
      probeFront?.drain();
      readiness.shutDown();
      // Logged once the listener is closed: whoever reads it can count on refused connections.
      logger.info(
        { graceSeconds: config.shutdownGraceSeconds, inFlight: front.inFlight() },
        'shutting down',
      );
      const drained = await new Promise<boolean>((resolve) => {
        let sweep = clock.setTimeout(
          function closeIdle() {
            // After the event loop's next read of the sockets, so a request already in a
            // socket makes its connection busy first, however late this timer ran.
            setImmediate(() => server.closeIdleConnections());
            sweep = clock.setTimeout(closeIdle, IDLE_LINGER_MS);
          },
          Math.min(IDLE_LINGER_MS, graceMs),
        );
        const deadline = clock.setTimeout(() => {
          sweep.cancel();
          resolve(false);
        }, graceMs);
        void closed.then(() => {
          sweep.cancel();
          deadline.cancel();
          resolve(true);
        });
      });
      if (!drained) {
        const answered = front.abandon(
          new ApiError(
            'UpstreamTimeout',
            `daemon shutting down: no answer within shutdownGraceSeconds (${config.shutdownGraceSeconds} s); retry`,
            { retryable: true, retryAfterSeconds: 1 },
          ),
        );
        logger.warn({ inFlight: answered }, 'grace period over; answering requests in flight');
        // Those answers close their connections; whatever else is left is dropped.
        await new Promise<void>((resolve) => {
          const flushed = clock.setTimeout(resolve, FLUSH_MS);
          void closed.then(() => {
            flushed.cancel();
            resolve();
          });
        });
        server.closeAllConnections();
      }
      await closed;
      if (probeServer) {
        // Probes saw 503 on /readyz while draining; now they go too.
        const probeClosed = new Promise<void>((resolve) => probeServer.close(() => resolve()));
        probeServer.closeAllConnections();
        await probeClosed;
      }
      await cleanupUpstream();
      logger.info('stopped');
    })());

  return {
    url,
    probeUrl,
    emulatorUrl: emulator?.url,
    emulator,
    auth,
    engine,
    registry,
    readiness,
    warm,
    shutdown,
  };
}

function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

function serverUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function listen(server: Server, host: string, port: number, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `${field}: ${host}:${port} is already in use`
            : error.code === 'EADDRNOTAVAIL'
              ? `${field}: ${host} is not an address of this host`
              : `${field}: ${error.message}`,
        ),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError).once('listening', onListening);
    server.listen(port, host);
  });
}
