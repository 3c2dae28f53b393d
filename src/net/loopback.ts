/**
 * Loopback names and the Host header: what the daemon's DNS-rebinding guard and the emulator's
 * control API accept. A Host header is one well-formed `host[:port]`: a DNS name, an IPv4
 * address, or an IPv6 address in brackets, then an optional port of up to five digits. Anything
 * else (`localhost:80@evil.com`, `[::1]evil.com`, `127.0.0.1:9911:evil`) is not a Host.
 */
import { isIP } from 'node:net';

/** Names under which a loopback interface is reached (brackets around IPv6 allowed). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const name = bare.toLowerCase();
  return (
    name === 'localhost' ||
    name === '::1' ||
    (isIP(name) === 4 && name.startsWith('127.')) ||
    name === '::ffff:127.0.0.1'
  );
}

const HOST_HEADER =
  /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9.])?))(?::(\d{1,5}))?$/;

/**
 * The host name a Host header value names, lower-cased and without brackets, or undefined when
 * the value is not one well-formed `host[:port]`.
 */
export function hostOfHeader(value: string): string | undefined {
  const match = HOST_HEADER.exec(value);
  if (!match) return undefined;
  const [, v6, name, port] = match;
  if (port !== undefined && Number(port) > 65_535) return undefined;
  if (v6 !== undefined) return isIP(v6) === 6 ? v6.toLowerCase() : undefined;
  return name?.toLowerCase();
}
