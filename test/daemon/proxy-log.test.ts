/**
 * What the daemon logs of its PostgreSQL proxies: the start-up line names each one (where it
 * listens, the port it got, upstream, TLS, client authentication), a proxy without client
 * authentication is warned about, a refused connection is logged with its reason and never the
 * token, and a flood of refusals is bounded to a burst per window plus one count line.
 * No database is needed: the token is checked before upstream is ever asked.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/daemon/logger.js';
import { proxyOutcomeObserver } from '../../src/daemon/observers.js';
import { TARGETS, TOKEN, useDaemon } from '../support/daemon.js';

type Line = Record<string, unknown>;

const parse = (chunks: readonly string[]): Line[] =>
  chunks
    .flatMap((chunk) => chunk.split('\n').filter(Boolean))
    .map((text) => JSON.parse(text) as Line);

describe('proxy logs', () => {
  describe('in the daemon', () => {
    const daemon = useDaemon({
      targets: TARGETS,
      proxies: [
        { target: 'warehouse', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', tls: 'disable' },
        {
          target: 'warehouse',
          listen: '127.0.0.1:0',
          upstream: '127.0.0.1:1',
          tls: 'disable',
          clientAuth: 'none',
        },
      ],
    });

    it('names every proxy in the start-up line and warns of one without client authentication', () => {
      const lines = parse(daemon.logs);
      const started = lines.find((line) => line.msg === 'credcache listening');
      const proxies = started?.proxies as Line[] | undefined;
      assert.equal(proxies?.length, 2);
      for (const proxy of proxies ?? []) {
        assert.match(String(proxy.listen), /^127\.0\.0\.1:[1-9]\d*$/, 'the port it got');
        assert.deepEqual(
          { target: proxy.target, upstream: proxy.upstream, tls: proxy.tls },
          { target: 'warehouse', upstream: '127.0.0.1:1', tls: 'disable' },
        );
      }
      assert.deepEqual(
        proxies?.map((proxy) => proxy.clientAuth),
        ['token', 'none'],
      );
      const warnings = lines.filter((line) => line.msg?.toString().includes('clientAuth: none'));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.level, 'warn');
      assert.equal(warnings[0]?.proxy, 'proxies[1]');
      assert.equal(warnings[0]?.listen, proxies?.[1]?.listen);
    });

    it('logs a refused connection with its reason, never the token, right or wrong', async () => {
      const started = parse(daemon.logs).find((line) => line.msg === 'credcache listening');
      const listen = String((started?.proxies as Line[] | undefined)?.[0]?.listen);
      const wrong = `${TOKEN}-but-wrong-0123456789`;
      const client = new pg.Client({
        host: '127.0.0.1',
        port: Number(listen.split(':')[1]),
        user: 'anyone',
        password: wrong,
        database: 'dev',
      });
      await assert.rejects(client.connect(), (error: { code?: string }) => error.code === '28P01');
      await client.end().catch(() => undefined);
      // The observer is told once the refusal has been written and the socket ended.
      for (let i = 0; i < 50; i++) {
        if (parse(daemon.logs).some((line) => line.msg === 'proxy connection refused')) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const refused = parse(daemon.logs).filter((line) => line.msg === 'proxy connection refused');
      assert.equal(refused.length, 1);
      assert.deepEqual(
        { level: refused[0]?.level, target: refused[0]?.target, outcome: refused[0]?.outcome },
        { level: 'warn', target: 'warehouse', outcome: 'bad_token' },
      );
      assert.match(String(refused[0]?.reason), /token/);
      const text = daemon.logs.join('');
      assert.ok(!text.includes(wrong) && !text.includes(TOKEN), 'no token, right or wrong, logged');
    });
  });

  describe('the token as a password', () => {
    const daemon = useDaemon({
      targets: TARGETS,
      proxies: [
        { target: 'warehouse', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', tls: 'disable' },
      ],
    });

    it('is the token exactly: not with "Bearer " before it, nor with spaces around it', async () => {
      const started = parse(daemon.logs).find((line) => line.msg === 'credcache listening');
      const port = Number(
        String((started?.proxies as Line[] | undefined)?.[0]?.listen).split(':')[1],
      );
      const login = async (password: string) => {
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', password });
        try {
          await client.connect();
          return 'connected';
        } catch (error) {
          return (error as { code?: string }).code;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      assert.equal(await login(`Bearer ${TOKEN}`), '28P01');
      assert.equal(await login(`bearer   ${TOKEN}  `), '28P01');
      assert.equal(await login(` ${TOKEN}`), '28P01');
      // The token itself gets past the check: upstream (a closed port) is then unreachable.
      assert.equal(await login(TOKEN), '08006');
    });
  });

  it('logs a burst of refusals per window, then one count line by outcome (virtual time)', () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 6));
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    });
    const observer = proxyOutcomeObserver(createLogger('info', sink), clock);
    for (let i = 0; i < 1000; i++) {
      observer.observe('warehouse', i % 4 === 0 ? 'no_token' : 'bad_token', 'wrong');
      observer.observe('warehouse', 'success'); // debug: not logged at info, not counted
    }
    assert.equal(parse(chunks).length, 20, 'only the burst is logged at once');
    clock.advance(10_000);
    const lines = parse(chunks);
    assert.equal(lines.length, 21);
    assert.deepEqual(
      { suppressed: lines[20]?.suppressed, byOutcome: lines[20]?.byOutcome },
      { suppressed: 980, byOutcome: { bad_token: 735, no_token: 245 } },
    );
    observer.observe('warehouse', 'bad_token', 'wrong');
    assert.equal(parse(chunks).length, 22, 'a new window logs again');
    observer.stop();
  });
});
