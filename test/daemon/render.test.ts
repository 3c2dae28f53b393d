/**
 * What a cached entry keeps of its answers: nothing after its first answer (a miss), the body
 * from the second on, in a buffer of its own rather than a slice of Node's shared pool (a kept
 * slice would hold the whole 8 KiB pool in memory).
 */
import assert from 'node:assert/strict';
import { tableKey } from '../../src/cache/key.js';
import type { CacheEntry } from '../../src/cache/credential-cache.js';
import { renderedReply } from '../../src/daemon/render.js';

const EXPIRATION = Date.UTC(2026, 10, 24, 12, 0, 0);

function entry(): CacheEntry {
  return {
    key: tableKey({
      tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
      permissions: ['SELECT'],
      supportedPermissionTypes: ['COLUMN_PERMISSION'],
      durationSeconds: 3600,
    }),
    issued: {
      credentials: {
        accessKeyId: 'ASIAEXAMPLE000000001',
        secretAccessKey: 'secret/secret/secret/secret/secret/secre',
        sessionToken: 'token'.repeat(60),
      },
      expiration: EXPIRATION,
    },
    storedAt: EXPIRATION - 3_600_000,
    generation: 0,
    lastUsedAt: EXPIRATION - 3_600_000,
    refreshFailure: undefined,
    refreshFailures: 0,
    rendered: {},
  };
}

const body = (reply: { body: Buffer | string }): Record<string, unknown> =>
  JSON.parse(reply.body.toString()) as Record<string, unknown>;

describe('rendered replies', () => {
  it('keeps nothing after a miss, the body from the second answer, the whole reply for hits', () => {
    const e = entry();
    const miss = renderedReply(e, 'lakeformation', 'miss');
    assert.equal(body(miss).AccessKeyId, 'ASIAEXAMPLE000000001');
    assert.equal(body(miss).Expiration, '2026-11-24T12:00:00.000Z');
    assert.deepEqual(Object.keys(e.rendered), []);

    const hit = renderedReply(e, 'lakeformation', 'hit');
    assert.deepEqual(Object.keys(e.rendered), ['lakeformation']);
    assert.equal(renderedReply(e, 'lakeformation', 'hit'), hit, 'a hit reuses its reply');
    assert.deepEqual(body(hit), body(miss));
    const headers = hit.headers;
    assert.equal(headers[headers.indexOf('x-credcache-result') + 1], 'hit');
    assert.equal(
      headers[headers.indexOf('content-length') + 1],
      String(Buffer.byteLength(hit.body)),
    );

    const coalesced = renderedReply(e, 'lakeformation', 'coalesced');
    assert.equal(coalesced.body, hit.body, 'later answers share the kept body');
    const container = renderedReply(e, 'container', 'coalesced');
    assert.equal(body(container).Token, 'token'.repeat(60));
    assert.deepEqual(Object.keys(e.rendered).sort(), ['container', 'lakeformation']);
  });

  it('keeps a body in a buffer of its own, not a slice of the shared pool', () => {
    const e = entry();
    const { body: kept } = renderedReply(e, 'lakeformation', 'hit');
    assert.ok(Buffer.isBuffer(kept));
    assert.equal(kept.byteOffset, 0);
    assert.equal(kept.buffer.byteLength, kept.length);
  });
});
