/**
 * Input validation for the emulated operations, with the rules and error names the real
 * services use: Lake Formation answers `InvalidInputException`, Redshift Serverless
 * `ValidationException`. A body that is not a JSON object of the right member types is a
 * `SerializationException` for the awsJson1_1 service, an `InvalidInputException` for the
 * restJson1 one.
 */
import { EmulatorError } from './errors.js';

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

/** `arn:<partition>:glue:<region>:<account>:table/<database>/<table>` */
const GLUE_TABLE_ARN =
  /^arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:glue:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:table\/[^/\s]{1,255}\/[^/\s]{1,255}$/;
const WORKGROUP_NAME = /^[a-z0-9-]{3,64}$/;
const CUSTOM_DOMAIN_NAME =
  /^(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$/;
const DB_NAME = /^[A-Za-z][A-Za-z0-9_+.@-]{0,63}$/;

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

export interface TableCredentialsInput {
  TableArn: string;
  Permissions: string[];
  SupportedPermissionTypes: string[];
  DurationSeconds?: number;
  AdditionalAuditContext?: string;
  S3Path?: string;
}

export interface PartitionCredentialsInput extends TableCredentialsInput {
  PartitionValues: string[];
}

export interface RedshiftCredentialsInput {
  workgroupName?: string;
  customDomainName?: string;
  dbName?: string;
  durationSeconds?: number;
}

type Json = Record<string, unknown>;

/** Reads a request body as a JSON object, or throws `errorName`. */
export function parseJsonObject(body: string, errorName: string): Json {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new EmulatorError(errorName, 'Request body is not valid JSON');
  }
  if (!isObject(parsed)) throw new EmulatorError(errorName, 'Request body must be a JSON object');
  return parsed;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Member readers: `undefined` when absent (or JSON null), else the typed value or `errorName`. */
class Members {
  constructor(
    private readonly body: Json,
    private readonly typeError: string,
    private readonly path = '',
  ) {}

  private fail(member: string, expected: string): never {
    throw new EmulatorError(this.typeError, `${this.path}${member} must be ${expected}`);
  }

  string(member: string): string | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : this.fail(member, 'a string');
  }

  integer(member: string): number | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    return Number.isSafeInteger(value) ? (value as number) : this.fail(member, 'an integer');
  }

  strings(member: string): string[] | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      return this.fail(member, 'a list of strings');
    }
    return value as string[];
  }

  object(member: string): Members | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) return this.fail(member, 'an object');
    return new Members(value, this.typeError, `${this.path}${member}.`);
  }
}

/** The "1 validation error detected" wording AWS services use for constraint failures. */
function constraint(
  errorName: string,
  member: string,
  value: unknown,
  rule: string,
): EmulatorError {
  const shown = typeof value === 'string' && value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return new EmulatorError(
    errorName,
    `1 validation error detected: Value '${String(shown)}' at '${member}' failed to satisfy constraint: ${rule}`,
  );
}

function checkEnumList(
  errorName: string,
  member: string,
  values: string[],
  allowed: readonly string[],
): void {
  for (const value of values) {
    if (!allowed.includes(value)) {
      throw constraint(
        errorName,
        member,
        value,
        `Member must satisfy enum value set: [${allowed.join(', ')}]`,
      );
    }
  }
}

function checkDuration(
  errorName: string,
  member: string,
  value: number | undefined,
  range: { min: number; max: number },
): void {
  if (value !== undefined && (value < range.min || value > range.max)) {
    throw constraint(
      errorName,
      member,
      value,
      `Member must have value between ${range.min} and ${range.max}`,
    );
  }
}

export function validateTableCredentials(body: Json): TableCredentialsInput {
  const E = 'InvalidInputException';
  const m = new Members(body, E);
  const TableArn = m.string('TableArn');
  if (TableArn === undefined) throw new EmulatorError(E, 'TableArn is required');
  if (!GLUE_TABLE_ARN.test(TableArn)) {
    throw new EmulatorError(
      E,
      `Invalid TableArn '${TableArn.slice(0, 200)}': expected arn:<partition>:glue:<region>:<account-id>:table/<database>/<table>`,
    );
  }
  const Permissions = m.strings('Permissions') ?? [];
  checkEnumList(E, 'permissions', Permissions, LAKE_FORMATION_PERMISSIONS);
  const SupportedPermissionTypes = m.strings('SupportedPermissionTypes') ?? ['COLUMN_PERMISSION'];
  if (SupportedPermissionTypes.length < 1 || SupportedPermissionTypes.length > 255) {
    throw constraint(
      E,
      'supportedPermissionTypes',
      SupportedPermissionTypes.length,
      'Member must have length between 1 and 255',
    );
  }
  checkEnumList(E, 'supportedPermissionTypes', SupportedPermissionTypes, PERMISSION_TYPES);
  const DurationSeconds = m.integer('DurationSeconds');
  checkDuration(E, 'durationSeconds', DurationSeconds, LAKE_FORMATION_DURATION);
  const AdditionalAuditContext = m.object('AuditContext')?.string('AdditionalAuditContext');
  if (AdditionalAuditContext !== undefined && AdditionalAuditContext.length > 2048) {
    throw constraint(
      E,
      'auditContext.additionalAuditContext',
      AdditionalAuditContext,
      'Member must have length less than or equal to 2048',
    );
  }
  const S3Path = m.string('S3Path');
  m.object('QuerySessionContext'); // accepted and type-checked, not used
  return {
    TableArn,
    Permissions,
    SupportedPermissionTypes,
    ...(DurationSeconds !== undefined && { DurationSeconds }),
    ...(AdditionalAuditContext !== undefined && { AdditionalAuditContext }),
    ...(S3Path !== undefined && { S3Path }),
  };
}

export function validatePartitionCredentials(body: Json): PartitionCredentialsInput {
  const E = 'InvalidInputException';
  // The partition call has no S3Path member; everything else is the table call's.
  const { S3Path: _noS3Path, ...table } = validateTableCredentials(body);
  const partition = new Members(body, E).object('Partition');
  if (partition === undefined) throw new EmulatorError(E, 'Partition is required');
  const PartitionValues = partition.strings('Values');
  if (PartitionValues === undefined) throw new EmulatorError(E, 'Partition.Values is required');
  if (PartitionValues.length < 1 || PartitionValues.length > 100) {
    throw constraint(
      E,
      'partition.values',
      PartitionValues.length,
      'Member must have length between 1 and 100',
    );
  }
  const tooLong = PartitionValues.find((value) => value.length > 1024);
  if (tooLong !== undefined) {
    throw constraint(
      E,
      'partition.values',
      tooLong,
      'Member must have length less than or equal to 1024',
    );
  }
  return { ...table, PartitionValues };
}

export function validateRedshiftCredentials(body: Json): RedshiftCredentialsInput {
  const E = 'ValidationException';
  const m = new Members(body, 'SerializationException');
  const workgroupName = m.string('workgroupName');
  const customDomainName = m.string('customDomainName');
  const dbName = m.string('dbName');
  const durationSeconds = m.integer('durationSeconds');

  if (workgroupName === undefined && customDomainName === undefined) {
    throw new EmulatorError(E, 'You must provide either workgroupName or customDomainName');
  }
  if (workgroupName !== undefined && customDomainName !== undefined) {
    throw new EmulatorError(E, 'You can provide only one of workgroupName and customDomainName');
  }
  if (workgroupName !== undefined && !WORKGROUP_NAME.test(workgroupName)) {
    throw constraint(
      E,
      'workgroupName',
      workgroupName,
      'Member must have length between 3 and 64 and satisfy regular expression pattern: ^[a-z0-9-]+$',
    );
  }
  if (
    customDomainName !== undefined &&
    (customDomainName.length > 253 || !CUSTOM_DOMAIN_NAME.test(customDomainName))
  ) {
    throw constraint(
      E,
      'customDomainName',
      customDomainName,
      'Member must have length between 1 and 253 and be a valid domain name',
    );
  }
  if (dbName !== undefined) {
    if (!DB_NAME.test(dbName)) {
      throw new EmulatorError(
        E,
        'dbName must be 1 to 64 characters, start with a letter, and contain only letters, numbers, underscore, plus sign, period, at sign or hyphen',
      );
    }
    if (REDSHIFT_RESERVED_WORDS.has(dbName.toUpperCase())) {
      throw new EmulatorError(E, `dbName '${dbName}' is a reserved word`);
    }
  }
  checkDuration(E, 'durationSeconds', durationSeconds, REDSHIFT_DURATION);
  return {
    ...(workgroupName !== undefined && { workgroupName }),
    ...(customDomainName !== undefined && { customDomainName }),
    ...(dbName !== undefined && { dbName }),
    ...(durationSeconds !== undefined && { durationSeconds }),
  };
}
