/**
 * The cache key: what a credential grants. This is the one place where request fields are
 * put in canonical form — sets sorted and de-duplicated, partition values kept in order —
 * so that `SELECT,DESCRIBE` and `DESCRIBE,SELECT` share one entry. Audit and query-session
 * context never reach a key.
 *
 * Data locations are a set too, compared as the exact strings given: `s3://b/p` and `s3://b/p/`
 * are two keys, because AWS takes them as two strings (a prefix `p` also covers `p-old/`, `p/`
 * does not), and credcache does not guess which one a client meant.
 */
import type {
  CredentialsScope,
  LocationCredentialsRequest,
  PartitionCredentialsRequest,
  RedshiftCredentialsRequest,
  Source,
  TableCredentialsRequest,
} from '../providers/types.js';

export interface TableKey {
  readonly source: 'lakeformation_table';
  /** Equal for two keys exactly when every canonical field is. */
  readonly id: string;
  readonly request: TableCredentialsRequest;
}

export interface PartitionKey {
  readonly source: 'lakeformation_partition';
  readonly id: string;
  readonly request: PartitionCredentialsRequest;
}

export interface RedshiftKey {
  readonly source: 'redshift_serverless';
  readonly id: string;
  readonly request: RedshiftCredentialsRequest;
}

export interface LocationKey {
  readonly source: 'lakeformation_location';
  readonly id: string;
  readonly request: LocationCredentialsRequest;
}

export type CredentialKey = TableKey | PartitionKey | RedshiftKey | LocationKey;

/** Canonical sets already made, shared by every key that has them (a cache holds many keys). */
const canonicalSets = new Map<string, readonly string[]>();
/** The same sets by their number (the order they were first made in), and each set's number. */
const setsByNumber: (readonly string[])[] = [];
const setNumbers = new Map<readonly string[], number>();
/** Past this many distinct sets (the permission enums allow 1,023), new ones are not kept. */
const MAX_CANONICAL_SETS = 2_048;

/** Sorted, without repeats: the canonical form of a set-valued field (one frozen array per set). */
export function canonicalSet(values: readonly string[]): readonly string[] {
  const sorted = [...new Set(values)].sort();
  const id = JSON.stringify(sorted);
  let set = canonicalSets.get(id);
  if (!set) {
    set = Object.freeze(sorted);
    if (canonicalSets.size < MAX_CANONICAL_SETS) {
      canonicalSets.set(id, set);
      setNumbers.set(set, setsByNumber.length);
      setsByNumber.push(set);
    }
  }
  return set;
}

/**
 * A canonical set in an id: its number when it is kept (a set is kept from its first use on, or
 * never), else the set itself; a number and an array never read as each other.
 */
const setRef = (set: readonly string[]): number | readonly string[] => setNumbers.get(set) ?? set;

const setFromRef = (ref: number | string[]): readonly string[] =>
  typeof ref === 'number' ? (setsByNumber[ref] ?? []) : canonicalSet(ref);

/** A key's source in its id: one digit rather than its name. */
const SOURCE_CODES: Readonly<Record<Source, number>> = {
  lakeformation_table: 0,
  lakeformation_partition: 1,
  redshift_serverless: 2,
  lakeformation_location: 3,
};

/**
 * `id` is an unambiguous encoding of every key field (JSON of an array in fixed order: the
 * source's code, then the fields, sets by their number in this process), so two keys are equal
 * exactly when their ids are, and an id is about half as long as the JSON of the fields by name
 * (a cached key keeps it). JSON.stringify hands a long result back as a rope of pieces, about
 * 100 bytes more than the text itself for as long as the key lives; reading a character makes V8
 * flatten it, and the collector then keeps only the flat copy.
 */
const encode = (source: Source, ...fields: unknown[]) => {
  const id = JSON.stringify([SOURCE_CODES[source], ...fields]);
  id.charCodeAt(0);
  return id;
};

type RequestOf<S extends Source> = S extends 'lakeformation_table'
  ? TableCredentialsRequest
  : S extends 'lakeformation_partition'
    ? PartitionCredentialsRequest
    : S extends 'lakeformation_location'
      ? LocationCredentialsRequest
      : RedshiftCredentialsRequest;

/**
 * A key holds its source and id only; `request` is read back from the id each time it is asked
 * for (once per upstream call), so a cached key costs one small object and its id, not a request
 * object and a second copy of its table ARN beside the id. What `request` gives is canonical and
 * frozen, its sets the shared arrays of `canonicalSet`.
 */
class Key<S extends Source> {
  readonly source: S;
  readonly id: string;

  constructor(source: S, id: string) {
    this.source = source;
    this.id = id;
    Object.freeze(this);
  }

  get request(): RequestOf<S> {
    return requestFromId(this.source, this.id) as RequestOf<S>;
  }
}

const SOURCES_BY_CODE: readonly Source[] = [
  'lakeformation_table',
  'lakeformation_partition',
  'redshift_serverless',
  'lakeformation_location',
];

/** The source of the key whose id is `id` (its first field, one digit). */
export function sourceOfId(id: string): Source {
  const source = SOURCES_BY_CODE[id.charCodeAt(1) - 48];
  if (source === undefined) throw new Error('not a key id');
  return source;
}

/** The key whose id is `id`, made again (equal to the key it came from, not the same object). */
export function keyFromId(id: string): CredentialKey {
  return new Key(sourceOfId(id), id) as CredentialKey;
}

function requestFromId(source: Source, id: string): object {
  const fields = JSON.parse(id) as unknown[];
  if (source === 'redshift_serverless') {
    const [, workgroupName, customDomainName, dbName, durationSeconds] = fields as [
      number,
      string | null,
      string | null,
      string | null,
      number,
    ];
    return Object.freeze({
      ...(workgroupName !== null && { workgroupName }),
      ...(customDomainName !== null && { customDomainName }),
      ...(dbName !== null && { dbName }),
      durationSeconds,
    });
  }
  if (source === 'lakeformation_location') {
    const [, dataLocations, credentialsScope, durationSeconds] = fields as [
      number,
      string[],
      CredentialsScope,
      number,
    ];
    return Object.freeze({
      dataLocations: Object.freeze(dataLocations),
      credentialsScope,
      durationSeconds,
    });
  }
  const [, tableArn, permissions, supportedPermissionTypes, durationSeconds, partitionValues] =
    fields as [number, string, number | string[], number | string[], number, string[] | undefined];
  return Object.freeze({
    tableArn,
    permissions: setFromRef(permissions),
    supportedPermissionTypes: setFromRef(supportedPermissionTypes),
    durationSeconds,
    ...(partitionValues !== undefined && { partitionValues: Object.freeze(partitionValues) }),
  });
}

export function tableKey(request: TableCredentialsRequest): TableKey {
  return new Key(
    'lakeformation_table',
    encode(
      'lakeformation_table',
      request.tableArn,
      setRef(canonicalSet(request.permissions)),
      setRef(canonicalSet(request.supportedPermissionTypes)),
      request.durationSeconds,
    ),
  );
}

export function partitionKey(request: PartitionCredentialsRequest): PartitionKey {
  return new Key(
    'lakeformation_partition',
    encode(
      'lakeformation_partition',
      request.tableArn,
      setRef(canonicalSet(request.permissions)),
      setRef(canonicalSet(request.supportedPermissionTypes)),
      request.durationSeconds,
      request.partitionValues,
    ),
  );
}

export function redshiftKey(request: RedshiftCredentialsRequest): RedshiftKey {
  return new Key(
    'redshift_serverless',
    encode(
      'redshift_serverless',
      request.workgroupName ?? null,
      request.customDomainName ?? null,
      request.dbName ?? null,
      request.durationSeconds,
    ),
  );
}

/**
 * Locations sorted and de-duplicated, as exact strings. Unlike permission sets they are not kept
 * in the shared table of `canonicalSet`: there are as many of them as there are prefixes.
 */
export function locationKey(request: LocationCredentialsRequest): LocationKey {
  return new Key(
    'lakeformation_location',
    encode(
      'lakeformation_location',
      [...new Set(request.dataLocations)].sort(),
      request.credentialsScope,
      request.durationSeconds,
    ),
  );
}
