import assert from 'node:assert/strict';
import type { CacheEntry } from '../../src/cache/credential-cache.js';
import { tableKey } from '../../src/cache/key.js';
import { Renderings } from '../../src/daemon/http/render.js';

const key = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

function entry(secret: string): CacheEntry {
  const credentials: Credentials = {
    accessKeyId: 'ASIAEXAMPLE',
    secretAccessKey: secret,
    sessionToken: 'token',
  };
  return {
    key,
    issued: { credentials, expiration: Date.UTC(2026, 10, 24, 12) },
    storedAt: 0,
    generation: 0,
  };
}

/**
 * What `cached` holds, to change: the cache never does, but a test that does shows whether a
 * rendering was kept or made afresh.
 */
const credentialsOf = (cached: CacheEntry) => cached.issued.credentials as Credentials;

const secretOf = (body: string | Buffer) =>
  (JSON.parse(String(body)) as { SecretAccessKey: string }).SecretAccessKey;

const header = (headers: readonly string[], name: string) => headers[headers.indexOf(name) + 1];

describe('rendered replies', () => {
  it('keeps nothing for a miss, and the body and answer of a hit from its first use', () => {
    const renderings = new Renderings();
    const cached = entry('secret-1');
    const miss = renderings.reply(cached, 'container', 'miss');
    assert.equal(header(miss.headers, 'x-credcache-result'), 'miss');
    assert.equal(secretOf(miss.body), 'secret-1');
    credentialsOf(cached).secretAccessKey = 'secret-2';
    const coalesced = renderings.reply(cached, 'container', 'coalesced');
    assert.equal(secretOf(coalesced.body), 'secret-2', 'the miss kept no body');
    assert.equal(header(coalesced.headers, 'x-credcache-result'), 'coalesced');
    credentialsOf(cached).secretAccessKey = 'secret-1';
    const hit = renderings.reply(cached, 'container', 'hit');
    assert.equal(renderings.reply(cached, 'container', 'hit'), hit, 'a hit allocates no answer');
    assert.equal(hit.body, miss.body);
    assert.deepEqual(JSON.parse(String(hit.body)), {
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: 'secret-1',
      Token: 'token',
      Expiration: '2026-11-24T12:00:00.000Z',
    });
    assert.equal(header(hit.headers, 'x-credcache-result'), 'hit');
    assert.equal(header(hit.headers, 'content-length'), String(Buffer.byteLength(hit.body)));
    const stale = renderings.reply(cached, 'container', 'stale');
    assert.equal(header(stale.headers, 'x-credcache-result'), 'stale');
    assert.equal(renderings.reply(cached, 'container', 'stale'), stale, 'nor does a stale hit');
    assert.notEqual(stale, hit);
    credentialsOf(cached).secretAccessKey = 'secret-3';
    assert.equal(
      secretOf(renderings.reply(cached, 'container', 'miss').body),
      'secret-1',
      'from the first hit on, the body is kept, and a miss of the same entry uses it',
    );
    // Kept beside the entry, not on it: the cache owns entries.
    assert.deepEqual(Object.keys(cached), ['key', 'issued', 'storedAt', 'generation']);
  });

  it('keeps renderings per entry and per format, and per Renderings', () => {
    const renderings = new Renderings();
    const cached = entry('secret-1');
    const hit = renderings.reply(cached, 'container', 'hit');
    const refreshed = entry('secret-2');
    assert.equal(
      secretOf(renderings.reply(refreshed, 'container', 'hit').body),
      'secret-2',
      'a new entry (a refresh) is rendered afresh',
    );
    const lakeformation = renderings.reply(cached, 'lakeformation', 'hit');
    assert.notEqual(lakeformation.body, hit.body);
    assert.equal(renderings.reply(cached, 'lakeformation', 'hit'), lakeformation);
    assert.equal(
      renderings.reply(cached, 'container', 'hit'),
      hit,
      'one format does not replace another',
    );
    assert.notEqual(new Renderings().reply(cached, 'container', 'hit'), hit);
  });

  it('shares one header list among answers with the same result and length', () => {
    const renderings = new Renderings();
    const a = renderings.reply(entry('secret-1'), 'lakeformation', 'hit');
    const b = renderings.reply(entry('secret-2'), 'lakeformation', 'hit');
    const longer = renderings.reply(entry('secret-22'), 'lakeformation', 'hit');
    assert.equal(a.headers, b.headers);
    assert.notEqual(a.headers, longer.headers);
    assert.ok(Object.isFrozen(a.headers));
    assert.equal(header(longer.headers, 'content-length'), String(Buffer.byteLength(longer.body)));
  });
});
