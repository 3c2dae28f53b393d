/**
 * A cached credential, and how the cache keeps it small: memory per entry is what bounds a large
 * cache. An entry is one object holding the key, when it was stored, its generation, the expiry
 * times as numbers, and the credential as one JSON text (`credentialJson`, in the shape of its AWS
 * answer); the fields are parsed from that text when someone reads `issued.credentials` (the
 * cache and the refresher read only the times). The HTTP layer answers the `lakeformation` and
 * `redshift` formats with the text as it is (`entryJson`), so a credential's bytes are held once,
 * not in its fields and again in a rendered body.
 *
 * A credential not exactly of the shape its source issues (a test's fake) is kept as the object
 * it is.
 */
import { credentialFromJson, credentialJson } from '../providers/credential-json.js';
import type { IssuedCredentials, Source } from '../providers/types.js';
import { type CredentialKey, keyFromId, sourceOfId } from './key.js';

/** A cached credential: immutable; a refresh stores a new one. */
export interface CacheEntry {
  readonly key: CredentialKey;
  readonly issued: IssuedCredentials<unknown>;
  /** Clock time the credential arrived. */
  readonly storedAt: number;
  /** 0 for a credential loaded cold, else one more than the entry it replaced. */
  readonly generation: number;
}

/**
 * The fields last parsed from an entry's text, while anyone still holds them: readers get the
 * same object (so it can be told from another entry's), and nothing is kept once they let go.
 * Beside the entries rather than a field of each: most entries are never parsed.
 */
const lastParsed = new WeakMap<StoredEntry, WeakRef<object>>();

/**
 * The cache's entries. It is its own `issued` (no second object per entry): `expiration` and
 * `nextRefreshTime` are fields, `credentials` is parsed from the text on demand. The secret is in
 * a private field, so neither `JSON.stringify` nor `util.inspect` of an entry shows it.
 *
 * The entry is also the cache's record of its key (no slot object beside it): the last use, the
 * failed-refresh flag and its place in the LRU order are fields here that only the cache writes
 * (everyone else sees a `CacheEntry`, read-only). What a client is handed never changes: the key,
 * the times and the credential are fixed at construction, and a refresh stores a new entry,
 * which takes the old one's place (`CredentialCache`, `Recency`).
 */
export class StoredEntry implements CacheEntry, IssuedCredentials<unknown> {
  /** The key's id: `key` is made again from it when asked for, so no key object is kept. */
  readonly keyId: string;
  readonly storedAt: number;
  readonly generation: number;
  readonly expiration: number;
  readonly nextRefreshTime: number | undefined;
  /** The credential's JSON text, or the credential itself when it has no text form. */
  readonly #credential: string | object;
  /** The cache's: clock time a client last asked for the key; -Infinity: never. */
  lastUsedAt = Number.NEGATIVE_INFINITY;
  /** The cache's: the last refresh of this entry failed (it is served as `stale`). */
  refreshFailed = false;
  /** The cache's: the next entry towards the least and the most recently used. */
  older: StoredEntry | undefined = undefined;
  newer: StoredEntry | undefined = undefined;

  constructor(
    key: CredentialKey,
    issued: IssuedCredentials<unknown>,
    storedAt: number,
    generation: number,
  ) {
    this.keyId = key.id;
    this.storedAt = storedAt;
    this.generation = generation;
    this.expiration = issued.expiration;
    this.nextRefreshTime = issued.nextRefreshTime;
    this.#credential = credentialJson(key.source, issued) ?? (issued.credentials as object);
  }

  get key(): CredentialKey {
    return keyFromId(this.keyId);
  }

  get source(): Source {
    return sourceOfId(this.keyId);
  }

  get issued(): IssuedCredentials<unknown> {
    return this;
  }

  get credentials(): unknown {
    const credential = this.#credential;
    if (typeof credential !== 'string') return credential;
    let parsed = lastParsed.get(this)?.deref();
    if (parsed === undefined) {
      parsed = credentialFromJson(this.source, credential);
      lastParsed.set(this, new WeakRef(parsed));
    }
    return parsed;
  }

  /** The credential's JSON text (see `credentialJson`), if it has one. */
  get json(): string | undefined {
    const credential = this.#credential;
    return typeof credential === 'string' ? credential : undefined;
  }
}

/**
 * The JSON text an entry keeps its credential as (the `lakeformation` body of an S3 credential,
 * the `redshift` body of a database user), or undefined for an entry that keeps an object.
 */
export function entryJson(entry: CacheEntry): string | undefined {
  return entry instanceof StoredEntry ? entry.json : undefined;
}
