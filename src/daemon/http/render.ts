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
  containerCredentialsJson,
  databaseCredentialsJson,
  iso,
  locationCredentialsJson,
  s3CredentialsJson,
} from '../../providers/credential-json.js';
import type {
  DatabaseCredentials,
  LocationCredentials,
  S3Credentials,
} from '../../providers/types.js';
import { type Reply, reply } from './reply.js';

export { iso };

/**
 * - `lakeformation`: the Lake Formation API shape (`SessionToken`, `VendedS3Path`; for a data
 *   location `AccessibleDataLocations` and `CredentialsScope`);
 * - `container`: the AWS container-credentials shape (`Token`), for `AWS_CONTAINER_CREDENTIALS_FULL_URI`;
 * - `redshift`: the Redshift Serverless shape;
 * - `iceberg`: the Iceberg REST `LoadCredentialsResponse`, one storage credential per
 *   `VendedS3Path` entry;
 * - `s3`: the Lake Formation shape with the table's `tableArn` and the `prefix` (one
 *   `VendedS3Path` entry) that covers the S3 path asked about; one answer per entry and prefix.
 */
export type Format = 'lakeformation' | 'container' | 'redshift' | 'iceberg' | 's3';

/** The formats a Lake Formation GET route answers in (`format=…`), its default first. */
export const LAKE_FORMATION_FORMATS = ['lakeformation', 'container'] as const;

const FORMATS: readonly Format[] = ['lakeformation', 'container', 'redshift', 'iceberg', 's3'];

/** What a rendering needs besides the entry: the region (`iceberg`), the prefix (`s3`). */
interface RenderContext {
  readonly region: string;
  readonly prefix: string;
}

/** The Iceberg REST `LoadCredentialsResponse`: every `config` value a string. */
function icebergCredentials(c: S3Credentials, expiration: number, region: string): string {
  return JSON.stringify({
    'storage-credentials': (c.vendedS3Path ?? []).map((prefix) => ({
      prefix,
      config: {
        's3.access-key-id': c.accessKeyId,
        's3.secret-access-key': c.secretAccessKey,
        's3.session-token': c.sessionToken,
        's3.session-token-expires-at-ms': String(expiration),
        'client.region': region,
      },
    })),
  });
}

function render(entry: CacheEntry, format: Format, context: RenderContext): string {
  const { issued } = entry;
  switch (format) {
    case 'iceberg':
      return icebergCredentials(
        issued.credentials as S3Credentials,
        issued.expiration,
        context.region,
      );
    case 's3': {
      const c = issued.credentials as S3Credentials;
      return JSON.stringify({
        ...(JSON.parse(s3CredentialsJson(c, issued.expiration)) as object),
        tableArn: (entry.key.request as { tableArn: string }).tableArn,
        prefix: context.prefix,
      });
    }
    case 'lakeformation':
      return entry.key.source === 'lakeformation_location'
        ? locationCredentialsJson(issued.credentials as LocationCredentials, issued.expiration)
        : s3CredentialsJson(issued.credentials as S3Credentials, issued.expiration);
    case 'container':
      return containerCredentialsJson(issued.credentials as S3Credentials, issued.expiration);
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
  if (format !== 'lakeformation' && format !== 'redshift') return undefined;
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

/** `s3` answers, by entry then prefix (an entry has one per `VendedS3Path` entry asked about). */
type KeptByPrefix = WeakMap<CacheEntry, Map<string, Reply>>;

/**
 * What the HTTP layer has rendered of each cached entry: its answers to hits and stale hits, per
 * format. Weakly keyed: nothing here keeps an entry alive, and the cache knows nothing of it.
 */
export class Renderings {
  readonly #hit = kept();
  readonly #stale = kept();
  readonly #hitByPrefix: KeptByPrefix = new WeakMap();
  readonly #staleByPrefix: KeptByPrefix = new WeakMap();
  /** The region Iceberg's `client.region` names: the daemon's upstream region. */
  readonly #region: string;

  constructor(options: { readonly region?: string } = {}) {
    this.#region = options.region ?? '';
  }

  /**
   * The whole answer for `entry` in `format` with cache result `result` (`prefix`: the
   * `VendedS3Path` entry an `s3` answer names). A hit's (or stale hit's) is made on first use and
   * kept, so a hit allocates nothing for it; a miss's or coalesced wait's (once per credential)
   * is made each time and not kept.
   */
  reply(entry: CacheEntry, format: Format, result: Served, prefix = ''): Reply {
    if (result !== 'hit' && result !== 'stale') {
      return answer(result, this.#body(entry, format, prefix));
    }
    if (format === 's3') return this.#byPrefix(entry, result, prefix);
    const answers = (result === 'hit' ? this.#hit : this.#stale)[format];
    let answered = answers.get(entry);
    if (answered === undefined) {
      answered = answer(result, this.#body(entry, format, prefix));
      answers.set(entry, answered);
    }
    return answered;
  }

  #byPrefix(entry: CacheEntry, result: 'hit' | 'stale', prefix: string): Reply {
    const kept = result === 'hit' ? this.#hitByPrefix : this.#staleByPrefix;
    let answers = kept.get(entry);
    if (answers === undefined) {
      answers = new Map();
      kept.set(entry, answers);
    }
    let answered = answers.get(prefix);
    if (answered === undefined) {
      answered = answer(result, this.#body(entry, 's3', prefix));
      answers.set(prefix, answered);
    }
    return answered;
  }

  /** The entry's own text when it is the body; else a body a hit kept; else rendered now. */
  #body(entry: CacheEntry, format: Format, prefix: string): string {
    const body =
      keptAsBody(entry, format) ??
      (format === 's3'
        ? (this.#hitByPrefix.get(entry) ?? this.#staleByPrefix.get(entry))?.get(prefix)
        : (this.#hit[format].get(entry) ?? this.#stale[format].get(entry))
      )?.body ??
      render(entry, format, { region: this.#region, prefix });
    return body as string;
  }
}
