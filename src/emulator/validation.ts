/**
 * Input validation for the emulated operations, with the rules and error names the real
 * services use: Lake Formation answers `InvalidInputException`, Redshift Serverless
 * `ValidationException`. A body that is not a JSON object of the right member types is a
 * `SerializationException` for the awsJson1_1 service, an `InvalidInputException` for the
 * restJson1 one. The predicates and limits are credcache's one table (`FIELD_RULES`); the
 * wording here is AWS's.
 */
import { FIELD_RULES } from '../providers/rules.js';
import { EmulatorError } from './errors.js';

const PARTITION_VALUES = FIELD_RULES.partitionValues.limits;

/** The constraint texts of the Redshift Serverless model. */
const { workgroupName: WORKGROUP_NAME, customDomainName: CUSTOM_DOMAIN_NAME } = FIELD_RULES;
const WORKGROUP_NAME_CONSTRAINT = `have length between ${WORKGROUP_NAME.length.min} and ${WORKGROUP_NAME.length.max} and satisfy regular expression pattern: ^[a-z0-9-]+$`;
const CUSTOM_DOMAIN_NAME_CONSTRAINT = `have length between ${CUSTOM_DOMAIN_NAME.length.min} and ${CUSTOM_DOMAIN_NAME.length.max} and be a valid domain name`;

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

/** `AuditContext.AdditionalAuditContext`, at most 2048 characters. */
function auditContext(m: Members, E: string): string | undefined {
  const value = m.object('AuditContext')?.string('AdditionalAuditContext');
  if (value !== undefined && value.length > 2048) {
    throw constraint(
      E,
      'auditContext.additionalAuditContext',
      value,
      'Member must have length less than or equal to 2048',
    );
  }
  return value;
}

export function validateTableCredentials(body: Json): TableCredentialsInput {
  const E = 'InvalidInputException';
  const m = new Members(body, E);
  const TableArn = m.string('TableArn');
  if (TableArn === undefined) throw new EmulatorError(E, 'TableArn is required');
  if (!FIELD_RULES.tableArn.valid(TableArn)) {
    throw new EmulatorError(
      E,
      `Invalid TableArn '${TableArn.slice(0, 200)}': expected arn:<partition>:glue:<region>:<account-id>:table/<database>/<table>`,
    );
  }
  const Permissions = m.strings('Permissions') ?? [];
  checkEnumList(E, 'permissions', Permissions, FIELD_RULES.permission.allowed);
  const SupportedPermissionTypes = m.strings('SupportedPermissionTypes') ?? ['COLUMN_PERMISSION'];
  if (SupportedPermissionTypes.length < 1 || SupportedPermissionTypes.length > 255) {
    throw constraint(
      E,
      'supportedPermissionTypes',
      SupportedPermissionTypes.length,
      'Member must have length between 1 and 255',
    );
  }
  checkEnumList(
    E,
    'supportedPermissionTypes',
    SupportedPermissionTypes,
    FIELD_RULES.permissionType.allowed,
  );
  const DurationSeconds = m.integer('DurationSeconds');
  checkDuration(E, 'durationSeconds', DurationSeconds, FIELD_RULES.lakeFormationDuration.range);
  const AdditionalAuditContext = auditContext(m, E);
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
  if (
    PartitionValues.length < PARTITION_VALUES.minCount ||
    PartitionValues.length > PARTITION_VALUES.maxCount
  ) {
    throw constraint(
      E,
      'partition.values',
      PartitionValues.length,
      `Member must have length between ${PARTITION_VALUES.minCount} and ${PARTITION_VALUES.maxCount}`,
    );
  }
  const tooLong = PartitionValues.find((value) => value.length > PARTITION_VALUES.maxLength);
  if (tooLong !== undefined) {
    throw constraint(
      E,
      'partition.values',
      tooLong,
      `Member must have length less than or equal to ${PARTITION_VALUES.maxLength}`,
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
  if (workgroupName !== undefined && !FIELD_RULES.workgroupName.valid(workgroupName)) {
    throw constraint(E, 'workgroupName', workgroupName, `Member must ${WORKGROUP_NAME_CONSTRAINT}`);
  }
  if (customDomainName !== undefined && !FIELD_RULES.customDomainName.valid(customDomainName)) {
    throw constraint(
      E,
      'customDomainName',
      customDomainName,
      `Member must ${CUSTOM_DOMAIN_NAME_CONSTRAINT}`,
    );
  }
  const dbNameFault = dbName === undefined ? undefined : FIELD_RULES.dbName.problem(dbName);
  if (dbNameFault !== undefined) throw new EmulatorError(E, `dbName ${dbNameFault}`);
  checkDuration(E, 'durationSeconds', durationSeconds, FIELD_RULES.redshiftDuration.range);
  return {
    ...(workgroupName !== undefined && { workgroupName }),
    ...(customDomainName !== undefined && { customDomainName }),
    ...(dbName !== undefined && { dbName }),
    ...(durationSeconds !== undefined && { durationSeconds }),
  };
}

/** The location call's `CredentialsScope` values; absent means `READ`. */
export const CREDENTIALS_SCOPES = ['READ', 'READWRITE'] as const;
export type CredentialsScope = (typeof CREDENTIALS_SCOPES)[number];

/** DurationSeconds bounds of the location call (its model allows up to 12 hours). */
export const DATA_LOCATION_DURATION = { min: 900, max: 43_200 } as const;

/** Most `DataLocations` one location call may name. */
export const MAX_DATA_LOCATIONS = 100;

export interface DataLocationCredentialsInput {
  /** The requested locations, de-duplicated, in request order. */
  DataLocations: string[];
  CredentialsScope: CredentialsScope;
  DurationSeconds?: number;
  AdditionalAuditContext?: string;
}

/** `s3://<bucket>[/<key>]`, bucket named as S3 requires. */
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\0]*)?$/;

export function validateDataLocationCredentials(body: Json): DataLocationCredentialsInput {
  const E = 'InvalidInputException';
  const m = new Members(body, E);
  const locations = m.strings('DataLocations');
  if (locations === undefined || locations.length === 0) {
    throw new EmulatorError(E, 'DataLocations is required: at least one S3 location');
  }
  if (locations.length > MAX_DATA_LOCATIONS) {
    throw constraint(
      E,
      'dataLocations',
      locations.length,
      `Member must have length less than or equal to ${MAX_DATA_LOCATIONS}`,
    );
  }
  for (const location of locations) {
    if (!S3_URI.test(location) || location.length > 1024) {
      throw new EmulatorError(
        E,
        `Invalid data location '${location.slice(0, 200)}': expected s3://<bucket>/<prefix>`,
      );
    }
  }
  const scope = m.string('CredentialsScope') ?? 'READ';
  checkEnumList(E, 'credentialsScope', [scope], CREDENTIALS_SCOPES);
  const DurationSeconds = m.integer('DurationSeconds');
  checkDuration(E, 'durationSeconds', DurationSeconds, DATA_LOCATION_DURATION);
  const AdditionalAuditContext = auditContext(m, E);
  return {
    DataLocations: [...new Set(locations)],
    CredentialsScope: scope as CredentialsScope,
    ...(DurationSeconds !== undefined && { DurationSeconds }),
    ...(AdditionalAuditContext !== undefined && { AdditionalAuditContext }),
  };
}
