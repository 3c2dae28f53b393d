/**
 * Response bodies of a cached credential, serialised once per entry (the entry's `rendered`
 * map) rather than per request. Every timestamp is ISO-8601 UTC ending in `Z`, which
 * container-credential clients require.
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

function render(entry: CacheEntry, format: Format): Buffer {
  const { issued } = entry;
  switch (format) {
    case 'lakeformation': {
      const c = issued.credentials as S3Credentials;
      return Buffer.from(
        JSON.stringify({
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          SessionToken: c.sessionToken,
          Expiration: iso(issued.expiration),
          ...(c.vendedS3Path !== undefined && { VendedS3Path: c.vendedS3Path }),
        }),
      );
    }
    case 'container': {
      const c = issued.credentials as S3Credentials;
      return Buffer.from(
        JSON.stringify({
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          Token: c.sessionToken,
          Expiration: iso(issued.expiration),
        }),
      );
    }
    case 'redshift': {
      const c = issued.credentials as DatabaseCredentials;
      return Buffer.from(
        JSON.stringify({
          dbUser: c.dbUser,
          dbPassword: c.dbPassword,
          expiration: iso(issued.expiration),
          ...(issued.nextRefreshTime !== undefined && {
            nextRefreshTime: iso(issued.nextRefreshTime),
          }),
        }),
      );
    }
  }
}

/** What an entry keeps per format: the body, and the whole answer per cache result. */
interface Rendered {
  readonly body: Buffer;
  readonly replies: Partial<Record<Exclude<CacheResult, 'negative'>, Reply>>;
}

/**
 * The whole answer for `entry` in `format` with cache result `result`, made on first use and
 * kept with the entry: a hit allocates nothing for it.
 */
export function renderedReply(
  entry: CacheEntry,
  format: Format,
  result: Exclude<CacheResult, 'negative'>,
): Reply {
  let rendered = entry.rendered[format] as Rendered | undefined;
  if (!rendered) {
    rendered = { body: render(entry, format), replies: {} };
    entry.rendered[format] = rendered;
  }
  return (rendered.replies[result] ??= reply(
    200,
    {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-credcache-result': result,
    },
    rendered.body,
  ));
}
