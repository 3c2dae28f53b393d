/**
 * A minimal raw HTTP client over `node:http` with a keep-alive agent, for measuring servers
 * without any SDK in the way.
 */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import type { Socket } from 'node:net';

export interface RawRequest {
  readonly method: string;
  /** Path and query, e.g. `/GetTemporaryGlueTableCredentials`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Per-request timeout: a request that takes longer fails instead of stalling a loop. */
export const REQUEST_TIMEOUT_MS = 5_000;

export class KeepAliveClient {
  readonly #agent: Agent;
  readonly #url: URL;
  readonly #sockets = new WeakSet<Socket>();
  /** TCP connections opened so far (1 for a sequential run over one kept-alive connection). */
  connections = 0;

  /** `maxSockets`: most connections, hence most requests in flight on the wire. */
  constructor(baseUrl: string, maxSockets = 1) {
    this.#url = new URL(baseUrl);
    if (this.#url.hostname !== '127.0.0.1') {
      throw new Error(`benchmarks only talk to 127.0.0.1, not ${this.#url.hostname}`);
    }
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(raw: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const body = typeof raw.body === 'string' ? Buffer.from(raw.body) : raw.body;
      const req = request(
        {
          agent: this.#agent,
          hostname: this.#url.hostname,
          port: this.#url.port,
          method: raw.method,
          path: raw.path,
          headers: { ...raw.headers, 'content-length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('socket', (socket) => {
        if (!this.#sockets.has(socket)) {
          this.#sockets.add(socket);
          this.connections += 1;
        }
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A measurable operation: sends `raw` and fails unless the answer has `expectedStatus`. */
  operation(raw: RawRequest, expectedStatus = 200): () => Promise<void> {
    const prepared: RawRequest = { ...raw, body: Buffer.from(raw.body) };
    return async () => {
      const response = await this.send(prepared);
      if (response.status !== expectedStatus) {
        throw new Error(
          `HTTP ${response.status} (expected ${expectedStatus}): ${response.body.toString('utf8').slice(0, 200)}`,
        );
      }
    };
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** GETs or POSTs JSON on a short-lived connection (control calls, not measured). */
export async function jsonCall(
  baseUrl: string,
  method: string,
  path: string,
  payload?: unknown,
): Promise<unknown> {
  const client = new KeepAliveClient(baseUrl);
  try {
    const response = await client.send({
      method,
      path,
      headers: { 'content-type': 'application/json' },
      body: payload === undefined ? '' : JSON.stringify(payload),
    });
    if (response.status < 200 || response.status > 299) {
      throw new Error(
        `${method} ${path}: HTTP ${response.status} ${response.body.toString('utf8')}`,
      );
    }
    const text = response.body.toString('utf8');
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } finally {
    client.close();
  }
}
