/**
 * The emulator's S3 layout: where each table's data lives, which locations lie under a table,
 * and what S3 locations an issued credential covers. One table registry is implied by the
 * layout itself, so every rule here is a pure function of its arguments.
 */
import type { IssuedCredential } from './state.js';

/** A stable S3 location per table, like the table's registered data location. */
export function vendedS3Path(tableArn: string): string[] {
  const [, , , region, account, resource = ''] = tableArn.split(':');
  const [, database, table] = resource.split('/');
  return [`s3://emulator-${account}-${region}/${database}/${table}/`];
}

/** The data bucket of one account and region: `emulator-<account>-<region>`. */
const DATA_BUCKET = /^emulator-(\d{12})-([a-z]{2}(?:-[a-z]+)+-\d{1,2})$/;

export interface TableOfLocation {
  /** The Glue table whose location contains the S3 location (partition `aws`). */
  readonly tableArn: string;
  /** That table's location, as `vendedS3Path` gives it. */
  readonly tableLocation: string;
}

/**
 * The table an S3 location lies under, or undefined when it lies under none. There is no table
 * registry: every table has a location (`vendedS3Path`), so a location lies under a table when it
 * is in a data bucket and names at least a database and a table folder
 * (`s3://emulator-<account>-<region>/<database>/<table>[/…]`).
 */
export function tableOfLocation(location: string): TableOfLocation | undefined {
  const match = /^s3:\/\/([^/]+)\/([^/]+)\/([^/]+)(?:\/.*)?$/s.exec(location);
  if (!match) return undefined;
  const [, bucket = '', database = '', table = ''] = match;
  const layout = DATA_BUCKET.exec(bucket);
  if (!layout) return undefined;
  const [, account = '', region = ''] = layout;
  const tableArn = `arn:aws:glue:${region}:${account}:table/${database}/${table}`;
  return { tableArn, tableLocation: `s3://${bucket}/${database}/${table}/` };
}

/**
 * Whether `location` covers the object or prefix `uri`: the same string, the location without
 * its trailing slash, or anything under the location taken as a folder. So
 * `s3://b/sales/orders/2026/11` covers `s3://b/sales/orders/2026/11/part-0` but not
 * `s3://b/sales/orders/2026/110/part-0`.
 */
export function covers(location: string, uri: string): boolean {
  const folder = location.endsWith('/') ? location : `${location}/`;
  return uri === location || uri === folder.slice(0, -1) || uri.startsWith(folder);
}

export interface CredentialReach {
  /** S3 locations the credential covers. */
  readonly locations: readonly string[];
  /** Whether PUT and DELETE are allowed. */
  readonly write: boolean;
}

/**
 * What an issued Lake Formation credential reaches in S3: a table credential its
 * `VendedS3Path`; a partition credential its table's location followed by the partition values
 * joined with `/`; a location credential its `AccessibleDataLocations`, writable only with
 * `READWRITE`. Table and partition credentials are read-only. Undefined for anything else.
 */
export function reachOf(issued: IssuedCredential): CredentialReach | undefined {
  const scope = issued.scope;
  switch (issued.operation) {
    case 'GetTemporaryGlueTableCredentials':
      return { locations: vendedS3Path(String(scope.TableArn)), write: false };
    case 'GetTemporaryGluePartitionCredentials': {
      const values = (scope.Partition as { Values?: unknown } | undefined)?.Values;
      const [table = ''] = vendedS3Path(String(scope.TableArn));
      const joined = Array.isArray(values) ? values.map(String).join('/') : '';
      return { locations: [`${table}${joined}`], write: false };
    }
    case 'GetTemporaryDataLocationCredentials':
      return {
        locations: Array.isArray(scope.DataLocations) ? scope.DataLocations.map(String) : [],
        write: scope.CredentialsScope === 'READWRITE',
      };
    default:
      return undefined;
  }
}
