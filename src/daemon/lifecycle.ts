/**
 * The daemon's life as a process: its listeners (the API and, when configured, the probe
 * listener), how it drains and closes on shutdown within the grace period, and which signals
 * start that. The order of a shutdown is Go's `http.Server.Shutdown`'s (the EKS Pod Identity
 * Agent stops its credential server that way):
 * 1. the listener closes first: new connections are refused (ECONNREFUSED, which clients retry);
 * 2. every answer from then on carries `Connection: close`; `/readyz` answers 503; no background
 *    refresh starts (client misses for requests already received go on);
 * 3. idle keep-alive connections are closed once their sockets have been read;
 * 4. at the answer deadline (`shutdownSchedule`, shortly before the grace period ends), requests
 *    still waiting for AWS are answered 504 `UpstreamTimeout` (retryable) and every upstream call
 *    still open is aborted; those answers get until the stop deadline to go out, then whatever
 *    is left is closed;
 * 5. the process exits before the grace period is over, whatever is still open (`stopOnSignal`).
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
/** After answering what was left at the answer deadline, how long those answers get to go out. */
const FLUSH_MS = 250;
/**
 * Kept free at the end of the grace period for the process's own exit: the shutdown has logged
 * `stopped` this long before the grace period ends, and the command line exits, whatever is
 * still open, at the latest halfway into it.
 */
export const EXIT_RESERVE_MS = 100;

/**
 * When, in ms after shutdown begins, the steps of a shutdown with `graceMs` happen: requests
 * still waiting are answered 504 and every upstream call is aborted at `answerBy`; those answers
 * get until `stopBy` to go out, and `stopped` is logged by then; the rest of the grace period is
 * the process's exit (`EXIT_RESERVE_MS`). All of it inside the grace period, never after it.
 */
export function shutdownSchedule(graceMs: number): { answerBy: number; stopBy: number } {
  const stopBy = Math.max(0, graceMs - EXIT_RESERVE_MS);
  return { answerBy: stopBy - Math.min(FLUSH_MS, stopBy / 4), stopBy };
}

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
   * at the latest at the stop deadline, `EXIT_RESERVE_MS` before the grace period ends.
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
  /** Told when the shutdown starts, before anything waits (readiness turns 503, refreshes stop). */
  readonly onShutdown: () => void;
  /**
   * Told once no request waits any more: every request was answered, or the answer deadline came
   * and what was left got its 504 (every upstream call still open is then to be aborted).
   */
  readonly onAnswered: () => void;
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
    const schedule = shutdownSchedule(config.shutdownGraceSeconds * 1000);
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
        Math.min(IDLE_LINGER_MS, schedule.answerBy),
      );
      const deadline = clock.setTimeout(() => {
        sweep.cancel();
        resolve(false);
      }, schedule.answerBy);
      void closed.then(() => {
        sweep.cancel();
        deadline.cancel();
        resolve(true);
      });
    });
    const answered = drained
      ? 0
      : front.abandon(
          new ApiError(
            'UpstreamTimeout',
            `daemon shutting down: no answer within shutdownGraceSeconds (${config.shutdownGraceSeconds} s); retry`,
            { retryable: true, retryAfterSeconds: 1 },
          ),
        );
    options.onAnswered();
    if (!drained) {
      logger.warn({ inFlight: answered }, 'grace period over; answering requests in flight');
      // Those answers close their connections; whatever else is left is dropped.
      await new Promise<void>((resolve) => {
        const flushed = clock.setTimeout(resolve, schedule.stopBy - schedule.answerBy);
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
 *
 * With `graceMs`, the process exits within it of the first signal, whatever is still open or
 * still running (a daemon still starting, waiting on a hung upstream, is stopped too). The
 * daemon's shutdown ends `EXIT_RESERVE_MS` before the grace period does; the process exits at
 * the latest halfway into that reserve, which leaves the other half for the exit itself. The
 * linger after a clean `stop` comes out of the grace period, not after it. These two timers are
 * the process's own watchdog, on the system's clock on purpose: they are outside the daemon
 * (whose timers all go through its `Clock`) and must fire whatever that clock is.
 */
export function stopOnSignal(
  stop: () => Promise<void>,
  say: (line: string) => void,
  graceMs?: number,
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
      const exitBy =
        graceMs === undefined
          ? undefined
          : performance.now() + Math.max(0, graceMs - EXIT_RESERVE_MS / 2);
      const unfinished =
        exitBy === undefined
          ? undefined
          : setTimeout(() => {
              say('credcache: shutdownGraceSeconds is up; exiting with the shutdown unfinished');
              process.exit(process.exitCode ?? 0);
            }, exitBy - performance.now()).unref();
      stop().then(() => {
        clearTimeout(unfinished);
        // Stopped: whatever is still open must not keep the process past this.
        const linger =
          exitBy === undefined
            ? EXIT_LINGER_MS
            : Math.max(0, Math.min(EXIT_LINGER_MS, exitBy - performance.now()));
        setTimeout(() => process.exit(), linger).unref();
        resolve();
      }, reject);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

/**
 * Runs `reload` on every SIGHUP (the configuration is read again). The handler is installed at
 * once: without it SIGHUP would kill the process, also while it is still starting.
 */
export function reloadOnHangup(reload: () => void): void {
  process.on('SIGHUP', reload);
}
