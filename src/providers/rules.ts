/**
 * What AWS accepts as input to the three credential operations (SPEC section 1): the
 * permission enums, duration ranges and name rules of the service models and documentation.
 * The emulator enforces them with the services' error names; the daemon checks a client's
 * request against them before any upstream call.
 */

export const LAKE_FORMATION_PERMISSIONS = [
  'ALL',
  'SELECT',
  'ALTER',
  'DROP',
  'DELETE',
  'INSERT',
  'DESCRIBE',
  'CREATE_DATABASE',
  'CREATE_TABLE',
  'DATA_LOCATION_ACCESS',
  'CREATE_LF_TAG',
  'ASSOCIATE',
  'GRANT_WITH_LF_TAG_EXPRESSION',
  'CREATE_LF_TAG_EXPRESSION',
  'CREATE_CATALOG',
  'SUPER_USER',
] as const;

export const PERMISSION_TYPES = [
  'COLUMN_PERMISSION',
  'CELL_FILTER_PERMISSION',
  'NESTED_PERMISSION',
  'NESTED_CELL_PERMISSION',
] as const;

/** DurationSeconds bounds of the Lake Formation credential calls (SPEC section 1). */
export const LAKE_FORMATION_DURATION = { min: 900, max: 21600 } as const;
/** durationSeconds bounds of Redshift Serverless GetCredentials. */
export const REDSHIFT_DURATION = { min: 900, max: 3600 } as const;

/**
 * Amazon Redshift reserved words (Database Developer Guide, "Reserved words"); GetCredentials
 * refuses them as dbName.
 */
const REDSHIFT_RESERVED_WORDS = new Set(
  `AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64
  BACKUP BETWEEN BINARY BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN
  CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER
  CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC DISABLE DISTINCT DO ELSE
  EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE FROM
  FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY
  INNER INTERSECT INTERVAL INTO IS ISNULL JOIN LANGUAGE LEADING LEFT LIKE LIMIT LOCALTIME
  LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16 MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL NULL
  NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER OVERLAPS PARALLEL PARTITION
  PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES REJECTLOG RESORT
  RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE TAG TDES
  TEXT255 TEXT32K THEN TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST
  UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH WITHOUT`.split(/\s+/),
);

/** `arn:<partition>:glue:<region>:<account>:table/<database>/<table>` */
const GLUE_TABLE_ARN =
  /^arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:glue:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:table\/[^/\s]{1,255}\/[^/\s]{1,255}$/;
const WORKGROUP_NAME = /^[a-z0-9-]{3,64}$/;
const CUSTOM_DOMAIN_NAME =
  /^(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$/;
const DB_NAME = /^[A-Za-z][A-Za-z0-9_+.@-]{0,63}$/;

/** Partition.Values of GetTemporaryGluePartitionCredentials. */
export const PARTITION_VALUES = { minCount: 1, maxCount: 100, maxLength: 1024 } as const;

export const GLUE_TABLE_ARN_RULE =
  'be a Glue table ARN: arn:<partition>:glue:<region>:<account-id>:table/<database>/<table>';
export const WORKGROUP_NAME_RULE =
  'have length between 3 and 64 and satisfy regular expression pattern: ^[a-z0-9-]+$';
export const CUSTOM_DOMAIN_NAME_RULE = 'have length between 1 and 253 and be a valid domain name';

export function isGlueTableArn(value: string): boolean {
  return GLUE_TABLE_ARN.test(value);
}

export function isWorkgroupName(value: string): boolean {
  return WORKGROUP_NAME.test(value);
}

export function isCustomDomainName(value: string): boolean {
  return value.length <= 253 && CUSTOM_DOMAIN_NAME.test(value);
}

/** What is wrong with `dbName` as GetCredentials sees it (worded to follow "dbName "), if anything. */
export function dbNameProblem(dbName: string): string | undefined {
  if (!DB_NAME.test(dbName)) {
    return 'must be 1 to 64 characters, start with a letter, and contain only letters, numbers, underscore, plus sign, period, at sign or hyphen';
  }
  if (REDSHIFT_RESERVED_WORDS.has(dbName.toUpperCase())) return `'${dbName}' is a reserved word`;
  return undefined;
}
