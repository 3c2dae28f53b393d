/**
 * The emulator's S3 objects: kept in memory, bounded in count, in total bytes and per object, so
 * a flood of PUTs cannot grow the process without limit.
 */
import { createHash } from 'node:crypto';

/** Largest single object body (16 MiB). */
export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;
/** Most bytes held across every object (256 MiB). */
export const MAX_TOTAL_OBJECT_BYTES = 256 * 1024 * 1024;
/** Most objects held at once. */
export const MAX_OBJECTS = 10_000;

export interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  /** Quoted MD5 of the body, as S3 gives the ETag of a single-part upload. */
  readonly etag: string;
  readonly lastModified: number;
  readonly contentType: string;
}

export interface ObjectLimits {
  readonly maxObjectBytes: number;
  readonly maxTotalBytes: number;
  readonly maxObjects: number;
}

export const DEFAULT_OBJECT_LIMITS: ObjectLimits = Object.freeze({
  maxObjectBytes: MAX_OBJECT_BYTES,
  maxTotalBytes: MAX_TOTAL_OBJECT_BYTES,
  maxObjects: MAX_OBJECTS,
});

/** Why a PUT was refused: which limit it would have passed. */
export class ObjectLimitError extends Error {
  constructor(
    readonly limit: 'object-size' | 'total-bytes' | 'object-count',
    message: string,
  ) {
    super(message);
  }
}

export interface ListPage {
  readonly objects: readonly StoredObject[];
  readonly commonPrefixes: readonly string[];
  /** The last key or common prefix of the page when more follow. */
  readonly nextAfter?: string;
}

const objectId = (bucket: string, key: string) => `${bucket}/${key}`;

export class ObjectStore {
  readonly #objects = new Map<string, StoredObject>();
  #totalBytes = 0;

  constructor(readonly limits: ObjectLimits = DEFAULT_OBJECT_LIMITS) {}

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get count(): number {
    return this.#objects.size;
  }

  clear(): void {
    this.#objects.clear();
    this.#totalBytes = 0;
  }

  get(bucket: string, key: string): StoredObject | undefined {
    return this.#objects.get(objectId(bucket, key));
  }

  /** Stores (or replaces) an object, or throws ObjectLimitError leaving the store unchanged. */
  put(bucket: string, key: string, body: Buffer, contentType: string, nowMs: number): StoredObject {
    const { maxObjectBytes, maxTotalBytes, maxObjects } = this.limits;
    if (body.length > maxObjectBytes) {
      throw new ObjectLimitError(
        'object-size',
        `object of ${body.length} bytes exceeds the emulator's ${maxObjectBytes}-byte limit`,
      );
    }
    const id = objectId(bucket, key);
    const previous = this.#objects.get(id);
    if (!previous && this.#objects.size >= maxObjects) {
      throw new ObjectLimitError(
        'object-count',
        `the emulator holds at most ${maxObjects} objects; delete some or reset it`,
      );
    }
    const total = this.#totalBytes - (previous?.body.length ?? 0) + body.length;
    if (total > maxTotalBytes) {
      throw new ObjectLimitError(
        'total-bytes',
        `the emulator holds at most ${maxTotalBytes} bytes of objects; delete some or reset it`,
      );
    }
    const stored: StoredObject = {
      bucket,
      key,
      body,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: nowMs,
      contentType,
    };
    // Map order is listing order only after sorting; replace in place.
    this.#objects.set(id, stored);
    this.#totalBytes = total;
    return stored;
  }

  /** Removes an object; true when there was one. */
  delete(bucket: string, key: string): boolean {
    const id = objectId(bucket, key);
    const previous = this.#objects.get(id);
    if (!previous) return false;
    this.#objects.delete(id);
    this.#totalBytes -= previous.body.length;
    return true;
  }

  /** Every object, sorted by bucket then key. */
  all(): StoredObject[] {
    return [...this.#objects.values()].sort((a, b) =>
      a.bucket === b.bucket ? compare(a.key, b.key) : compare(a.bucket, b.bucket),
    );
  }

  /**
   * One page of a bucket listing, in key order: keys starting with `prefix`, after `after`,
   * accepted by `visible`, rolled up at `delimiter` into common prefixes; at most `maxKeys`
   * entries (objects and common prefixes together), as ListObjectsV2 counts them.
   */
  list(options: {
    bucket: string;
    prefix: string;
    delimiter?: string;
    after?: string;
    maxKeys: number;
    visible: (key: string) => boolean;
  }): ListPage {
    const { bucket, prefix, delimiter, after, maxKeys, visible } = options;
    const keys = [...this.#objects.values()]
      .filter((o) => o.bucket === bucket && o.key.startsWith(prefix) && visible(o.key))
      .sort((a, b) => compare(a.key, b.key));
    const objects: StoredObject[] = [];
    const commonPrefixes: string[] = [];
    let last: string | undefined;
    for (const object of keys) {
      let entry = object.key;
      const cut =
        delimiter === undefined || delimiter === ''
          ? -1
          : object.key.indexOf(delimiter, prefix.length);
      if (cut >= 0) entry = object.key.slice(0, cut + (delimiter?.length ?? 0));
      if (after !== undefined && compare(entry, after) <= 0) continue;
      if (entry === last) continue;
      if (objects.length + commonPrefixes.length >= maxKeys) {
        return { objects, commonPrefixes, ...(last !== undefined && { nextAfter: last }) };
      }
      if (cut >= 0) commonPrefixes.push(entry);
      else objects.push(object);
      last = entry;
    }
    return { objects, commonPrefixes };
  }
}

/** S3 lists keys in UTF-8 binary order. */
function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
