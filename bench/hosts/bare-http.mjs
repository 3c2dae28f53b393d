/**
 * The daemon scenario's baseline: a bare `node:http` server that answers captured response bytes
 * (status, headers, body) by method and path, as `lib/bare-server.ts` does, but as a plain
 * JavaScript file run by plain `node` (no TypeScript loader), so that it starts, runs and is
 * measured exactly as the compiled daemon (`bin/credcache.js`) is.
 *
 *   BENCH_BARE_RESPONSES='[{"method":"GET","path":"/x","status":200,"headers":{…},"bodyBase64":"…"}]' \
 *     node bench/hosts/bare-http.mjs [--port N]
 *
 * Prints one JSON line, `{"msg":"bare listening","listen":"http://127.0.0.1:PORT"}`, once it
 * listens; exits on SIGTERM or SIGINT.
 */
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import process from 'node:process';

const responses = JSON.parse(process.env.BENCH_BARE_RESPONSES ?? '[]');
const portFlag = process.argv.indexOf('--port');
const port = portFlag === -1 ? 0 : Number(process.argv[portFlag + 1]);

const routes = new Map();
for (const response of responses) {
  const body = Buffer.from(response.bodyBase64, 'base64');
  routes.set(`${response.method} ${response.path}`, {
    status: response.status,
    headers: { ...response.headers, 'content-length': String(body.length) },
    body,
  });
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const route = routes.get(`${req.method} ${q === -1 ? url : url.slice(0, q)}`);
  req.on('end', () => {
    if (route) {
      res.writeHead(route.status, route.headers);
      res.end(route.body);
    } else {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
    }
  });
  req.resume();
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'bare listening', listen: `http://127.0.0.1:${server.address().port}` })}\n`,
  );
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop).once('SIGINT', stop);
