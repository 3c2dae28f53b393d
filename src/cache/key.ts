/**
 * The cache key: what a credential grants. This is the one place where request fields are
 * put in canonical form — sets sorted and de-duplicated, partition values kept in order —
 * so that `SELECT,DESCRIBE` and `DESCRIBE,SELECT` share one entry. Audit and query-session
 * context never reach a key.
 */
import type {
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

export type CredentialKey = TableKey | PartitionKey | RedshiftKey;

/** Canonical sets already made, shared by every key that has them (a cache holds many keys). */
const canonicalSets = new Map<string, readonly string[]>();
/** Past this many distinct sets (the permission enums allow 1,023), new ones are not kept. */
const MAX_CANONICAL_SETS = 2_048;

/** Sorted, without repeats: the canonical form of a set-valued field (one frozen array per set). */
export function canonicalSet(values: readonly string[]): readonly string[] {
  const sorted = [...new Set(values)].sort();
  const id = JSON.stringify(sorted);
  let set = canonicalSets.get(id);
  if (!set) {
    set = Object.freeze(sorted);
    if (canonicalSets.size < MAX_CANONICAL_SETS) canonicalSets.set(id, set);
  }
  return set;
}

/**
 * `id` is an unambiguous encoding of every key field (JSON of an array in fixed order), so two
 * keys are equal exactly when their ids are. JSON.stringify hands a long result back as a rope
 * of pieces, about 100 bytes more than the text itself for as long as the key lives; reading a
 * character makes V8 flatten it, and the collector then keeps only the flat copy.
 */
const encode = (source: Source, ...fields: unknown[]) => {
  const id = JSON.stringify([source, ...fields]);
  id.charCodeAt(0);
  return id;
};

export function tableKey(request: TableCredentialsRequest): TableKey {
  const canonical: TableCredentialsRequest = Object.freeze({
    tableArn: request.tableArn,
    permissions: canonicalSet(request.permissions),
    supportedPermissionTypes: canonicalSet(request.supportedPermissionTypes),
    durationSeconds: request.durationSeconds,
  });
  return Object.freeze({
    source: 'lakeformation_table',
    id: encode(
      'lakeformation_table',
      canonical.tableArn,
      canonical.permissions,
      canonical.supportedPermissionTypes,
      canonical.durationSeconds,
    ),
    request: canonical,
  });
}

export function partitionKey(request: PartitionCredentialsRequest): PartitionKey {
  const canonical: PartitionCredentialsRequest = Object.freeze({
    tableArn: request.tableArn,
    permissions: canonicalSet(request.permissions),
    supportedPermissionTypes: canonicalSet(request.supportedPermissionTypes),
    durationSeconds: request.durationSeconds,
    partitionValues: Object.freeze([...request.partitionValues]),
  });
  return Object.freeze({
    source: 'lakeformation_partition',
    id: encode(
      'lakeformation_partition',
      canonical.tableArn,
      canonical.permissions,
      canonical.supportedPermissionTypes,
      canonical.durationSeconds,
      canonical.partitionValues,
    ),
    request: canonical,
  });
}

export function redshiftKey(request: RedshiftCredentialsRequest): RedshiftKey {
  const canonical: RedshiftCredentialsRequest = Object.freeze({
    ...(request.workgroupName !== undefined && { workgroupName: request.workgroupName }),
    ...(request.customDomainName !== undefined && { customDomainName: request.customDomainName }),
    ...(request.dbName !== undefined && { dbName: request.dbName }),
    durationSeconds: request.durationSeconds,
  });
  return Object.freeze({
    source: 'redshift_serverless',
    id: encode(
      'redshift_serverless',
      canonical.workgroupName ?? null,
      canonical.customDomainName ?? null,
      canonical.dbName ?? null,
      canonical.durationSeconds,
    ),
    request: canonical,
  });
}
