/**
 * The edges of a connection (docs/api.md, issue 14), over real loopback sockets: headers
 * must arrive within server.headersTimeoutSeconds and a whole request within
 * server.requestTimeoutSeconds; at most server.maxConnections are open at once; an answer given
 * before the body was read (401, 403, 413) closes the connection.
 */
import assert from 'node:assert/strict';
import { type Socket, connect } from 'node:net';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

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

/**
 * One request's bytes sent as they are over a raw socket (Node's http client would not send a
 * repeated Host or a malformed one), read until the server closes the connection: every request
 * here asks it to, and a refusal closes it anyway.
 */
async function ask(url: string, head: string, body = '') {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  socket.end(`${head}\r\n${body}`);
  let raw = '';
  for await (const chunk of socket) raw += String(chunk);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(raw);
  assert.ok(status, `not an HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`);
  const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  // An error answer is the API error body (a chunked one would not parse, and fail the test).
  const error =
    /\r\ncontent-type: application\/json/i.test(raw) && text.startsWith('{"error"')
      ? (JSON.parse(text) as { error: { code: string; message: string } }).error
      : undefined;
  return { status: Number(status[1]), raw, error };
}

/** A request head: the request line, then the header lines as given, then the blank line. */
const headOf = (target: string, headers: readonly [string, string][], method = 'GET') =>
  `${method} ${target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}`;

describe('daemon connections: Host and repeated headers', function () {
  this.timeout(20_000);
  const daemon = useDaemon({ probeListen: '127.0.0.1:0' });
  const port = () => new URL(daemon.url).port;
  const target = (host: string, more: [string, string][] = []) =>
    ask(
      daemon.url,
      headOf('/v1/targets/orders', [
        ['Host', host],
        ['Authorization', TOKEN],
        ['Connection', 'close'],
        ...more,
      ]),
    );

  it('400 InvalidRequest naming Host when Host is not one well-formed host[:port]', async () => {
    const malformed = [
      'localhost:80@evil.com',
      'evil.com@localhost',
      '[::1]evil.com',
      '[::1]:80:evil',
      '127.0.0.1:9911:evil',
      'localhost:99999',
      'localhost:123456',
      'localhost:',
      ':9911',
      '[::1',
      '::1',
      '[localhost]',
      '[::1]]',
      'localhost/evil',
      'local host',
      'localhost,evil.com',
      '',
    ];
    for (const host of malformed) {
      const answer = await target(host);
      assert.equal(answer.status, 400, `Host ${JSON.stringify(host)}: ${answer.raw}`);
      assert.equal(answer.error?.code, 'InvalidRequest', host);
      assert.match(answer.error?.message ?? '', /^Host: /, host);
      assert.match(answer.raw, /\r\nconnection: close\r\n/i);
    }
  });

  it('403 for a well-formed Host that is not a loopback name; loopback names in any case pass', async () => {
    for (const host of ['evil.com', 'evil.com:9911', 'localhost.', '[::2]:80', '10.0.0.1:9911']) {
      const answer = await target(host);
      assert.equal(answer.status, 403, `Host ${host}: ${answer.raw}`);
      assert.equal(answer.error?.code, 'Forbidden', host);
      assert.match(answer.error?.message ?? '', /^Host: /, host);
    }
    for (const host of [
      `localhost:${port()}`,
      'LOCALHOST',
      `127.0.0.1:${port()}`,
      '127.1.2.3:65535',
      `[::1]:${port()}`,
      '[::FFFF:127.0.0.1]',
    ]) {
      const answer = await target(host);
      assert.equal(answer.status, 200, `Host ${host}: ${answer.raw}`);
    }
  });

  it('the last accepted Host is remembered, yet every other Host is judged anew', async () => {
    const good = `127.0.0.1:${port()}`;
    for (let round = 0; round < 3; round += 1) {
      assert.equal((await target(good)).status, 200);
      assert.equal((await target(`${good}@evil.com`)).status, 400);
      assert.equal((await target(good)).status, 200);
      assert.equal((await target('evil.com')).status, 403);
    }
    // A foreign Host served on a probe route is not thereby allowed on a credential route.
    const probe = await ask(
      daemon.url,
      headOf('/healthz', [
        ['Host', 'pod.internal:9911'],
        ['Connection', 'close'],
      ]),
    );
    assert.equal(probe.status, 200);
    assert.equal((await target('pod.internal:9911')).status, 403);
  });

  it('a malformed Host is refused on every route, before the route and the token', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/nowhere', '/v1/targets/orders']) {
      const answer = await ask(
        daemon.url,
        headOf(path, [
          ['Host', '127.0.0.1:9911:evil'],
          ['Connection', 'close'],
        ]),
      );
      assert.equal(answer.status, 400, `${path}: ${answer.raw}`);
      assert.match(answer.error?.message ?? '', /^Host: /, path);
    }
    // A well-formed foreign Host is served where no token is needed (a probe names the pod).
    const healthz = await ask(
      daemon.url,
      headOf('/healthz', [
        ['Host', '10.1.2.3:9911'],
        ['Connection', 'close'],
      ]),
    );
    assert.equal(healthz.status, 200, healthz.raw);
  });

  it('400 naming Host when Host is sent twice, whatever the values, case or route', async () => {
    const host = `127.0.0.1:${port()}`;
    const cases: [string, [string, string][]][] = [
      [
        '/v1/targets/orders',
        [
          ['Host', host],
          ['Host', host],
          ['Authorization', TOKEN],
        ],
      ],
      [
        '/v1/targets/orders',
        [
          ['Host', host],
          ['Authorization', TOKEN],
          ['host', 'evil.com'],
        ],
      ],
      [
        '/v1/targets/orders',
        [
          ['HOST', 'evil.com'],
          ['Authorization', TOKEN],
          ['hOsT', host],
        ],
      ],
      // Before the token: a repeated Host is a 400 even without one.
      [
        '/v1/targets/orders',
        [
          ['Host', host],
          ['Host', host],
        ],
      ],
      [
        '/healthz',
        [
          ['Host', host],
          ['Host', host],
        ],
      ],
      [
        '/nowhere',
        [
          ['Host', host],
          ['Host', host],
        ],
      ],
    ];
    for (const [path, headers] of cases) {
      const answer = await ask(daemon.url, headOf(path, [...headers, ['Connection', 'close']]));
      assert.equal(answer.status, 400, `${path} ${JSON.stringify(headers)}: ${answer.raw}`);
      assert.equal(answer.error?.code, 'InvalidRequest');
      assert.match(answer.error?.message ?? '', /^Host: /);
    }
  });

  it('400 naming Authorization when it is sent twice, even both right, before the token is checked', async () => {
    const host = `127.0.0.1:${port()}`;
    const twice: [string, string][][] = [
      [
        ['Authorization', TOKEN],
        ['Authorization', TOKEN],
      ],
      [
        ['Authorization', TOKEN],
        ['authorization', 'wrong-token-0123456789'],
      ],
      [
        ['AUTHORIZATION', 'wrong-token-0123456789'],
        ['Authorization', TOKEN],
      ],
      [
        ['Authorization', ''],
        ['Authorization', `Bearer ${TOKEN}`],
      ],
    ];
    for (const auths of twice) {
      for (const path of ['/v1/targets/orders', '/healthz']) {
        const answer = await ask(
          daemon.url,
          headOf(path, [['Host', host], ...auths, ['Connection', 'close']]),
        );
        assert.equal(answer.status, 400, `${path} ${JSON.stringify(auths)}: ${answer.raw}`);
        assert.equal(answer.error?.code, 'InvalidRequest');
        assert.match(answer.error?.message ?? '', /^Authorization: /);
      }
    }
  });

  it('refuses a repeated header on a POST before its body is read, and closes the connection', async () => {
    const host = `127.0.0.1:${port()}`;
    for (const repeated of [
      [
        ['Authorization', TOKEN],
        ['Authorization', TOKEN],
      ],
      [
        ['Host', host],
        ['Host', host],
        ['Authorization', TOKEN],
      ],
    ] as [string, string][][]) {
      const started = performance.now();
      const answer = await ask(
        daemon.url,
        headOf(
          '/v1/lakeformation/table-credentials',
          [
            ...(repeated[0]?.[0] === 'Host' ? [] : ([['Host', host]] as [string, string][])),
            ...repeated,
            ['Content-Type', 'application/json'],
            ['Content-Length', '100000'],
          ],
          'POST',
        ),
        '{"TableArn":',
      );
      assert.equal(answer.status, 400, answer.raw);
      assert.equal(answer.error?.code, 'InvalidRequest');
      assert.match(answer.error?.message ?? '', new RegExp(`^${repeated[0]?.[0] ?? ''}: `));
      assert.match(answer.raw, /\r\nconnection: close\r\n/i);
      assert.ok(performance.now() - started < 1_000, 'the connection was closed at once');
    }
    // One of each is served, as ever.
    const served = await fetch(`${daemon.url}/v1/lakeformation/table-credentials`, {
      method: 'POST',
      headers: { authorization: TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ TableArn: TABLE_ARN }),
    });
    assert.equal(served.status, 200);
  });

  it('the probe listener refuses a repeated or malformed Host too, and serves a foreign one', async () => {
    const probeUrl = daemon.current.probeUrl;
    assert.ok(probeUrl);
    const probe = (headers: [string, string][], path = '/readyz') =>
      ask(probeUrl, headOf(path, [...headers, ['Connection', 'close']]));
    const pod = '10.1.2.3:9912';
    assert.equal((await probe([['Host', pod]])).status, 200);
    assert.equal((await probe([['Host', '[fd00::1]:9912']], '/metrics')).status, 200);
    const repeatedHost = await probe([
      ['Host', pod],
      ['Host', pod],
    ]);
    assert.equal(repeatedHost.status, 400, repeatedHost.raw);
    assert.match(repeatedHost.error?.message ?? '', /^Host: /);
    const repeatedAuth = await probe(
      [
        ['Host', pod],
        ['Authorization', 'a'],
        ['Authorization', 'b'],
      ],
      '/healthz',
    );
    assert.equal(repeatedAuth.status, 400, repeatedAuth.raw);
    assert.match(repeatedAuth.error?.message ?? '', /^Authorization: /);
    const malformed = await probe([['Host', '10.1.2.3:9912@evil.com']], '/metrics');
    assert.equal(malformed.status, 400, malformed.raw);
    assert.match(malformed.error?.message ?? '', /^Host: /);
  });
});
