/**
 * Listen addresses: the `host:port` of a configuration field, parsed once; listening on one, and
 * the URL a listening server answers on.
 */
import type { Server } from 'node:net';
import { type AddressInfo, isIP } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `[v6]:port` or `:port`; the problem as text when it is not one. */
export function parseListen(value: string): ListenAddress | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!match) return 'must be host:port (for example 127.0.0.1:9911)';
  const host = match[1] ?? (match[2] === '' ? '127.0.0.1' : (match[2] ?? ''));
  const port = Number(match[3]);
  if (port > 65_535) return 'port must be between 0 and 65535';
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  return { host, port };
}

/** `http://host:port` for an address (IPv6 in brackets). */
export function httpUrl(address: ListenAddress): string {
  const { host, port } = address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `http://host:port` of a listening server. */
export function serverUrl(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return httpUrl({ host: address, port });
}

/**
 * Where a client on this host reaches a server listening on `address`: a wildcard address is
 * reached through loopback.
 */
export function clientUrl(address: ListenAddress): string {
  const { host, port } = address;
  return httpUrl({ host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port });
}

/**
 * Starts `server` listening on `address`; with `field`, a failure names that configuration
 * field and says what is wrong (in use, not an address of this host) in one line; without, it
 * is Node's own error.
 */
export function listen(server: Server, address: ListenAddress, field?: string): Promise<void> {
  const { host, port } = address;
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (field === undefined) {
        reject(error);
        return;
      }
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
