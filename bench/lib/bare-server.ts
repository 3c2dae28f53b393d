/**
 * The baseline: a bare `node:http` server that drains the request body and answers fixed,
 * previously captured response bytes. The gap between it and a real server is the cost of the
 * server's own work.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CannedResponse {
  readonly method: string;
  /** Path without query. */
  readonly path: string;
  /** `X-Amz-Target` the request must carry, for awsJson services routed by header. */
  readonly target?: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Body as base64, so the bytes survive a JSON (IPC) round trip unchanged. */
  readonly bodyBase64: string;
}

export interface RunningBareServer {
  readonly url: string;
  close(): Promise<void>;
}

const routeKey = (method: string, path: string, target: string | undefined): string =>
  `${method} ${path} ${target ?? ''}`;

export async function startBareServer(
  responses: readonly CannedResponse[],
): Promise<RunningBareServer> {
  const routes = new Map(
    responses.map((response) => {
      const body = Buffer.from(response.bodyBase64, 'base64');
      const headers = { ...response.headers, 'content-length': String(body.length) };
      return [
        routeKey(response.method, response.path, response.target),
        { status: response.status, headers, body },
      ];
    }),
  );
  const server: Server = createServer((req, res) => {
    const [path = '/'] = (req.url ?? '/').split('?', 1);
    const target = req.headers['x-amz-target'];
    const route = routes.get(
      routeKey(req.method ?? 'GET', path, typeof target === 'string' ? target : undefined),
    );
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
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
