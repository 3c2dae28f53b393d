/**
 * The PostgreSQL-protocol proxies: one listener per configured proxy, each client connection a
 * session (session.ts) on the target's current cached credential. New connections always take
 * the credential the cache holds now; open ones are never cut by a refresh (their login is done).
 * A proxy holds at most `maxConnections` client connections at once; one beyond is answered
 * `53300` (too_many_connections, as PostgreSQL answers) and closed, before it is read. On
 * shutdown the listeners close at once (new connections are refused) and open connections go on
 * until `close`'s deadline, then are ended. Every timer is the given clock's.
 */
import { readFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import type { CredentialCache } from '../cache/credential-cache.js';
import type { Clock } from '../clock.js';
import type { CredentialKey } from '../cache/key.js';
import type { ProxyConfig } from '../config/schema.js';
import { type ListenAddress, listen, parseListen } from '../net/address.js';
import type { DatabaseCredential, SessionOutcome } from './session.js';
import { SaltedPasswords } from './scram.js';
import { refuse, runSession } from './session.js';
import { SQLSTATE } from './wire.js';

export interface ProxyMetrics {
  connection(outcome: string): void;
  opened(): void;
  closed(): void;
}

export interface ProxyDependencies {
  /** The daemon's clock: session deadlines, refusal lingers and the drain's grace period. */
  readonly clock: Clock;
  readonly proxies: readonly ProxyConfig[];
  /** The key of a Redshift target by name (the running configuration's: reloads change it). */
  readonly targetKey: (name: string) => CredentialKey | undefined;
  readonly cache: Pick<CredentialCache, 'get'>;
  /** Whether a presented password is the daemon's token. */
  readonly checkToken: (password: string) => boolean;
  readonly metrics: (target: string) => ProxyMetrics;
  /** Told of every connection's setup outcome (for the log; never a secret). */
  readonly onOutcome?: (target: string, outcome: SessionOutcome, detail?: string) => void;
}

export interface RunningProxies {
  /** Where each proxy listens (`host:port`), by index. */
  readonly addresses: readonly string[];
  /** Stops accepting; open connections go on until `graceMs` has passed, then are ended. */
  close(graceMs: number): Promise<void>;
}

/** The credential in the shape the session needs, from a Redshift entry. */
function databaseCredential(credentials: unknown): DatabaseCredential {
  const { dbUser, dbPassword } = credentials as Partial<DatabaseCredential>;
  if (typeof dbUser !== 'string' || typeof dbPassword !== 'string') {
    throw new Error('the target holds no database credential');
  }
  return { dbUser, dbPassword };
}

export async function startProxies(deps: ProxyDependencies): Promise<RunningProxies> {
  const { clock } = deps;
  const servers: Server[] = [];
  /** Every client connection a session runs on, all proxies together (for the drain). */
  const open = new Set<Socket>();
  const addresses: string[] = [];
  const saltedPasswords = new SaltedPasswords();
  /** Aborted by `close`: sessions still setting up are refused with 57P01. */
  const shutdown = new AbortController();
  try {
    for (const [index, proxy] of deps.proxies.entries()) {
      const listenAt = parseListen(proxy.listen) as ListenAddress;
      const upstream = parseListen(proxy.upstream) as ListenAddress;
      const ca = proxy.caFile === undefined ? undefined : readFileSync(proxy.caFile);
      const metrics = deps.metrics(proxy.target);
      const outcome = (result: SessionOutcome, detail?: string) => {
        metrics.connection(result);
        deps.onOutcome?.(proxy.target, result, detail);
      };
      /** This proxy's sessions, for its `maxConnections`. */
      let sessions = 0;
      const server = createServer((socket) => {
        if (sessions >= proxy.maxConnections) {
          // Answered at once, without reading what the client sent: a connection over the limit
          // costs no parsing, no credential and no upstream connection. libpq reads an
          // ErrorResponse in answer to its SSLRequest, as from PostgreSQL when it cannot fork.
          refuse(
            socket,
            clock,
            SQLSTATE.tooManyConnections,
            `sorry, too many clients already: the credcache proxy for ${proxy.target} takes at most ${proxy.maxConnections} connections`,
          );
          outcome('too_many_connections');
          return;
        }
        // A place is held until the client's socket has closed and the session has settled:
        // a forwarded cancel settles once its upstream connection is closed, so cancels (which
        // need no token) cannot pile up upstream connections past maxConnections.
        sessions++;
        let holds = 2;
        const release = () => {
          holds -= 1;
          if (holds === 0) sessions--;
        };
        open.add(socket);
        metrics.opened();
        socket.once('close', () => {
          open.delete(socket);
          metrics.closed();
          release();
        });
        void runSession(socket, {
          clock,
          upstream,
          tls: proxy.tls,
          ca,
          clientAuth: proxy.clientAuth,
          checkToken: deps.checkToken,
          saltedPasswords,
          shutdown: shutdown.signal,
          credential: async () => {
            const key = deps.targetKey(proxy.target);
            if (!key) throw new Error(`no target ${proxy.target} is configured now`);
            return databaseCredential((await deps.cache.get(key)).entry.issued.credentials);
          },
          outcome,
        })
          .catch(() => socket.destroy()) // runSession settles every refusal itself
          .finally(release);
      });
      await listen(server, listenAt, `proxies[${index}].listen`);
      servers.push(server);
      const { port } = server.address() as { port: number };
      addresses.push(`${listenAt.host}:${port}`);
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  return {
    addresses,
    async close(graceMs) {
      shutdown.abort(); // in the same tick as the listeners' close: no connection comes between
      await Promise.all(
        servers
          .map((server) => new Promise<void>((resolve) => server.close(() => resolve())))
          .concat(
            // server.close waits for open connections: give them the grace period, then end them.
            new Promise<void>((resolve) => {
              if (open.size === 0) {
                resolve();
                return;
              }
              const deadline = clock.setTimeout(() => {
                for (const socket of open) socket.destroy();
                resolve();
              }, graceMs);
              const check = () => {
                if (open.size === 0) {
                  deadline.cancel();
                  resolve();
                }
              };
              for (const socket of open) socket.once('close', check);
            }),
          ),
      );
    },
  };
}
