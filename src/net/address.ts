/**
 * Listen addresses: the `host:port` of a configuration field, parsed once.
 */
import { isIP } from 'node:net';

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
