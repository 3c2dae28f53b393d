/**
 * The access log of refused requests: a line for each (route, status, code, reason; never the
 * token), and a flood of them bounded to a burst per window plus one count line (virtual time).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import request from 'supertest';
import { ManualClock } from '../../src/clock.js';
import { RefusalLog } from '../../src/daemon/http/refusals.js';
import { createLogger } from '../../src/daemon/logger.js';
import { TOKEN, useDaemon } from '../support/daemon.js';

type Line = Record<string, unknown>;

describe('access log of refused requests', () => {
  describe('in the daemon', () => {
    const daemon = useDaemon();
    const refusals = () =>
      daemon.logs
        .flatMap((chunk) => chunk.split('\n').filter(Boolean))
        .map((text) => JSON.parse(text) as Line)
        .filter((line) => line.msg === 'request refused');

    it('logs each refusal with its route, status, code and reason, and never the token', async () => {
      const api = request(daemon.url);
      const wrong = `${TOKEN}-but-wrong-0123456789`;
      await api.get('/v1/targets/orders').set('Authorization', wrong).expect(401);
      await api.get('/v1/targets/orders').expect(401);
      await api
        .get('/v1/targets/orders')
        .set('Authorization', TOKEN)
        .set('Host', 'evil.example')
        .expect(403);
      await api.get('/v1/nothing').set('Authorization', TOKEN).expect(404);
      await api
        .get('/v1/lakeformation/table-credentials?tableArn=nope')
        .set('Authorization', TOKEN)
        .expect(400);
      await api.delete('/v1/targets/orders').set('Authorization', TOKEN).expect(405);
      await api.get('/v1/targets/orders').set('Authorization', TOKEN).expect(200);
      const lines = refusals();
      assert.deepEqual(
        lines.map((line) => [line.level, line.method, line.route, line.status, line.code]),
        [
          ['warn', 'GET', '/v1/targets/:name', 401, 'Unauthorized'],
          ['warn', 'GET', '/v1/targets/:name', 401, 'Unauthorized'],
          ['warn', 'GET', '/v1/targets/:name', 403, 'Forbidden'],
          ['info', 'GET', 'unmatched', 404, 'NotFound'],
          ['info', 'GET', '/v1/lakeformation/table-credentials', 400, 'InvalidRequest'],
          ['info', 'DELETE', '/v1/targets/:name', 405, 'MethodNotAllowed'],
        ],
      );
      assert.equal(lines[0]?.reason, 'Authorization: wrong token');
      assert.match(String(lines[4]?.reason), /tableArn/);
      const text = daemon.logs.join('');
      assert.ok(!text.includes(wrong) && !text.includes(TOKEN), 'no token, right or wrong, logged');
    });
  });

  it('logs a burst per window, then one count line when the window ends', () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 5));
    const lines: Line[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Line);
        done();
      },
    });
    const log = new RefusalLog({
      clock,
      logger: createLogger('info', sink),
      burst: 3,
      windowMs: 10_000,
    });
    const refusal = {
      method: 'GET',
      route: '/v1/targets/:name',
      code: 'Unauthorized',
      reason: 'x',
    };
    for (let i = 0; i < 1000; i++) log.note({ ...refusal, status: i % 2 === 0 ? 401 : 404 });
    assert.equal(lines.length, 3, 'only the burst is logged at once');
    clock.advance(10_000);
    assert.equal(lines.length, 4);
    assert.deepEqual(
      { suppressed: lines[3]?.suppressed, byStatus: lines[3]?.byStatus },
      { suppressed: 997, byStatus: { '401': 498, '404': 499 } },
    );
    log.note({ ...refusal, status: 401 });
    assert.equal(lines.length, 5, 'a new window logs again');
    assert.equal(lines[4]?.msg, 'request refused');
    clock.advance(60_000);
    assert.equal(lines.length, 5, 'no count line for a window with nothing left out');
  });
});
