/**
 * The edges of a connection (SPEC section 2, issue 14), over real loopback sockets: headers
 * must arrive within server.headersTimeoutSeconds and a whole request within
 * server.requestTimeoutSeconds; at most server.maxConnections are open at once; an answer given
 * before the body was read (401, 403, 413) closes the connection.
 */
import assert from 'node:assert/strict';
import { type Socket, connect } from 'node:net';
import { TOKEN, useDaemon } from '../support/daemon.js';

/** A raw client: what it received, and when the server closed the connection (ms after open). */
function rawClient(url: string) {
  const { port } = new URL(url);
  const opened = performance.now();
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => resolve(performance.now() - opened)),
  );
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, connected, received: () => received, port };
}

describe('daemon connections: timeouts, limits, early answers', function () {
  this.timeout(20_000);
  const daemon = useDaemon({
    server: { headersTimeoutSeconds: 1, requestTimeoutSeconds: 2, maxConnections: 6 },
  });

  it('closes a connection whose headers do not arrive within headersTimeoutSeconds', async () => {
    const client = rawClient(daemon.url);
    await client.connected;
    client.socket.write(`GET /v1/targets/orders HTTP/1.1\r\nHost: 127.0.0.1:${client.port}\r\n`);
    const ms = await client.closed; // no blank line: the headers never end
    assert.ok(ms < 3_500, `closed after ${Math.round(ms)} ms`);
    assert.match(client.received(), /^HTTP\/1\.1 400 /);
    assert.match(client.received(), /not received in time/);
  });

  it('closes a connection whose body trickles past requestTimeoutSeconds', async () => {
    const client = rawClient(daemon.url);
    await client.connected;
    client.socket.write(
      `POST /v1/lakeformation/table-credentials HTTP/1.1\r\nHost: 127.0.0.1:${client.port}\r\n` +
        `Authorization: ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{`,
    );
    const trickle = setInterval(() => client.socket.write(' '), 200);
    try {
      const ms = await client.closed;
      assert.ok(ms < 4_500, `closed after ${Math.round(ms)} ms`);
    } finally {
      clearInterval(trickle);
    }
  });

  it('a 401 given before the body was read closes the connection', async () => {
    const client = rawClient(daemon.url);
    await client.connected;
    client.socket.write(
      `POST /v1/lakeformation/table-credentials HTTP/1.1\r\nHost: 127.0.0.1:${client.port}\r\n` +
        'Authorization: wrong-token-0123456789\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100000\r\n\r\n{"TableArn":',
    );
    const ms = await client.closed;
    assert.match(client.received(), /^HTTP\/1\.1 401 /);
    assert.match(client.received(), /\r\nconnection: close\r\n/i);
    assert.ok(ms < 1_000, `closed after ${Math.round(ms)} ms`);
  });

  it('keeps at most maxConnections open: the ones beyond are closed at once', async () => {
    const held = Array.from({ length: 6 }, () => rawClient(daemon.url));
    await Promise.all(held.map((client) => client.connected));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = rawClient(daemon.url);
    const ms = await extra.closed;
    assert.ok(ms < 1_000, `the 7th connection was closed after ${Math.round(ms)} ms`);
    assert.equal(extra.received(), '');
    for (const client of held) client.socket.destroy();
    await Promise.all(held.map((client) => client.closed));
    // Room again: a legitimate client is served.
    const answer = await fetch(`${daemon.url}/v1/targets/orders`, {
      headers: { authorization: TOKEN },
    });
    assert.equal(answer.status, 200);
  });
});
