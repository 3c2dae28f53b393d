/**
 * Answers with a cached credential, kept by the HTTP layer (a `Renderings`, keyed weakly by entry:
 * the cache owns entries, and an entry that leaves it takes what was rendered of it along). Every
 * timestamp is ISO-8601 UTC ending in `Z`, which container-credential clients require.
 *
 * Memory per entry is what bounds a large cache, so an entry keeps only what hits need. The
 * `lakeformation` and `redshift` bodies are the JSON text the cache keeps the credential as
 * (`entryJson`; one definition, `providers/credential-json.ts`), used as it is: the string is
 * shared, not copied, so a polled entry holds its secret's bytes once. The `container` body is
 * rendered from the fields (parsed from that text) on the first hit and kept. What the HTTP layer
 * keeps per entry is one answer per format and hit result, in a `WeakMap` per format and result
 * (no object per entry beyond the answer itself); the answers' header lists are shared by every
 * answer with the same result and length. A miss keeps nothing: an entry asked for once costs no
 * rendering memory.
 *
 * Bodies are strings: a `Buffer` costs about 300 bytes more per entry in V8 and native
 * bookkeeping, and a slice of Node's shared 8 KiB pool keeps the whole slab, garbage included,
 * alive with it; writing a string is as fast.
 */
import { type CacheEntry, type CacheResult, entryJson } from '../../cache/credential-cache.js';
import {
  databaseCredentialsJson,
  iso,
  s3CredentialsJson,
} from '../../providers/credential-json.js';
import type { DatabaseCredentials, S3Credentials } from '../../providers/types.js';
import { type Reply, reply } from './reply.js';

export { iso };

/**
 * - `lakeformation`: the Lake Formation API shape (`SessionToken`, `VendedS3Path`);
 * - `container`: the AWS container-credentials shape (`Token`), for `AWS_CONTAINER_CREDENTIALS_FULL_URI`;
 * - `redshift`: the Redshift Serverless shape.
 */
export type Format = 'lakeformation' | 'container' | 'redshift';

const FORMATS: readonly Format[] = ['lakeformation', 'container', 'redshift'];

function render(entry: CacheEntry, format: Format): string {
  const { issued } = entry;
  switch (format) {
    case 'lakeformation':
      return s3CredentialsJson(issued.credentials as S3Credentials, issued.expiration);
    case 'container': {
      const c = issued.credentials as S3Credentials;
      return JSON.stringify({
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.sessionToken,
        Expiration: iso(issued.expiration),
      });
    }
    case 'redshift':
      return databaseCredentialsJson(
        issued.credentials as DatabaseCredentials,
        issued.expiration,
        issued.nextRefreshTime,
      );
  }
}

/** Whether the text the entry keeps is the body of `format` (see `credential-json.ts`). */
function keptAsBody(entry: CacheEntry, format: Format): string | undefined {
  if (format === 'container') return undefined;
  const redshift = entry.key.source === 'redshift_serverless';
  return redshift === (format === 'redshift') ? entryJson(entry) : undefined;
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

type Kept = Readonly<Record<Format, WeakMap<CacheEntry, Reply>>>;

const kept = (): Kept =>
  Object.fromEntries(FORMATS.map((format) => [format, new WeakMap<CacheEntry, Reply>()])) as Kept;

/**
 * What the HTTP layer has rendered of each cached entry: its answers to hits and stale hits, per
 * format. Weakly keyed: nothing here keeps an entry alive, and the cache knows nothing of it.
 */
export class Renderings {
  readonly #hit = kept();
  readonly #stale = kept();

  /**
   * The whole answer for `entry` in `format` with cache result `result`. A hit's (or stale
   * hit's) is made on first use and kept, so a hit allocates nothing for it; a miss's or
   * coalesced wait's (once per credential) is made each time and not kept.
   */
  reply(entry: CacheEntry, format: Format, result: Served): Reply {
    if (result !== 'hit' && result !== 'stale') return answer(result, this.#body(entry, format));
    const answers = (result === 'hit' ? this.#hit : this.#stale)[format];
    let answered = answers.get(entry);
    if (answered === undefined) {
      answered = answer(result, this.#body(entry, format));
      answers.set(entry, answered);
    }
    return answered;
  }

  /** The entry's own text when it is the body; else a body a hit kept; else rendered now. */
  #body(entry: CacheEntry, format: Format): string {
    const body =
      keptAsBody(entry, format) ??
      (this.#hit[format].get(entry) ?? this.#stale[format].get(entry))?.body ??
      render(entry, format);
    return body as string;
  }
}
