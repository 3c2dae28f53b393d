/**
 * The daemon's life as a process: its listeners (the API and, when configured, the probe
 * listener), how it drains and closes on shutdown within the grace period, and which signals
 * start that. The order of a shutdown is Go's `http.Server.Shutdown`'s (the EKS Pod Identity
 * Agent stops its credential server that way):
 * 1. the listener closes first: new connections are refused (ECONNREFUSED, which clients retry);
 * 2. every answer from then on carries `Connection: close`; `/readyz` answers 503;
 * 3. idle keep-alive connections are closed once their sockets have been read;
 * 4. at the grace deadline, requests still waiting for AWS are answered 504 `UpstreamTimeout`
 *    (retryable), then whatever is left is closed;
 * 5. then the engine and upstream stop (timers, queued and running calls).
 */
import { type Server, createServer } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import { listen, serverUrl } from '../net/address.js';
import { ApiError } from './http/errors.js';
import { type Front, onClientError } from './http/front.js';
import type { Logger } from './logger.js';

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

/**
 * An HTTP server for `front` with the configured connection limits. Node would answer two
 * requests itself, with a bare status and no JSON error: an HTTP/1.1 request without Host (400)
 * and an Expect other than 100-continue (417); the front answers both instead (a Host-less
 * request cannot come from a browser, so the rebinding guard loses nothing, and an unknown
 * expectation may be ignored, RFC 9110, 10.1.1). A client gets `server.headersTimeoutSeconds`
 * for its request line and headers and `server.requestTimeoutSeconds` for the whole request,
 * checked every second (Node's default check runs every 30 s: slow headers held a socket for a
 * minute); at most `server.maxConnections` are open at once (Node closes the ones beyond), so
 * slow or idle sockets cannot use up the process's file descriptors.
 */
function createListener(config: Config, front: Front): Server {
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requireHostHeader: false,
      headersTimeout: config.server.headersTimeoutSeconds * 1000,
      requestTimeout: config.server.requestTimeoutSeconds * 1000,
      connectionsCheckingInterval: 1_000,
    },
    front.listener,
  );
  server.maxConnections = config.server.maxConnections;
  return server.on('clientError', onClientError).on('checkExpectation', front.listener);
}

export interface Listeners {
  /** `http://host:port` the API answers on. */
  readonly url: string;
  /** `http://host:port` of the probe listener, when configured. */
  readonly probeUrl: string | undefined;
  /**
   * Drains and closes both listeners (steps 1 to 4 above): resolves once no connection is left,
   * at the latest a little after `shutdownGraceSeconds`.
   */
  close(): Promise<void>;
}

/**
 * Opens the API listener on `listen` and, with `probeListen`, the probe listener (probes and
 * scrapes come to the pod's address: a listener that serves nothing secret). A failure to
 * listen closes what was opened and names the field.
 */
export async function openListeners(options: {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly front: Front;
  readonly probeFront: Front | undefined;
  /** Told when the shutdown starts, before anything waits (readiness turns 503). */
  readonly onShutdown: () => void;
}): Promise<Listeners> {
  const { config, clock, logger, front, probeFront } = options;
  const server = createListener(config, front);
  const probeServer = probeFront && createListener(config, probeFront);
  try {
    await listen(server, config.listen, 'listen');
    if (probeServer && config.probeListen) {
      await listen(probeServer, config.probeListen, 'probeListen');
    }
  } catch (error) {
    if (server.listening) server.close();
    throw error;
  }

  const close = async () => {
    const graceMs = config.shutdownGraceSeconds * 1000;
    // net.Server's close, not http.Server's: that one also destroys every idle keep-alive
    // connection at once, under any request a client has just written on it.
    const closed = new Promise<void>((resolve) =>
      NetServer.prototype.close.call(server, () => resolve()),
    );
    front.drain();
    probeFront?.drain();
    options.onShutdown();
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
  };

  return {
    url: serverUrl(server),
    probeUrl: probeServer ? serverUrl(probeServer) : undefined,
    close,
  };
}

/** After a clean shutdown, how long anything still open (a socket, a timer) may keep the process. */
const EXIT_LINGER_MS = 500;

/**
 * Resolves after the first SIGTERM or SIGINT has run `stop`. A second signal during the shutdown
 * changes nothing (without a handler it would kill the process and reset every request still
 * being answered). SIGUSR1 is ignored: by default it opens Node's inspector on 127.0.0.1:9229,
 * where any local user could run code in the daemon and read its credentials.
 */
export function stopOnSignal(
  stop: () => Promise<void>,
  say: (line: string) => void,
): Promise<void> {
  process.on('SIGUSR1', () => say('credcache: SIGUSR1 ignored (no inspector here)'));
  return new Promise((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        say(`credcache: ${signal} while shutting down; the shutdown goes on`);
        return;
      }
      stopping = true;
      stop().then(() => {
        // Stopped: whatever is still open must not keep the process past this.
        setTimeout(() => process.exit(), EXIT_LINGER_MS).unref();
        resolve();
      }, reject);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}
