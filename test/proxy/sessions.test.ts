/**
 * The proxy as an attacker and a flood meet it, in this process and in virtual time: the
 * proxies (proxies.ts, session.ts) on a `ManualClock`, in front of a fake PostgreSQL written here
 * (it asks for a cleartext password and, unless told to hold, logs in), with a fake cache and
 * counting metrics. What a client is told is read from the bytes it receives. The same
 * behaviours with real clients and a real PostgreSQL are in test/clients/proxy-*.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Server, type Socket, connect, createServer } from 'node:net';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock.js';
import type { CredentialKey } from '../../src/cache/key.js';
import type { ProxyConfig } from '../../src/config/schema.js';
import { type RunningProxies, startProxies } from '../../src/proxy/proxies.js';
import {
  MAX_SETUP_BUFFER_BYTES,
  REFUSAL_LINGER_MS,
  SETUP_TIMEOUT_MS,
  type SessionOutcome,
} from '../../src/proxy/session.js';
import {
  MAX_STARTUP_BYTES,
  cancelRequest,
  message,
  passwordMessage,
  readErrorFields,
  readFirstMessage,
  readMessage,
  sslRequest,
  startupMessage,
} from '../../src/proxy/wire.js';

const TOKEN = 'sessions-test-token-0123456789';

/** Resolves once `predicate` holds, polling the event loop (real time, bounded). */
async function until(predicate: () => boolean, what: string, limitMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > limitMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * A fake PostgreSQL server: reads the startup, asks for a cleartext password, reads it, then
 * (unless `hold`) sends AuthenticationOk, BackendKeyData and ReadyForQuery. Counts connections.
 */
class FakePostgres {
  readonly server: Server;
  readonly open = new Set<Socket>();
  accepted = 0;
  passwords = 0;
  hold = false;

  constructor() {
    this.server = createServer((socket) => {
      this.accepted++;
      this.open.add(socket);
      socket.on('error', () => socket.destroy());
      socket.once('close', () => this.open.delete(socket));
      let buffer = Buffer.alloc(0);
      let stage: 'startup' | 'password' | 'done' = 'startup';
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (stage === 'startup') {
          const first = readFirstMessage(buffer);
          if (!first) return;
          buffer = buffer.subarray(first.length);
          stage = 'password';
          const ask = Buffer.alloc(4);
          ask.writeInt32BE(3, 0);
          socket.write(message('R', ask));
        }
        if (stage === 'password') {
          const answer = readMessage(buffer);
          if (!answer) return;
          buffer = buffer.subarray(answer.length);
          stage = 'done';
          this.passwords++;
          if (this.hold) return;
          const key = Buffer.alloc(8);
          key.writeInt32BE(4242, 0);
          key.writeInt32BE(7, 4);
          socket.write(
            Buffer.concat([
              message('R', Buffer.alloc(4)),
              message('K', key),
              message('Z', Buffer.from('I')),
            ]),
          );
        }
      });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Counting metrics, by hand. */
class Counts {
  active = 0;
  readonly outcomes = new Map<string, number>();
  outcome(name: SessionOutcome): number {
    return this.outcomes.get(name) ?? 0;
  }
  get total(): number {
    return [...this.outcomes.values()].reduce((a, b) => a + b, 0);
  }
}

interface Harness {
  readonly clock: ManualClock;
  readonly upstream: FakePostgres;
  readonly counts: Counts;
  readonly proxies: RunningProxies;
  readonly port: number;
}

function useProxies(proxy: Partial<ProxyConfig> = {}) {
  let harness: Harness | undefined;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  beforeEach(async () => {
    uncaught.length = 0;
    process.on('uncaughtExceptionMonitor', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const clock = new ManualClock();
    const upstream = new FakePostgres();
    const upstreamPort = await upstream.start();
    const counts = new Counts();
    const proxies = await startProxies({
      clock,
      proxies: [
        {
          target: 'warehouse',
          listen: '127.0.0.1:0',
          upstream: `127.0.0.1:${upstreamPort}`,
          tls: 'disable',
          clientAuth: 'token',
          maxConnections: 100,
          ...proxy,
        },
      ],
      targetKey: () => ({}) as CredentialKey,
      cache: {
        get: () =>
          Promise.resolve({
            entry: { issued: { credentials: { dbUser: 'IAM:warehouse', dbPassword: 'pw' } } },
          }) as never,
      },
      checkToken: (password) => password === TOKEN,
      metrics: () => ({
        connection: (outcome) =>
          counts.outcomes.set(outcome, (counts.outcomes.get(outcome) ?? 0) + 1),
        opened: () => counts.active++,
        closed: () => counts.active--,
      }),
    });
    const port = Number(proxies.addresses[0]?.split(':')[1]);
    harness = { clock, upstream, counts, proxies, port };
  });
  afterEach(async () => {
    process.off('uncaughtExceptionMonitor', onUncaught);
    process.off('unhandledRejection', onUncaught);
    const closing = harness?.proxies.close(0);
    harness?.clock.advance(0); // the drain's deadline is on the clock
    await closing;
    await harness?.upstream.stop();
    harness = undefined;
    assert.deepEqual(uncaught, [], 'no uncaught exception or unhandled rejection');
  });
  return {
    get current(): Harness {
      return harness ?? assert.fail('not started');
    },
  };
}

/** A raw client socket and everything it received. */
interface RawClient {
  readonly socket: Socket;
  received(): Buffer;
  /** Resolves when the proxy ended its side (or the socket closed). */
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
}

async function rawClient(
  port: number,
  options: { allowHalfOpen?: boolean } = {},
): Promise<RawClient> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    allowHalfOpen: options.allowHalfOpen ?? false,
  });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  // Not events.once: it rejects on 'error', and a reset is an end here too.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const ended = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), ended, closed };
}

/** The SQLSTATE of the first ErrorResponse in `bytes` (after any single-byte `N` answers). */
function errorCode(bytes: Buffer): string | undefined {
  let at = 0;
  while (bytes[at] === 0x4e /* N */) at++;
  for (let rest = bytes.subarray(at); rest.length > 0;) {
    const read = readMessage(rest, 1_000_000);
    if (!read) return undefined;
    if (read.type === 'E') return readErrorFields(read.body).code;
    rest = rest.subarray(read.length);
  }
  return undefined;
}

describe('proxy sessions: setup deadline, connection limit, bounded input (virtual time)', function () {
  this.timeout(20_000);
  const proxies = useProxies({ maxConnections: 3 });

  it('closes a client that sends nothing at the setup deadline, told so, on the clock', async () => {
    const { clock, counts, port } = proxies.current;
    const client = await rawClient(port);
    // Blocked on the clock: the session's deadline is its only timer.
    await until(() => clock.pendingTimers === 1, 'the setup deadline');
    clock.advance(SETUP_TIMEOUT_MS - 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(client.received().length, 0, 'nothing before the deadline');
    assert.equal(counts.active, 1);
    clock.advance(1);
    await client.ended;
    assert.equal(errorCode(client.received()), '08006');
    assert.match(client.received().toString('latin1'), /not set up within 30 s/);
    await client.closed;
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(counts.outcome('setup_timeout'), 1);
    assert.equal(proxies.current.upstream.accepted, 0, 'no upstream connection');
  });

  it('closes a refused client that neither reads nor closes after the linger', async () => {
    const { clock, counts, port } = proxies.current;
    const client = await rawClient(port, { allowHalfOpen: true });
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage('wrong'));
    await client.ended;
    assert.equal(errorCode(client.received().subarray(9)), '28P01');
    // The client keeps its side open: the proxy closes the socket after the linger.
    await until(() => clock.pendingTimers === 1, 'the linger');
    assert.equal(counts.active, 1, 'held until the linger');
    clock.advance(REFUSAL_LINGER_MS - 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(counts.active, 1, 'still held just before the linger ends');
    clock.advance(1);
    await until(() => counts.active === 0, 'the socket closed by the proxy');
    // Gone on the proxy's side: what the client writes now is reset.
    let closed = false;
    void client.closed.then(() => (closed = true));
    await until(() => closed || !client.socket.write('anyone there?'), 'the reset');
    await client.closed;
    assert.equal(counts.outcome('bad_token'), 1);
  });

  it('answers a connection beyond maxConnections with 53300 at once and closes it', async () => {
    const { counts, port } = proxies.current;
    const held = await Promise.all([1, 2, 3].map(() => rawClient(port)));
    await until(() => counts.active === 3, 'three sessions');
    const over = await rawClient(port);
    // Nothing sent: the answer does not wait for the client.
    await over.ended;
    assert.equal(errorCode(over.received()), '53300');
    assert.match(over.received().toString('latin1'), /too many clients.*at most 3 connections/);
    assert.equal(counts.outcome('too_many_connections'), 1);
    assert.equal(counts.active, 3, 'the refused one never counted as a session');
    // A place freed is a place taken.
    held[0]?.socket.destroy();
    await until(() => counts.active === 2, 'one closed');
    const next = await rawClient(port);
    next.socket.write(startupMessage({ user: 'x' }));
    await until(() => next.received().length > 0, 'the password request');
    assert.equal(next.received()[0], 0x52 /* R */);
    for (const client of [...held, next]) client.socket.destroy();
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(proxies.current.upstream.accepted, 0, 'no upstream connection for any of them');
  });

  it('holds a forwarded cancel’s place while its upstream connection is open, at most until the deadline', async () => {
    const { clock, counts, port, upstream } = proxies.current;
    // The worst upstream: it keeps a cancel connection open after the request (half-open).
    upstream.server.prependListener('connection', (socket: Socket) => {
      socket.allowHalfOpen = true;
    });
    const cancels = await Promise.all([1, 2, 3].map(() => rawClient(port)));
    for (const client of cancels)
      client.socket.write(cancelRequest(4242, Buffer.from([0, 0, 0, 7])));
    await until(() => upstream.accepted === 3, 'three cancels passed on');
    // The clients hang up at once: their places stay taken while upstream holds the connections.
    for (const client of cancels) client.socket.destroy();
    await until(() => counts.active === 0, 'the clients gone');
    const over = await rawClient(port);
    await until(() => over.received().length > 0, 'an answer beyond the limit');
    assert.equal(errorCode(over.received()), '53300', 'no place while three cancels run');
    assert.equal(upstream.accepted, 3, 'and no fourth upstream connection');
    assert.equal(counts.outcome('cancel_forwarded'), 0, 'none settled before the deadline');
    clock.advance(SETUP_TIMEOUT_MS);
    await until(
      () => counts.outcome('cancel_forwarded') === 3,
      'the cancels settled, their upstream sockets destroyed, at the deadline',
    );
    const next = await rawClient(port);
    next.socket.write(startupMessage({ user: 'x' }));
    await until(() => next.received().length > 0, 'the password request');
    assert.equal(next.received()[0], 0x52 /* R */, 'the places are free again');
    next.socket.destroy();
  });

  it('tells sessions still setting up at shutdown 57P01, and finishes no login', async () => {
    const { clock, counts, port, proxies: running, upstream } = proxies.current;
    upstream.hold = true; // the fake upstream asks for the password, then answers nothing
    const asked = await rawClient(port); // asked for its token, not answered yet
    asked.socket.write(startupMessage({ user: 'x' }));
    await until(() => asked.received().length > 0, 'the password request');
    const loggingIn = await rawClient(port); // its login upstream under way
    loggingIn.socket.write(startupMessage({ user: 'x' }));
    await until(() => loggingIn.received().length > 0, 'the password request');
    loggingIn.socket.write(passwordMessage(TOKEN));
    await until(() => upstream.passwords === 1, 'the upstream login under way');
    const closing = running.close(5_000);
    await Promise.all([asked.ended, loggingIn.ended]);
    for (const client of [asked, loggingIn]) {
      assert.equal(errorCode(client.received().subarray(9)), '57P01');
    }
    assert.equal(counts.outcome('shutting_down'), 2);
    assert.equal(counts.outcome('success'), 0);
    await until(() => upstream.open.size === 0, 'the upstream login abandoned');
    clock.advance(5_000);
    await closing;
  });

  it('closes a forwarded cancel’s client as soon as upstream has closed', async () => {
    const { counts, port, upstream } = proxies.current;
    // This upstream closes a cancel connection at once, as PostgreSQL does.
    upstream.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (readFirstMessage(chunk)?.message.kind === 'cancel') socket.destroy();
      });
    });
    const client = await rawClient(port, { allowHalfOpen: true });
    client.socket.write(cancelRequest(4242, Buffer.from([0, 0, 0, 7])));
    await client.ended;
    await until(() => counts.outcome('cancel_forwarded') === 1 && counts.active === 0, 'settled');
  });

  it('blames upstream, not the client, for an upstream message that breaks the protocol', async () => {
    const { counts, port, upstream } = proxies.current;
    upstream.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', () => {
        const huge = Buffer.alloc(5);
        huge.write('R', 0, 'latin1');
        huge.writeInt32BE(0x7fffffff, 1);
        socket.write(huge);
      });
    });
    const client = await rawClient(port);
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage(TOKEN));
    await client.ended;
    assert.equal(errorCode(client.received()), '08006');
    assert.equal(counts.outcome('upstream_refused'), 1);
    assert.equal(counts.outcome('protocol_error'), 0);
  });

  it('refuses a huge declared length from its first four bytes, without waiting for more', async () => {
    const { counts, port } = proxies.current;
    for (const length of [0x7fffffff, MAX_STARTUP_BYTES + 1, 3, -1]) {
      const client = await rawClient(port);
      const head = Buffer.alloc(4);
      head.writeInt32BE(length, 0);
      client.socket.write(head);
      await client.ended;
      assert.equal(errorCode(client.received()), '08P01', `length ${length}`);
    }
    // A huge typed message during the login, from its length.
    const client = await rawClient(port);
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    const huge = Buffer.alloc(5);
    huge.write('p', 0, 'latin1');
    huge.writeInt32BE(0x7fffffff, 1);
    client.socket.write(huge);
    await client.ended;
    assert.equal(errorCode(client.received().subarray(9)), '08P01');
    assert.equal(counts.outcome('protocol_error'), 5);
    await until(() => counts.active === 0, 'the gauge back to 0');
  });

  it("a browser's fetch POST to the proxy gets a protocol refusal, no upstream connection", async () => {
    const { counts, port } = proxies.current;
    const body = 'x'.repeat(50_000);
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body }),
      TypeError, // undici: not an HTTP answer
    );
    // The same bytes, seen raw: an ErrorResponse 08P01, then the end.
    const client = await rawClient(port);
    client.socket.write(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await client.ended;
    assert.equal(errorCode(client.received()), '08P01');
    assert.match(client.received().toString('latin1'), /startup packet of 1347375956 bytes/);
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(counts.outcome('protocol_error'), 2);
    assert.equal(proxies.current.upstream.accepted, 0, 'no upstream connection');
  });

  it('declines SSLRequest once, as PostgreSQL does; a second one is a protocol error', async () => {
    const { port } = proxies.current;
    const client = await rawClient(port);
    client.socket.write(Buffer.concat([sslRequest(), sslRequest()]));
    await client.ended;
    assert.equal(client.received()[0], 0x4e /* N */);
    assert.equal(errorCode(client.received()), '08P01');
    assert.match(client.received().toString('latin1'), /a second SSLRequest/);
  });

  it('a client that hangs up mid-startup or while asked for its password is client_gone', async () => {
    const { counts, port } = proxies.current;
    const half = await rawClient(port);
    half.socket.write(startupMessage({ user: 'x', database: 'dev' }).subarray(0, 12));
    await until(() => counts.active === 1, 'the session');
    half.socket.destroy();
    const asked = await rawClient(port);
    asked.socket.write(startupMessage({ user: 'x' }));
    await until(() => asked.received().length > 0, 'the password request');
    asked.socket.end();
    await until(() => counts.outcome('client_gone') === 2, 'two client_gone');
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(proxies.current.clock.pendingTimers, 0, 'no deadline left behind');
    assert.equal(proxies.current.upstream.accepted, 0);
  });

  it('a client that hangs up during the upstream login leaves no upstream connection open', async () => {
    const { counts, port, upstream } = proxies.current;
    upstream.hold = true;
    const client = await rawClient(port);
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage(TOKEN));
    // Upstream has the proxy's password and holds its answer: the client goes.
    await until(() => upstream.passwords === 1, 'the upstream login');
    client.socket.destroy();
    await until(() => counts.outcome('client_gone') === 1, 'client_gone');
    await until(() => upstream.open.size === 0, 'the upstream socket closed');
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(counts.outcome('success'), 0);
  });

  it('refuses a client that pipelines megabytes before its login is done, buffering none', async () => {
    const { counts, port, upstream } = proxies.current;
    upstream.hold = true;
    const client = await rawClient(port);
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage(TOKEN));
    await until(() => upstream.passwords === 1, 'the upstream login');
    // While the upstream login is held, 8 MB the proxy would otherwise keep.
    client.socket.write(Buffer.alloc(8 * 1024 * 1024, 0x51));
    await client.ended;
    assert.equal(errorCode(client.received().subarray(9)), '08P01');
    assert.match(
      client.received().toString('latin1'),
      new RegExp(`more than ${MAX_SETUP_BUFFER_BYTES} bytes sent before the login was done`),
    );
    await until(() => counts.active === 0 && upstream.open.size === 0, 'all closed');
    assert.equal(counts.outcome('protocol_error'), 1);
    assert.equal(counts.outcome('success'), 0);
  });

  it('logs in and relays once the token is right (the fake upstream answers)', async () => {
    const { counts, port } = proxies.current;
    const client = await rawClient(port);
    client.socket.write(Buffer.concat([startupMessage({ user: 'x' })]));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage(TOKEN));
    await until(() => client.received().includes(Buffer.from('Z\0\0\0\x05I')), 'ReadyForQuery');
    assert.equal(counts.outcome('success'), 1);
    assert.equal(proxies.current.clock.pendingTimers, 0, 'the setup deadline cancelled');
    client.socket.destroy();
    await until(() => counts.active === 0 && proxies.current.upstream.open.size === 0, 'closed');
  });
});

describe('proxy sessions: TLS to upstream', () => {
  const proxies = useProxies({ tls: 'require' });

  it('refuses an upstream that sends bytes after accepting TLS, before the handshake', async () => {
    const { counts, port, upstream } = proxies.current;
    upstream.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', () => socket.write('Sinjected'));
    });
    const client = await rawClient(port);
    client.socket.write(startupMessage({ user: 'x' }));
    await until(() => client.received().length > 0, 'the password request');
    client.socket.write(passwordMessage(TOKEN));
    await client.ended;
    assert.equal(errorCode(client.received().subarray(9)), '08006');
    assert.match(client.received().toString('latin1'), /data after accepting TLS/);
    assert.equal(counts.outcome('upstream_unreachable'), 1);
  });
});

describe('proxy sessions: random bytes (fast-check, fixed seed)', function () {
  this.timeout(60_000);
  const proxies = useProxies();

  /** Inputs around the shapes the proxy reads: bare bytes, framed first messages, a login. */
  const inputs = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
    fc
      .tuple(fc.integer({ min: -10, max: 20_000 }), fc.uint8Array({ maxLength: 200 }))
      .map(([length, rest]) => {
        const head = Buffer.alloc(4);
        head.writeInt32BE(length, 0);
        return Buffer.concat([head, rest]);
      }),
    fc
      .tuple(
        fc.constantFrom(80_877_102, 80_877_103, 80_877_104, 196_608, 131_072),
        fc.uint8Array({ maxLength: 100 }),
      )
      .map(([code, rest]) => {
        const head = Buffer.alloc(8);
        head.writeInt32BE(8 + rest.length, 0);
        head.writeInt32BE(code, 4);
        return Buffer.concat([head, rest]);
      }),
    fc
      .tuple(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 100 }))
      .map(([user, rest]) => Buffer.concat([startupMessage({ user: `u${user}` }), rest])),
  );

  it('never crashes, never reaches upstream without the token, always ends the socket', async () => {
    const { clock, counts, port, upstream } = proxies.current;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(inputs, async (bytes) => {
        runs++;
        const before = counts.total;
        const client = await rawClient(port);
        client.socket.write(bytes);
        // Either refused at once, or waiting for bytes that never come: the deadline ends it.
        const answered = await Promise.race([
          client.ended.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30)),
        ]);
        if (!answered) {
          clock.advance(SETUP_TIMEOUT_MS);
          await client.ended;
        }
        await client.closed;
        await until(() => counts.total === before + 1, 'the outcome counted');
        assert.equal(counts.outcome('success'), 0);
      }),
      { seed: 20_260_118, numRuns: 150 },
    );
    await until(() => counts.active === 0, 'the gauge back to 0');
    assert.equal(runs, 150);
    assert.equal(upstream.passwords, 0, 'no login upstream without the token');
  });
});
