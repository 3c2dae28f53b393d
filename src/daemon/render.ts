/**
 * Response bodies of a cached credential, serialised once per entry (the entry's `rendered`
 * map) rather than per request. Every timestamp is ISO-8601 UTC ending in `Z`, which
 * container-credential clients require.
 */
import type { CacheEntry, CacheResult } from '../cache/credential-cache.js';
import type { DatabaseCredentials, S3Credentials } from '../providers/types.js';

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

export interface RenderedReply {
  readonly status: 200;
  readonly headers: readonly string[];
  readonly body: Buffer;
}

/**
 * The whole answer for `entry` in `format` with cache result `result`, made on first use and
 * kept with the entry: the hit path allocates nothing for it.
 */
export function renderedReply(
  entry: CacheEntry,
  format: Format,
  result: Exclude<CacheResult, 'negative'>,
): RenderedReply {
  const name = `${format}:${result}`;
  const cached = entry.rendered[name] as RenderedReply | undefined;
  if (cached) return cached;
  const body = (entry.rendered[format] as Buffer | undefined) ?? render(entry, format);
  entry.rendered[format] = body;
  const made: RenderedReply = {
    status: 200,
    headers: [
      'content-type',
      'application/json',
      'cache-control',
      'no-store',
      'x-credcache-result',
      result,
      'content-length',
      String(body.length),
    ],
    body,
  };
  entry.rendered[name] = made;
  return made;
}
