/**
 * An issued credential as one JSON text, in the shape of the AWS answer it came from: Lake
 * Formation's (`AccessKeyId`, `SecretAccessKey`, `SessionToken`, `Expiration`, `VendedS3Path`)
 * for table and partition credentials, the same four with `AccessibleDataLocations` and
 * `CredentialsScope` for data-location credentials, Redshift Serverless `GetCredentials`' (`dbUser`, `dbPassword`,
 * `expiration`, `nextRefreshTime`) for database users, every time ISO-8601 UTC ending in `Z`.
 *
 * This is the one definition of that text. The cache keeps a credential as it (one string per
 * entry instead of an object and a string per field, and the secret's bytes once), and the HTTP
 * layer answers the `lakeformation` and `redshift` formats with it as it is, so what is kept
 * and what is sent are the same bytes. Only the fields' values are in it: nothing that could
 * identify the caller or the key.
 */
import type {
  DatabaseCredentials,
  IssuedCredentials,
  LocationCredentials,
  S3Credentials,
  Source,
} from './types.js';

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** The Lake Formation shape: `VendedS3Path` only when the credential has one. */
export function s3CredentialsJson(c: S3Credentials, expiration: number): string {
  return JSON.stringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: iso(expiration),
    ...(c.vendedS3Path !== undefined && { VendedS3Path: c.vendedS3Path }),
  });
}

/**
 * The AWS container-credentials shape (`Token`, not `SessionToken`): what a configured Lake
 * Formation target answers by default, and what `AWS_CONTAINER_CREDENTIALS_FULL_URI` clients read.
 */
export function containerCredentialsJson(c: S3Credentials, expiration: number): string {
  return JSON.stringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: iso(expiration),
  });
}

/**
 * The data-location shape (GetTemporaryDataLocationCredentials' `Credentials` flattened, as the
 * table call answers them): `AccessibleDataLocations` and `CredentialsScope` when AWS gave them.
 */
export function locationCredentialsJson(c: LocationCredentials, expiration: number): string {
  return JSON.stringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    SessionToken: c.sessionToken,
    Expiration: iso(expiration),
    ...(c.accessibleDataLocations !== undefined && {
      AccessibleDataLocations: c.accessibleDataLocations,
    }),
    ...(c.credentialsScope !== undefined && { CredentialsScope: c.credentialsScope }),
  });
}

/** The Redshift Serverless shape: `nextRefreshTime` only when AWS gave one. */
export function databaseCredentialsJson(
  c: DatabaseCredentials,
  expiration: number,
  nextRefreshTime: number | undefined,
): string {
  return JSON.stringify({
    dbUser: c.dbUser,
    dbPassword: c.dbPassword,
    expiration: iso(expiration),
    ...(nextRefreshTime !== undefined && { nextRefreshTime: iso(nextRefreshTime) }),
  });
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** Exactly the fields of `S3Credentials`, so that the text gives the same credential back. */
function isS3Credentials(value: object): value is S3Credentials {
  const c = value as Partial<Record<keyof S3Credentials, unknown>>;
  const fields = Object.keys(value).length;
  return (
    isString(c.accessKeyId) &&
    isString(c.secretAccessKey) &&
    isString(c.sessionToken) &&
    (c.vendedS3Path === undefined
      ? fields === 3
      : fields === 4 && Array.isArray(c.vendedS3Path) && c.vendedS3Path.every(isString))
  );
}

/** Exactly the fields of `LocationCredentials`. */
function isLocationCredentials(value: object): value is LocationCredentials {
  const c = value as Partial<Record<keyof LocationCredentials, unknown>>;
  const optional =
    (c.accessibleDataLocations === undefined ? 0 : 1) + (c.credentialsScope === undefined ? 0 : 1);
  return (
    isString(c.accessKeyId) &&
    isString(c.secretAccessKey) &&
    isString(c.sessionToken) &&
    (c.accessibleDataLocations === undefined ||
      (Array.isArray(c.accessibleDataLocations) && c.accessibleDataLocations.every(isString))) &&
    (c.credentialsScope === undefined || isString(c.credentialsScope)) &&
    Object.keys(value).length === 3 + optional
  );
}

function isDatabaseCredentials(value: object): value is DatabaseCredentials {
  const c = value as Partial<Record<keyof DatabaseCredentials, unknown>>;
  return isString(c.dbUser) && isString(c.dbPassword) && Object.keys(value).length === 2;
}

/**
 * The JSON text of `issued` for a key of `source`, or undefined when its credential is not
 * exactly of the shape that source's AWS operation issues (a test's fake, say): such a
 * credential is kept as the object it is.
 *
 * The text is made flat before it is kept: JSON.stringify hands a long result back as a rope of
 * pieces, about 130 bytes more than the text for as long as it lives; reading a character makes
 * V8 flatten it, and the collector then keeps only the flat copy.
 */
export function credentialJson(
  source: Source,
  issued: IssuedCredentials<unknown>,
): string | undefined {
  const { credentials } = issued;
  if (typeof credentials !== 'object' || credentials === null) return undefined;
  let text: string | undefined;
  if (source === 'redshift_serverless') {
    if (isDatabaseCredentials(credentials)) {
      text = databaseCredentialsJson(credentials, issued.expiration, issued.nextRefreshTime);
    }
  } else if (source === 'lakeformation_location') {
    if (isLocationCredentials(credentials)) {
      text = locationCredentialsJson(credentials, issued.expiration);
    }
  } else if (isS3Credentials(credentials)) {
    text = s3CredentialsJson(credentials, issued.expiration);
  }
  text?.charCodeAt(0);
  return text;
}

/** The credential fields of a text made by `credentialJson` for `source`, as a new object. */
export function credentialFromJson(
  source: Source,
  text: string,
): S3Credentials | LocationCredentials | DatabaseCredentials {
  const fields = JSON.parse(text) as Record<string, unknown>;
  if (source === 'redshift_serverless') {
    return Object.freeze({
      dbUser: fields.dbUser as string,
      dbPassword: fields.dbPassword as string,
    });
  }
  if (source === 'lakeformation_location') {
    const locations = fields.AccessibleDataLocations as string[] | undefined;
    const scope = fields.CredentialsScope as string | undefined;
    return Object.freeze({
      accessKeyId: fields.AccessKeyId as string,
      secretAccessKey: fields.SecretAccessKey as string,
      sessionToken: fields.SessionToken as string,
      ...(locations !== undefined && { accessibleDataLocations: Object.freeze(locations) }),
      ...(scope !== undefined && { credentialsScope: scope }),
    });
  }
  const vended = fields.VendedS3Path as string[] | undefined;
  return Object.freeze({
    accessKeyId: fields.AccessKeyId as string,
    secretAccessKey: fields.SecretAccessKey as string,
    sessionToken: fields.SessionToken as string,
    ...(vended !== undefined && { vendedS3Path: Object.freeze(vended) }),
  });
}
