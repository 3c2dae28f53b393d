/**
 * Wire-level requests for the two emulated operations, as the AWS SDKs send them, with a
 * syntactically valid SigV4 `Authorization` header (the emulator checks its shape and service
 * scope; it verifies the signature only when started with keys).
 */
import type { RawRequest } from './http.js';

export const REGION = 'us-east-1';
export const ACCESS_KEY_ID = 'AKIDEXAMPLE';
/** Placeholder secret for SDK clients; nothing verifies it. */
export const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

export const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
export const WORKGROUP = 'analytics';
export const DB_NAME = 'dev';

/** `20261124T071429Z` */
function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function signedHeaders(service: string, date = new Date()): Record<string, string> {
  const stamp = amzDate(date);
  const scope = `${ACCESS_KEY_ID}/${stamp.slice(0, 8)}/${REGION}/${service}/aws4_request`;
  return {
    'x-amz-date': stamp,
    authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host;x-amz-date, Signature=${'0123456789abcdef'.repeat(4)}`,
  };
}

/** Lake Formation `GetTemporaryGlueTableCredentials` (restJson1). */
export function glueTableCredentialsRequest(): RawRequest {
  return {
    method: 'POST',
    path: '/GetTemporaryGlueTableCredentials',
    headers: { 'content-type': 'application/json', ...signedHeaders('lakeformation') },
    body: JSON.stringify({
      TableArn: TABLE_ARN,
      Permissions: ['SELECT'],
      SupportedPermissionTypes: ['COLUMN_PERMISSION'],
      DurationSeconds: 3600,
    }),
  };
}

export const REDSHIFT_GET_CREDENTIALS_TARGET = 'RedshiftServerless.GetCredentials';

/** Redshift Serverless `GetCredentials` (awsJson1_1). */
export function redshiftGetCredentialsRequest(): RawRequest {
  return {
    method: 'POST',
    path: '/',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': REDSHIFT_GET_CREDENTIALS_TARGET,
      ...signedHeaders('redshift-serverless'),
    },
    body: JSON.stringify({ workgroupName: WORKGROUP, dbName: DB_NAME, durationSeconds: 900 }),
  };
}
