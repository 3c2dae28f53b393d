/**
 * Response bodies of a cached credential, serialised once per entry rather than per hit, and kept
 * by the HTTP layer (a `Renderings`, keyed weakly by entry: the cache owns entries, and an entry
 * that leaves it takes its renderings with it). Every timestamp is ISO-8601 UTC ending in `Z`, which
 * container-credential clients require.
 *
 * Memory per entry is what bounds a large cache, so an entry keeps only what hits need: the body,
 * as a string (a `Buffer` costs about 300 bytes more per entry in V8 and native bookkeeping, and
 * a slice of Node's shared 8 KiB pool keeps the whole slab, garbage included, alive with it;
 * writing a string is as fast), and one answer per hit result, whose header list is shared by
 * every answer with the same result and length. A miss renders without keeping anything: an
 * entry asked for once costs no rendering memory.
 */
import type { CacheEntry, CacheResult } from '../../cache/credential-cache.js';
import type { DatabaseCredentials, S3Credentials } from '../../providers/types.js';
import { type Reply, reply } from './reply.js';

/**
 * - `lakeformation`: the Lake Formation API shape (`SessionToken`, `VendedS3Path`);
 * - `container`: the AWS container-credentials shape (`Token`), for `AWS_CONTAINER_CREDENTIALS_FULL_URI`;
 * - `redshift`: the Redshift Serverless shape.
 */
export type Format = 'lakeformation' | 'container' | 'redshift';

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

function render(entry: CacheEntry, format: Format): string {
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

type Served = Exclude<CacheResult, 'negative'>;

/** Header lists by result and body length; bodies of one format differ in length by little. */
const sharedHeaders = new Map<string, readonly string[]>();
/** Past this many lists (never, in practice), new ones are not remembered. */
const MAX_SHARED_HEADERS = 4_096;

function answer(result: Served, body: string): Reply {
  const id = `${result} ${Buffer.byteLength(body)}`;
  let headers = sharedHeaders.get(id);
  if (!headers) {
    headers = Object.freeze(
      reply(
        200,
        {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'x-credcache-result': result,
        },
        body,
      ).headers,
    );
    if (sharedHeaders.size < MAX_SHARED_HEADERS) sharedHeaders.set(id, headers);
  }
  return { status: 200, headers, body };
}

/** What an entry keeps per format, once hit: the body, and the answer per hit result. */
interface Rendered {
  readonly body: string;
  hit: Reply | undefined;
  stale: Reply | undefined;
}

/**
 * What the HTTP layer has rendered of each cached entry. Weakly keyed: nothing here keeps an
 * entry alive, and the cache knows nothing of it.
 */
export class Renderings {
  readonly #byEntry = new WeakMap<CacheEntry, Partial<Record<Format, Rendered>>>();

  /**
   * The whole answer for `entry` in `format` with cache result `result`. A hit's (or stale
   * hit's) is made on first use and kept, so a hit allocates nothing for it; a miss's or
   * coalesced wait's (once per credential) is made each time and not kept.
   */
  reply(entry: CacheEntry, format: Format, result: Served): Reply {
    let formats = this.#byEntry.get(entry);
    let rendered = formats?.[format];
    if (result !== 'hit' && result !== 'stale') {
      return answer(result, rendered?.body ?? render(entry, format));
    }
    if (!rendered) {
      // Both slots declared up front: kept in the object itself, not in a property array added later.
      rendered = { body: render(entry, format), hit: undefined, stale: undefined };
      if (!formats) {
        formats = {};
        this.#byEntry.set(entry, formats);
      }
      formats[format] = rendered;
    }
    return (rendered[result] ??= answer(result, rendered.body));
  }
}
