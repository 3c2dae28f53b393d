/**
 * Response bodies of a cached credential, serialised once per entry and format (the entry's
 * `rendered` map) from the second time the entry is served, rather than per request: a key asked
 * for once (a cache filled with many partitions, each read once) keeps no copy. Every timestamp
 * is ISO-8601 UTC ending in `Z`, which container-credential clients require.
 */
import type { CacheEntry, CacheResult } from '../cache/credential-cache.js';
import type { DatabaseCredentials, S3Credentials } from '../providers/types.js';
import { type Reply, reply } from './reply.js';

/**
 * - `lakeformation`: the Lake Formation API shape (`SessionToken`, `VendedS3Path`);
 * - `container`: the AWS container-credentials shape (`Token`), for `AWS_CONTAINER_CREDENTIALS_FULL_URI`;
 * - `redshift`: the Redshift Serverless shape.
 */
export type Format = 'lakeformation' | 'container' | 'redshift';

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/**
 * The bytes of `text` in a buffer of their own. `Buffer.from` would slice small buffers out of a
 * shared 8 KiB pool, and a kept body would then hold its whole pool in memory (measured: 10,000
 * cached bodies held 1,700 pools, 1.6 KB per entry).
 */
function ownBuffer(text: string): Buffer {
  const buffer = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  buffer.write(text);
  return buffer;
}

function render(entry: CacheEntry, format: Format): Buffer {
  return ownBuffer(renderText(entry, format));
}

function renderText(entry: CacheEntry, format: Format): string {
  const { issued } = entry;
  switch (format) {
    case 'lakeformation': {
      const c = issued.credentials as S3Credentials;
      return JSON.stringify({
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        SessionToken: c.sessionToken,
        Expiration: iso(issued.expiration),
        ...(c.vendedS3Path !== undefined && { VendedS3Path: c.vendedS3Path }),
      });
    }
    case 'container': {
      const c = issued.credentials as S3Credentials;
      return JSON.stringify({
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: iso(issued.expiration),
      });
    }
    case 'redshift': {
      const c = issued.credentials as DatabaseCredentials;
      return JSON.stringify({
        dbUser: c.dbUser,
        dbPassword: c.dbPassword,
        expiration: iso(issued.expiration),
        ...(issued.nextRefreshTime !== undefined && {
          nextRefreshTime: iso(issued.nextRefreshTime),
        }),
      });
    }
  }
}

/** What an entry keeps per format: the body, and the answers of the results that repeat. */
interface Rendered {
  readonly body: Buffer;
  readonly replies: Partial<Record<'hit' | 'stale', Reply>>;
}

const answer = (result: Exclude<CacheResult, 'negative'>, body: Buffer): Reply =>
  reply(
    200,
    {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-credcache-result': result,
    },
    body,
  );

/**
 * The whole answer for `entry` in `format` with cache result `result`. The first answer of an
 * entry (its miss) is made and not kept; from the second (coalesced, hit, stale) the body is kept
 * with the entry, and the answer itself for hits and stale ones: a hit allocates nothing.
 */
export function renderedReply(
  entry: CacheEntry,
  format: Format,
  result: Exclude<CacheResult, 'negative'>,
): Reply {
  let rendered = entry.rendered[format] as Rendered | undefined;
  if (!rendered) {
    if (result === 'miss') return answer(result, render(entry, format));
    rendered = { body: render(entry, format), replies: {} };
    entry.rendered[format] = rendered;
  }
  if (result === 'hit' || result === 'stale') {
    return (rendered.replies[result] ??= answer(result, rendered.body));
  }
  return answer(result, rendered.body);
}
