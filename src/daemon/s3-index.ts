/**
 * Which cached table credential covers an S3 location (`GET /v1/s3/credentials?path=…`): an index
 * of the `VendedS3Path` entries of the table keys in the cache (configured table targets
 * included, once loaded), kept up to date from the cache's store and eviction events. It holds one
 * record per cached table key, so the cache's own bound bounds it; a lookup walks one node per
 * path segment, whatever the number of entries, and allocates nothing.
 *
 * Prefixes match whole path segments: `s3://b/tab/` (or `s3://b/tab`) covers `s3://b/tab`,
 * `s3://b/tab/` and everything under it, never `s3://b/table2/x`. The longest covering prefix
 * wins; several keys behind one prefix (one table with other permissions or durations) answer
 * with a configured target's key first, else the one stored first.
 */
import type { CacheEntry, CacheListener } from '../cache/credential-cache.js';
import type { CredentialKey, TableKey } from '../cache/key.js';
import type { S3Credentials } from '../providers/types.js';
import { type S3Location, s3Location } from './http/requests.js';

/** A key whose credential covers a prefix, and that prefix as the credential names it. */
export interface Covering {
  readonly key: TableKey;
  /** The `VendedS3Path` entry, as AWS gave it. */
  readonly prefix: string;
  /** The key's table (the allow-list reads it). */
  readonly tableArn: string;
}

/** One path segment's node: the keys whose prefix ends here, and the segments below it. */
interface PrefixNode {
  readonly children: Map<string, PrefixNode>;
  /** By key id: what each key covers from here. */
  readonly covering: Map<string, Covering>;
  /** The answer for this prefix: a target's key first, else the one stored first. */
  best: Covering | undefined;
}

const node = (): PrefixNode => ({ children: new Map(), covering: new Map(), best: undefined });

/** What the index holds of one cached key: its prefixes, as given and as split. */
interface KeyRecord {
  readonly prefixes: readonly string[];
  readonly locations: readonly S3Location[];
}

export interface S3IndexOptions {
  /** Whether `key` is a configured target's (preferred when several keys share a prefix). */
  readonly isTarget: (key: CredentialKey) => boolean;
}

export class S3Index {
  readonly #isTarget: (key: CredentialKey) => boolean;
  /** By bucket: the root node (a prefix covering the whole bucket ends here). */
  readonly #buckets = new Map<string, PrefixNode>();
  readonly #records = new Map<string, KeyRecord>();

  constructor(options: S3IndexOptions) {
    this.#isTarget = options.isTarget;
  }

  /** The cache listener that keeps the index: subscribe it (`cache.subscribe(index.listener)`). */
  readonly listener: CacheListener = {
    stored: (entry) => this.#stored(entry),
    evicted: (entry) => this.#evicted(entry),
  };

  /** Table keys indexed now. */
  get size(): number {
    return this.#records.size;
  }

  /** The key whose longest prefix covers `location`, or undefined when none does. */
  find(location: S3Location): Covering | undefined {
    let at = this.#buckets.get(location.bucket);
    let found = at?.best;
    const { segments } = location;
    for (let index = 0; at !== undefined && index < segments.length; index += 1) {
      at = at.children.get(segments[index] as string);
      if (at?.best !== undefined) found = at.best;
    }
    return found;
  }

  #stored(entry: CacheEntry): void {
    const { key } = entry;
    if (key.source !== 'lakeformation_table') return;
    const prefixes = (entry.issued.credentials as Partial<S3Credentials>).vendedS3Path ?? [];
    const known = this.#records.get(key.id);
    // A refresh of a table gives the same locations: nothing to do.
    if (known && sameList(known.prefixes, prefixes)) return;
    if (known) this.#remove(key.id, known);
    const { tableArn } = key.request;
    const locations: S3Location[] = [];
    for (const prefix of prefixes) {
      const location = s3Location(prefix);
      if (location === undefined) continue;
      locations.push(location);
      const at = this.#nodeOf(location);
      at.covering.set(key.id, { key, prefix, tableArn });
      at.best = this.#best(at);
    }
    if (locations.length > 0) this.#records.set(key.id, { prefixes: [...prefixes], locations });
  }

  #evicted(entry: CacheEntry): void {
    const id = entry.key.id;
    const known = this.#records.get(id);
    if (known) this.#remove(id, known);
  }

  #remove(id: string, record: KeyRecord): void {
    this.#records.delete(id);
    for (const location of record.locations) {
      let at = this.#buckets.get(location.bucket);
      const path: PrefixNode[] = [];
      for (const segment of location.segments) {
        if (at === undefined) break;
        path.push(at);
        at = at.children.get(segment);
      }
      if (at === undefined) continue;
      at.covering.delete(id);
      at.best = this.#best(at);
      // Prune the nodes left empty, deepest first.
      for (let depth = location.segments.length; depth > 0; depth -= 1) {
        const parent = path[depth - 1] as PrefixNode;
        const segment = location.segments[depth - 1] as string;
        const below = parent.children.get(segment);
        if (below === undefined || below.covering.size > 0 || below.children.size > 0) break;
        parent.children.delete(segment);
      }
      const root = this.#buckets.get(location.bucket);
      if (root && root.covering.size === 0 && root.children.size === 0) {
        this.#buckets.delete(location.bucket);
      }
    }
  }

  #nodeOf(location: S3Location): PrefixNode {
    let at: PrefixNode | undefined = this.#buckets.get(location.bucket);
    if (at === undefined) {
      at = node();
      this.#buckets.set(location.bucket, at);
    }
    for (const segment of location.segments) {
      let next: PrefixNode | undefined = at.children.get(segment);
      if (next === undefined) {
        next = node();
        at.children.set(segment, next);
      }
      at = next;
    }
    return at;
  }

  #best(at: PrefixNode): Covering | undefined {
    let first: Covering | undefined;
    for (const covering of at.covering.values()) {
      if (this.#isTarget(covering.key)) return covering;
      first ??= covering;
    }
    return first;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
