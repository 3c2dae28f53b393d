/** The route matcher: what it finds for a path, and that a polled path's match is made once. */
import assert from 'node:assert/strict';
import { type Route, routeMatcher } from '../../src/daemon/http/routes.js';

const handler = () => ({ status: 200, headers: [], body: '' });
const ROUTES: Route[] = [
  { pattern: '/healthz', auth: false, methods: { GET: handler } },
  { pattern: '/v1/targets/:name', auth: true, methods: { GET: handler } },
  { pattern: '/v1/targets/:name/refresh', auth: true, methods: { POST: handler } },
];

describe('route matcher', () => {
  it('finds exact and parameterised routes, decoding the parameter', () => {
    const match = routeMatcher(ROUTES);
    assert.equal(match('/healthz')?.route.pattern, '/healthz');
    assert.deepEqual(match('/v1/targets/orders')?.params, { name: 'orders' });
    assert.deepEqual(match('/v1/targets/a%2Db')?.params, { name: 'a-b' });
    assert.equal(match('/v1/targets/bad%ZZ')?.malformed, true);
    const refresh = match('/v1/targets/a%2Db/refresh');
    assert.equal(refresh?.route.pattern, '/v1/targets/:name/refresh');
    assert.deepEqual(refresh.params, { name: 'a-b' });
    assert.equal(match('/v1/targets/bad%ZZ/refresh')?.malformed, true);
    for (const path of [
      '/v1/targets/',
      '/v1/targets/a/b',
      '/v1/targets//refresh',
      '/v1/targets/a/refresh/',
      '/v1/targets/a/refresh/x',
      '/nope',
      '/healthz/',
    ]) {
      assert.equal(match(path), undefined, path);
    }
  });

  it('makes a polled path’s match once, and keeps a bounded number of them', () => {
    const match = routeMatcher(ROUTES);
    assert.equal(match('/healthz'), match('/healthz'));
    assert.equal(match('/v1/targets/orders'), match('/v1/targets/orders'));
    // A flood of distinct names: each still matched right; the 1,000th is no longer kept.
    for (let i = 0; i < 1_000; i += 1) {
      assert.deepEqual(match(`/v1/targets/t${i}`)?.params, { name: `t${i}` });
    }
    assert.notEqual(match('/v1/targets/t999'), match('/v1/targets/t999'));
    assert.equal(match('/v1/targets/orders'), match('/v1/targets/orders'));
  });
});
