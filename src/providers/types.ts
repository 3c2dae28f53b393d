/**
 * What a credential provider takes and gives: the request of one upstream operation (already
 * validated and canonical) and the credential it issued, with its expiry as epoch milliseconds.
 */

/** The `source` label (metrics, status, config): one per upstream operation. */
export const SOURCES = [
  'lakeformation_table',
  'lakeformation_partition',
  'redshift_serverless',
  'lakeformation_location',
] as const;
export type Source = (typeof SOURCES)[number];

export interface TableCredentialsRequest {
  readonly tableArn: string;
  readonly permissions: readonly string[];
  readonly supportedPermissionTypes: readonly string[];
  readonly durationSeconds: number;
}

export interface PartitionCredentialsRequest extends TableCredentialsRequest {
  /** Ordered, as the partition's keys are. */
  readonly partitionValues: readonly string[];
}

/** Exactly one of `workgroupName` and `customDomainName` is set. */
export interface RedshiftCredentialsRequest {
  readonly workgroupName?: string;
  readonly customDomainName?: string;
  readonly dbName?: string;
  readonly durationSeconds: number;
}

/** `CredentialsScope` of GetTemporaryDataLocationCredentials. */
export type CredentialsScope = 'READ' | 'READWRITE';

export interface LocationCredentialsRequest {
  /** S3 URIs, sorted and de-duplicated (as given otherwise: `s3://b/p` and `s3://b/p/` differ). */
  readonly dataLocations: readonly string[];
  readonly credentialsScope: CredentialsScope;
  readonly durationSeconds: number;
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** S3 locations the credential covers (table call only). */
  readonly vendedS3Path?: readonly string[];
}

/** The answer of GetTemporaryDataLocationCredentials; the last two only when AWS gave them. */
export interface LocationCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly accessibleDataLocations?: readonly string[];
  readonly credentialsScope?: string;
}

export interface DatabaseCredentials {
  readonly dbUser: string;
  readonly dbPassword: string;
}

export interface IssuedCredentials<C> {
  readonly credentials: C;
  /** Epoch milliseconds. */
  readonly expiration: number;
  /** Epoch milliseconds; Redshift Serverless may say when to refresh. */
  readonly nextRefreshTime?: number;
}

export interface FetchOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * One upstream operation. The cache holds providers, not SDK clients: the AWS-backed ones in
 * this folder are one implementation, a test fake is another.
 */
export interface CredentialProvider<R, C> {
  readonly source: Source;
  /**
   * Fetches a new credential, or rejects with an `UpstreamError`. An aborted `signal` cancels the
   * call (the SDK's `abortSignal`).
   */
  fetch(request: R, options?: FetchOptions): Promise<IssuedCredentials<C>>;
}
