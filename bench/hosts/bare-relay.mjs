/**
 * The proxy scenario's floor: the barest TCP relay Node can run — accept, connect upstream,
 * `pipe` both ways, no protocol, no authentication — as a plain JavaScript file run by plain
 * `node`, so that it is measured as the compiled daemon is. What it costs is what one more
 * loopback hop through a Node process costs, whatever that process does besides.
 *
 *   node bench/hosts/bare-relay.mjs --upstream 127.0.0.1:5432
 *
 * Prints one JSON line, `{"msg":"relay listening","port":N}`, once it listens; exits on SIGTERM.
 */
import { connect, createServer } from 'node:net';
import process from 'node:process';

const at = process.argv.indexOf('--upstream');
const [host, port] = (process.argv[at + 1] ?? '').split(':');
if (at === -1 || !host || !port) {
  process.stderr.write('usage: bare-relay.mjs --upstream HOST:PORT\n');
  process.exit(2);
}

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect({ host, port: Number(port) });
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'relay listening', port: server.address().port })}\n`,
  );
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
