import assert from 'node:assert/strict';
import type { CacheEntry } from '../../src/cache/credential-cache.js';
import { tableKey } from '../../src/cache/key.js';
import { renderedReply } from '../../src/daemon/render.js';

const key = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});

function entry(secret: string): CacheEntry {
  return {
    key,
    issued: {
      credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: secret, sessionToken: 'token' },
      expiration: Date.UTC(2026, 10, 24, 12),
    },
    storedAt: 0,
    generation: 0,
    lastUsedAt: 0,
    refreshFailure: undefined,
    refreshFailures: 0,
    rendered: {},
  };
}

const header = (headers: readonly string[], name: string) => headers[headers.indexOf(name) + 1];

describe('rendered replies', () => {
  it('keeps nothing for a miss, and the body and answer of a hit from its first use', () => {
    const cached = entry('secret-1');
    const miss = renderedReply(cached, 'container', 'miss');
    assert.deepEqual(cached.rendered, {});
    assert.equal(header(miss.headers, 'x-credcache-result'), 'miss');
    const hit = renderedReply(cached, 'container', 'hit');
    assert.equal(renderedReply(cached, 'container', 'hit'), hit, 'a hit allocates no answer');
    assert.equal(hit.body, miss.body);
    assert.deepEqual(JSON.parse(String(hit.body)), {
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: 'secret-1',
      Token: 'token',
      Expiration: '2026-11-24T12:00:00.000Z',
    });
    assert.equal(header(hit.headers, 'x-credcache-result'), 'hit');
    assert.equal(header(hit.headers, 'content-length'), String(Buffer.byteLength(hit.body)));
    assert.equal(
      header(renderedReply(cached, 'container', 'stale').headers, 'x-credcache-result'),
      'stale',
    );
    assert.deepEqual(Object.keys(cached.rendered), ['container']);
  });

  it('shares one header list among answers with the same result and length', () => {
    const a = renderedReply(entry('secret-1'), 'lakeformation', 'hit');
    const b = renderedReply(entry('secret-2'), 'lakeformation', 'hit');
    const longer = renderedReply(entry('secret-22'), 'lakeformation', 'hit');
    assert.equal(a.headers, b.headers);
    assert.notEqual(a.headers, longer.headers);
    assert.ok(Object.isFrozen(a.headers));
    assert.equal(header(longer.headers, 'content-length'), String(Buffer.byteLength(longer.body)));
  });
});
