/**
 * What AWS accepts as input to the four credential operations (docs/api.md): the
 * permission enums, duration ranges and name rules of the service models and documentation,
 * gathered in `FIELD_RULES`, one entry a request field. The configuration's schema and the
 * daemon's requests word a broken rule the same way (the entry's `problem`); the emulator
 * enforces the same predicates and limits with the services' own error names and wording.
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

/** `CredentialsScope` of GetTemporaryDataLocationCredentials; absent means READ. */
export const CREDENTIALS_SCOPES = ['READ', 'READWRITE'] as const;

/** DurationSeconds bounds of the Lake Formation table and partition calls: 900 s to 6 hours. */
const LAKE_FORMATION_DURATION = { min: 900, max: 21600 } as const;
/** DurationSeconds bounds of GetTemporaryDataLocationCredentials: 900 s to 12 hours. */
const LOCATION_DURATION = { min: 900, max: 43200 } as const;
/** durationSeconds bounds of Redshift Serverless GetCredentials. */
const REDSHIFT_DURATION = { min: 900, max: 3600 } as const;

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
/** workgroupName and customDomainName of Redshift Serverless GetCredentials. */
const WORKGROUP_NAME_LENGTH = { min: 3, max: 64 } as const;
const CUSTOM_DOMAIN_NAME_LENGTH = { min: 1, max: 253 } as const;
const WORKGROUP_NAME = new RegExp(
  `^[a-z0-9-]{${WORKGROUP_NAME_LENGTH.min},${WORKGROUP_NAME_LENGTH.max}}$`,
);
const CUSTOM_DOMAIN_NAME =
  /^(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$/;
const DB_NAME = /^[A-Za-z][A-Za-z0-9_+.@-]{0,63}$/;

/** Partition.Values of GetTemporaryGluePartitionCredentials. */
const PARTITION_VALUES = { minCount: 1, maxCount: 100, maxLength: 1024 } as const;

/**
 * An S3 URI of `DataLocations`: `s3://<bucket>` or `s3://<bucket>/<key prefix>`, the bucket named
 * by S3's rules (3 to 63 characters of a-z, 0-9, `.` and `-`, a letter or digit at each end), the
 * key at most 1024 characters, no control characters anywhere. credcache asks for at least one
 * location; AWS states no upper count, so none is set beyond the request's size.
 */
const S3_URI_BUCKET = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/|$)/;
const S3_KEY_MAX_LENGTH = 1024;
const DATA_LOCATIONS = { minCount: 1 } as const;

function isS3Uri(value: string): boolean {
  const bucket = S3_URI_BUCKET.exec(value);
  if (bucket === null) return false;
  const key = value.slice(bucket[0].length);
  if (key.length > S3_KEY_MAX_LENGTH) return false;
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

const LAKE_FORMATION_PERMISSION_SET: ReadonlySet<string> = new Set(LAKE_FORMATION_PERMISSIONS);
const PERMISSION_TYPE_SET: ReadonlySet<string> = new Set(PERMISSION_TYPES);
const CREDENTIALS_SCOPE_SET: ReadonlySet<string> = new Set(CREDENTIALS_SCOPES);

function isGlueTableArn(value: string): boolean {
  return GLUE_TABLE_ARN.test(value);
}

function isWorkgroupName(value: string): boolean {
  return WORKGROUP_NAME.test(value);
}

function isCustomDomainName(value: string): boolean {
  return value.length <= CUSTOM_DOMAIN_NAME_LENGTH.max && CUSTOM_DOMAIN_NAME.test(value);
}

/** What a rule says about a value: its problem, worded to follow "<field>: ", or `undefined`. */
export type Problem<T> = (value: T) => string | undefined;

function durationRule(range: { readonly min: number; readonly max: number }) {
  const problem = `must be a whole number of seconds from ${range.min} to ${range.max}`;
  return {
    range,
    problem: (seconds: number) =>
      Number.isSafeInteger(seconds) && seconds >= range.min && seconds <= range.max
        ? undefined
        : problem,
  };
}

function enumRule(allowed: readonly string[], set: ReadonlySet<string>, what: string) {
  const problem = `not ${what} (${allowed.join(', ')})`;
  return { allowed, problem: (value: string) => (set.has(value) ? undefined : problem) };
}

const PROBLEMS = {
  tableArn:
    'not a Glue table ARN (arn:<partition>:glue:<region>:<account>:table/<database>/<table>)',
  partitionValueCount: `must hold from ${PARTITION_VALUES.minCount} to ${PARTITION_VALUES.maxCount} partition values`,
  partitionValueLength: `a partition value is longer than ${PARTITION_VALUES.maxLength} characters`,
  workgroupName: `must be ${WORKGROUP_NAME_LENGTH.min} to ${WORKGROUP_NAME_LENGTH.max} characters of a-z, 0-9 and -`,
  customDomainName: 'not a domain name',
  dbName:
    'must be 1 to 64 characters, start with a letter, and contain only letters, numbers, underscore, plus sign, period, at sign or hyphen',
  redshiftName: 'exactly one of workgroupName and customDomainName is required',
  s3Uri: `not an S3 URI (s3://<bucket>[/<key prefix>], the key at most ${S3_KEY_MAX_LENGTH} characters)`,
  dataLocationCount: `must hold at least ${DATA_LOCATIONS.minCount} S3 location`,
} as const;

/**
 * The request fields' rules, as credcache words them: the configuration (`targets[]`), the
 * daemon's requests (query and AWS-shaped body) and the emulator all read this one table. Each
 * `problem` allocates nothing for a good value (requests check on the miss path) and is worded
 * to follow "<field>: " (`tableArn: not a Glue table ARN (…)`). The predicates and limits beside
 * it are what the emulator enforces under AWS's own error names and wording.
 */
export const FIELD_RULES = {
  tableArn: {
    valid: isGlueTableArn,
    problem: (arn: string) => (isGlueTableArn(arn) ? undefined : PROBLEMS.tableArn),
  },
  /** One of `Permissions`. */
  permission: enumRule(
    LAKE_FORMATION_PERMISSIONS,
    LAKE_FORMATION_PERMISSION_SET,
    'a Lake Formation permission',
  ),
  /** One of `SupportedPermissionTypes`. */
  permissionType: enumRule(PERMISSION_TYPES, PERMISSION_TYPE_SET, 'a supported permission type'),
  lakeFormationDuration: durationRule(LAKE_FORMATION_DURATION),
  /** DurationSeconds of GetTemporaryDataLocationCredentials (longer than the table calls'). */
  locationDuration: durationRule(LOCATION_DURATION),
  /** One of `DataLocations`. */
  s3Uri: {
    valid: isS3Uri,
    problem: (uri: string) => (isS3Uri(uri) ? undefined : PROBLEMS.s3Uri),
  },
  /** `DataLocations` as a whole: how many. */
  dataLocations: {
    limits: DATA_LOCATIONS,
    problem: (locations: readonly string[]) =>
      locations.length < DATA_LOCATIONS.minCount ? PROBLEMS.dataLocationCount : undefined,
  },
  /** `CredentialsScope`. */
  credentialsScope: enumRule(CREDENTIALS_SCOPES, CREDENTIALS_SCOPE_SET, 'a credentials scope'),
  redshiftDuration: durationRule(REDSHIFT_DURATION),
  /** `Partition.Values`, in order: how many, and how long each. */
  partitionValues: {
    limits: PARTITION_VALUES,
    problem: (values: readonly string[]): string | undefined => {
      if (values.length < PARTITION_VALUES.minCount || values.length > PARTITION_VALUES.maxCount) {
        return PROBLEMS.partitionValueCount;
      }
      for (const value of values) {
        if (value.length > PARTITION_VALUES.maxLength) return PROBLEMS.partitionValueLength;
      }
      return undefined;
    },
  },
  workgroupName: {
    length: WORKGROUP_NAME_LENGTH,
    valid: isWorkgroupName,
    problem: (name: string) => (isWorkgroupName(name) ? undefined : PROBLEMS.workgroupName),
  },
  customDomainName: {
    length: CUSTOM_DOMAIN_NAME_LENGTH,
    valid: isCustomDomainName,
    problem: (name: string) => (isCustomDomainName(name) ? undefined : PROBLEMS.customDomainName),
  },
  /** As GetCredentials takes it; the emulator answers this same text after "dbName ". */
  dbName: {
    problem: (dbName: string): string | undefined => {
      if (!DB_NAME.test(dbName)) return PROBLEMS.dbName;
      if (REDSHIFT_RESERVED_WORDS.has(dbName.toUpperCase()))
        return `'${dbName}' is a reserved word`;
      return undefined;
    },
  },
  /** Exactly one of `workgroupName` and `customDomainName` (named at `workgroupName`). */
  redshiftName: {
    problem: (names: {
      readonly workgroupName?: string | undefined;
      readonly customDomainName?: string | undefined;
    }) =>
      (names.workgroupName === undefined) === (names.customDomainName === undefined)
        ? PROBLEMS.redshiftName
        : undefined,
  },
} as const;
