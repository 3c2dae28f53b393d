/**
 * Bounded waiting and hung-up clients, through the daemon's HTTP front over loopback against its
 * built-in emulator (real SDK calls, real sockets): misses beyond `upstream.maxQueue` or waiting
 * past `upstream.maxWaitSeconds` are answered 503 `UpstreamThrottled` with `Retry-After`, and a
 * miss whose client hung up is dropped before it costs an upstream call.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { TOKEN, useDaemon } from '../support/daemon.js';

const tableArn = (i: number) => `arn:aws:glue:us-east-1:123456789012:table/sales/t${i}`;
const path = (i: number) =>
  `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(tableArn(i))}&permissions=SELECT`;

async function ask(url: string, i: number) {
  const response = await fetch(`${url}${path(i)}`, { headers: { authorization: TOKEN } });
  const body = (await response.json()) as { error?: { code: string; retryable: boolean } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

/** Writes one request and closes the socket at once, as a fire-and-forget client does. */
function fireAndForget(port: number, target: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${TOKEN}\r\n\r\n`,
      );
    });
    socket.on('error', reject).on('close', () => resolve());
    socket.resume();
  });
}

async function tableCalls(control: ReturnType<typeof useDaemon>['control']): Promise<number> {
  const { body } = await control('calls');
  return (
    (body as { byOperation: Record<string, number> }).byOperation
      .GetTemporaryGlueTableCredentials ?? 0
  );
}

describe('daemon under pressure: bounded waiting', function () {
  this.timeout(20_000);

  describe('upstream.maxQueue', () => {
    const daemon = useDaemon({
      targets: [],
      upstream: { maxConcurrent: 1, maxQueue: 5, maxAttempts: 1 },
    });

    it('refuses misses beyond the queue at once, 503 UpstreamThrottled with Retry-After', async () => {
      await daemon.control('faults', { operation: '*', mode: 'latency', latencyMs: 300 });
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(daemon.url, i)));
      const refused = answers.filter((answer) => answer.status === 503);
      const served = answers.filter((answer) => answer.status === 200);
      // One call runs, five wait: the fourteen others are refused.
      assert.equal(served.length, 6);
      assert.equal(refused.length, 14);
      for (const answer of refused) {
        assert.equal(answer.body.error?.code, 'UpstreamThrottled');
        assert.equal(answer.body.error?.retryable, true);
        assert.ok(Number(answer.retryAfter) >= 1, `Retry-After ${answer.retryAfter}`);
      }
      assert.equal(await tableCalls(daemon.control), 6, 'a refused miss costs no call');
      assert.ok(Date.now() - started < 10_000);
    });
  });

  describe('upstream.maxWaitSeconds', () => {
    const daemon = useDaemon({
      targets: [],
      upstream: { maxConcurrent: 1, maxWaitSeconds: 1, maxAttempts: 1 },
    });

    it('refuses a miss that waited its whole maxWait for a turn', async () => {
      await daemon.control('faults', { operation: '*', mode: 'latency', latencyMs: 700 });
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => ask(daemon.url, i)));
      // Calls start at 0 and 0.7 s; the third would start at 1.4 s, after the 1 s wait.
      assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 200, 503, 503, 503]);
      for (const answer of answers.filter((a) => a.status === 503)) {
        assert.equal(answer.body.error?.code, 'UpstreamThrottled');
        assert.match(answer.retryAfter ?? '', /^\d+$/);
      }
      assert.equal(await tableCalls(daemon.control), 2);
    });
  });

  describe('clients that hang up at once', () => {
    const daemon = useDaemon({ targets: [] });

    it('cost no upstream call even when the budget has room', async () => {
      const { port } = new URL(daemon.url);
      await Promise.all(Array.from({ length: 50 }, (_, i) => fireAndForget(Number(port), path(i))));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Before a miss asks the cache, the event loop reads the sockets again: a close that came
      // with the request is seen first. (Best effort: under load a late FIN may still cost one.)
      const calls = await tableCalls(daemon.control);
      assert.ok(calls < 10, `${calls} upstream calls for 50 clients that had hung up`);
    });
  });

  describe('clients that hang up', () => {
    const daemon = useDaemon({ targets: [], upstream: { maxConcurrent: 1, maxAttempts: 1 } });

    it('a queued miss whose client hung up costs no upstream call', async () => {
      await daemon.control('faults', { operation: '*', mode: 'latency', latencyMs: 500 });
      const { port } = new URL(daemon.url);
      const waiting = ask(daemon.url, 0); // holds the only upstream slot
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Thirty fire-and-forget clients: each writes its request and closes at once.
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => fireAndForget(Number(port), path(i + 1))),
      );
      assert.equal((await waiting).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      assert.equal(await tableCalls(daemon.control), 1, 'only the client that stayed cost a call');
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
      assert.match(
        metrics,
        /credcache_http_requests_total\{route="\/v1\/lakeformation\/table-credentials",code="499"\} 30/,
      );
    });
  });
});
