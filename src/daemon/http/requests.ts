/**
 * A client's request → a canonical `CredentialKey`, or an `InvalidRequest` naming the field.
 * GET requests carry query parameters (repeated or comma lists, except partition `values` and
 * `dataLocations`, which are repeated only: a partition value and an S3 key may hold a comma);
 * POST requests carry the AWS request shape as JSON. The allow-list is checked here, before
 * anything reaches the cache.
 */
import {
  type LocationKey,
  type PartitionKey,
  type RedshiftKey,
  type TableKey,
  locationKey,
  partitionKey,
  redshiftKey,
  tableKey,
} from '../../cache/key.js';
import { type AllowList, type Resource, allowList } from '../../config/allow-list.js';
import { type Config, defaultDuration } from '../../config/config.js';
import { FIELD_RULES, type Problem } from '../../providers/rules.js';
import type { CredentialsScope, Source } from '../../providers/types.js';
import { ApiError, invalid } from './errors.js';

export interface RequestRules {
  /** Duration of a request that names none. */
  readonly defaultDurationSeconds: (source: Source) => number;
  readonly allow: AllowList;
}

/** The rules of the configuration: its default durations and its allow-list. */
export function requestRules(config: Pick<Config, 'upstream' | 'allow'>): RequestRules {
  return {
    defaultDurationSeconds: (source) => defaultDuration(config, source),
    allow: allowList(config.allow),
  };
}

const DEFAULT_PERMISSION_TYPES = ['COLUMN_PERMISSION'];

/** Shown values are cut short, so an error body never echoes a megabyte back. */
function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * `value` checked against a field's rule (`FIELD_RULES`), with the rule's own words; a string
 * the client chose is shown after them (`tableArn: not a Glue table ARN (…); given "…"`).
 */
function check<T>(field: string, value: T, problem: Problem<T>): T {
  const message = problem(value);
  if (message === undefined) return value;
  throw invalid(
    typeof value === 'string'
      ? `${field}: ${message}; given ${shown(value)}`
      : `${field}: ${message}`,
  );
}

function checkEach(field: string, values: readonly string[], problem: Problem<string>): string[] {
  for (const value of values) check(field, value, problem);
  return [...values];
}

function checkAllowed(rules: RequestRules, resource: Resource, field: string): void {
  const denied = rules.allow.denies(resource);
  if (!denied) return;
  const given = resource.kind === 'location' ? `; given ${shown(resource.uri)}` : '';
  throw new ApiError('Forbidden', `${field}: not in the allow-list (allow.${denied.list})${given}`);
}

const DEFAULT_CREDENTIALS_SCOPE: CredentialsScope = 'READ';

/**
 * The data-location fields of a request, checked (each location an S3 URI and allowed) and
 * defaulted; `name` gives a field's name as the client spelled it.
 */
function checkLocationRequest(
  fields: {
    dataLocations: string[] | undefined;
    credentialsScope: string | undefined;
    durationSeconds: number | undefined;
  },
  name: (field: string) => string,
  rules: RequestRules,
): LocationKey {
  if (fields.dataLocations === undefined) throw invalid(`${name('dataLocations')}: required`);
  const dataLocations = check(
    name('dataLocations'),
    checkEach(name('dataLocations'), fields.dataLocations, FIELD_RULES.s3Uri.problem),
    FIELD_RULES.dataLocations.problem,
  );
  for (const uri of dataLocations) {
    checkAllowed(rules, { kind: 'location', uri }, name('dataLocations'));
  }
  const credentialsScope = check(
    name('credentialsScope'),
    fields.credentialsScope ?? DEFAULT_CREDENTIALS_SCOPE,
    FIELD_RULES.credentialsScope.problem,
  ) as CredentialsScope;
  return locationKey({
    dataLocations,
    credentialsScope,
    durationSeconds: check(
      name('durationSeconds'),
      fields.durationSeconds ?? rules.defaultDurationSeconds('lakeformation_location'),
      FIELD_RULES.locationDuration.problem,
    ),
  });
}

/**
 * The table fields of a request, checked and defaulted; `name` gives a field's name as the
 * client spelled it (`tableArn` in a query, `TableArn` in an AWS-shaped body).
 */
function checkTableRequest(
  fields: {
    tableArn: string;
    permissions: string[] | undefined;
    supportedPermissionTypes: string[] | undefined;
    durationSeconds: number | undefined;
  },
  name: (field: string) => string,
  rules: RequestRules,
  source: Source,
) {
  const tableArn = check(name('tableArn'), fields.tableArn, FIELD_RULES.tableArn.problem);
  checkAllowed(rules, { kind: 'table', tableArn }, name('tableArn'));
  return {
    tableArn,
    permissions: checkEach(
      name('permissions'),
      fields.permissions ?? [],
      FIELD_RULES.permission.problem,
    ),
    supportedPermissionTypes: checkEach(
      name('supportedPermissionTypes'),
      fields.supportedPermissionTypes ?? DEFAULT_PERMISSION_TYPES,
      FIELD_RULES.permissionType.problem,
    ),
    durationSeconds: check(
      name('durationSeconds'),
      fields.durationSeconds ?? rules.defaultDurationSeconds(source),
      FIELD_RULES.lakeFormationDuration.problem,
    ),
  };
}

// ---- GET: query parameters ----

/** The parameter every credential GET takes besides its key's: fetch anew now (not in the key). */
export const REFRESH_NOW = 'refreshNow';

/**
 * Whether the query asks for a forced fetch (`refreshNow=true`; `false` or absent: no), taking
 * the parameter out of `params` so what is left names the key alone.
 */
export function takeRefreshNow(params: URLSearchParams): boolean {
  const values = params.getAll(REFRESH_NOW);
  if (values.length === 0) return false;
  params.delete(REFRESH_NOW);
  if (values.length > 1) throw invalid(`${REFRESH_NOW}: given more than once`);
  const [value = ''] = values;
  if (value === 'true' || value === 'false') return value === 'true';
  throw invalid(`${REFRESH_NOW}: must be true or false; given ${shown(value)}`);
}

class Query {
  readonly #params: URLSearchParams;
  constructor(params: URLSearchParams, known: readonly string[]) {
    this.#params = params;
    for (const name of new Set(params.keys())) {
      if (!known.includes(name)) {
        throw invalid(
          `${shown(name)}: unknown parameter; this path takes ${[...known, REFRESH_NOW].join(', ')}`,
        );
      }
    }
  }

  /** A parameter given at most once, not empty. */
  one(name: string): string | undefined {
    const values = this.#params.getAll(name);
    if (values.length === 0) return undefined;
    if (values.length > 1) throw invalid(`${name}: given more than once`);
    const value = values[0] ?? '';
    if (value === '') throw invalid(`${name}: empty`);
    return value;
  }

  required(name: string): string {
    const value = this.one(name);
    if (value === undefined) throw invalid(`${name}: required`);
    return value;
  }

  /** Repeated and/or comma-separated values, each non-empty. */
  list(name: string): string[] | undefined {
    const values = this.#params.getAll(name);
    if (values.length === 0) return undefined;
    const items = values.flatMap((value) => value.split(','));
    if (items.some((item) => item === '')) throw invalid(`${name}: empty value in the list`);
    return items;
  }

  /** Repeated values only (a value may hold a comma). */
  repeated(name: string): string[] | undefined {
    const values = this.#params.getAll(name);
    return values.length === 0 ? undefined : values;
  }

  integer(name: string): number | undefined {
    const value = this.one(name);
    if (value === undefined) return undefined;
    if (!/^\d{1,9}$/.test(value)) throw invalid(`${name}: must be a whole number of seconds`);
    return Number(value);
  }
}

const TABLE_PARAMS = ['tableArn', 'permissions', 'supportedPermissionTypes', 'durationSeconds'];

function tableRequestFromQuery(query: Query, rules: RequestRules, source: Source) {
  return checkTableRequest(
    {
      tableArn: query.required('tableArn'),
      permissions: query.list('permissions'),
      supportedPermissionTypes: query.list('supportedPermissionTypes'),
      durationSeconds: query.integer('durationSeconds'),
    },
    (field) => field,
    rules,
    source,
  );
}

export function tableKeyFromQuery(params: URLSearchParams, rules: RequestRules): TableKey {
  const query = new Query(params, TABLE_PARAMS);
  return tableKey(tableRequestFromQuery(query, rules, 'lakeformation_table'));
}

export function partitionKeyFromQuery(params: URLSearchParams, rules: RequestRules): PartitionKey {
  const query = new Query(params, [...TABLE_PARAMS, 'values']);
  const table = tableRequestFromQuery(query, rules, 'lakeformation_partition');
  const values = query.repeated('values');
  if (values === undefined) throw invalid('values: required (repeat it once per partition value)');
  check('values', values, FIELD_RULES.partitionValues.problem);
  return partitionKey({ ...table, partitionValues: [...values] });
}

export function redshiftKeyFromQuery(params: URLSearchParams, rules: RequestRules): RedshiftKey {
  const query = new Query(params, [
    'workgroupName',
    'customDomainName',
    'dbName',
    'durationSeconds',
  ]);
  return redshiftKeyFrom(
    {
      workgroupName: query.one('workgroupName'),
      customDomainName: query.one('customDomainName'),
      dbName: query.one('dbName'),
      durationSeconds: query.integer('durationSeconds'),
    },
    rules,
  );
}

/**
 * `dataLocations` is repeated, one location a parameter, never split at commas (an S3 key may
 * hold one); a value holding `,s3://` is refused rather than taken as one odd key.
 */
export function locationKeyFromQuery(params: URLSearchParams, rules: RequestRules): LocationKey {
  const query = new Query(params, ['dataLocations', 'credentialsScope', 'durationSeconds']);
  const dataLocations = query.repeated('dataLocations');
  if (dataLocations?.some((uri) => uri.includes(',s3://'))) {
    throw invalid(
      'dataLocations: repeat the parameter once per location (dataLocations=s3://…&dataLocations=s3://…); a comma list is not split, since an S3 key may hold a comma',
    );
  }
  return checkLocationRequest(
    {
      dataLocations,
      credentialsScope: query.one('credentialsScope'),
      durationSeconds: query.integer('durationSeconds'),
    },
    (field) => field,
    rules,
  );
}

function redshiftKeyFrom(
  request: {
    workgroupName: string | undefined;
    customDomainName: string | undefined;
    dbName: string | undefined;
    durationSeconds: number | undefined;
  },
  rules: RequestRules,
): RedshiftKey {
  const { workgroupName, customDomainName, dbName } = request;
  check('workgroupName', request, FIELD_RULES.redshiftName.problem);
  if (workgroupName !== undefined) {
    check('workgroupName', workgroupName, FIELD_RULES.workgroupName.problem);
    checkAllowed(rules, { kind: 'workgroup', name: workgroupName }, 'workgroupName');
  }
  if (customDomainName !== undefined) {
    check('customDomainName', customDomainName, FIELD_RULES.customDomainName.problem);
    checkAllowed(rules, { kind: 'customDomain', name: customDomainName }, 'customDomainName');
  }
  if (dbName !== undefined) {
    // The rule's text names a reserved word itself; a name of 65 characters is not echoed.
    const problem = FIELD_RULES.dbName.problem(dbName);
    if (problem !== undefined) throw invalid(`dbName: ${problem}`);
  }
  return redshiftKey({
    ...(workgroupName !== undefined && { workgroupName }),
    ...(customDomainName !== undefined && { customDomainName }),
    ...(dbName !== undefined && { dbName }),
    durationSeconds: check(
      'durationSeconds',
      request.durationSeconds ?? rules.defaultDurationSeconds('redshift_serverless'),
      FIELD_RULES.redshiftDuration.problem,
    ),
  });
}

// ---- POST: the AWS request shape ----

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Body {
  constructor(
    readonly value: Json,
    known: readonly string[],
    private readonly path = '',
  ) {
    for (const name of Object.keys(value)) {
      if (!known.includes(name)) {
        throw invalid(
          `${path}${shown(name).slice(1, -1)}: unknown field; expected ${known.join(', ')}`,
        );
      }
    }
  }

  #absent(name: string): boolean {
    return this.value[name] === undefined || this.value[name] === null;
  }

  string(name: string): string | undefined {
    if (this.#absent(name)) return undefined;
    const value = this.value[name];
    if (typeof value !== 'string') throw invalid(`${this.path}${name}: must be a string`);
    return value;
  }

  strings(name: string): string[] | undefined {
    if (this.#absent(name)) return undefined;
    const value = this.value[name];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw invalid(`${this.path}${name}: must be a list of strings`);
    }
    return value as string[];
  }

  integer(name: string): number | undefined {
    if (this.#absent(name)) return undefined;
    const value = this.value[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw invalid(`${this.path}${name}: must be a whole number`);
    }
    return value;
  }

  object(name: string, known: readonly string[]): Body | undefined {
    if (this.#absent(name)) return undefined;
    const value = this.value[name];
    if (!isObject(value)) throw invalid(`${this.path}${name}: must be an object`);
    return new Body(value, known, `${this.path}${name}.`);
  }
}

const TABLE_MEMBERS = [
  'TableArn',
  'Permissions',
  'SupportedPermissionTypes',
  'DurationSeconds',
  'AuditContext',
  'QuerySessionContext',
];

function bodyObject(body: unknown): Json {
  if (!isObject(body)) throw invalid('body: must be a JSON object in the AWS request shape');
  return body;
}

function tableRequestFromBody(body: Body, rules: RequestRules, source: Source) {
  const tableArnValue = body.string('TableArn');
  if (tableArnValue === undefined) throw invalid('TableArn: required');
  // Accepted for compatibility with the AWS shape, never part of the key: the daemon sends its
  // own audit context.
  body.object('AuditContext', ['AdditionalAuditContext'])?.string('AdditionalAuditContext');
  body.object('QuerySessionContext', [
    'QueryId',
    'QueryStartTime',
    'ClusterId',
    'QueryAuthorizationId',
    'AdditionalContext',
  ]);
  return checkTableRequest(
    {
      tableArn: tableArnValue,
      permissions: body.strings('Permissions'),
      supportedPermissionTypes: body.strings('SupportedPermissionTypes'),
      durationSeconds: body.integer('DurationSeconds'),
    },
    (field) => `${field.charAt(0).toUpperCase()}${field.slice(1)}`,
    rules,
    source,
  );
}

export function tableKeyFromBody(json: unknown, rules: RequestRules): TableKey {
  const body = new Body(bodyObject(json), [...TABLE_MEMBERS, 'S3Path']);
  if (body.string('S3Path') !== undefined) {
    throw invalid('S3Path: not supported; credcache caches credentials per table');
  }
  return tableKey(tableRequestFromBody(body, rules, 'lakeformation_table'));
}

export function partitionKeyFromBody(json: unknown, rules: RequestRules): PartitionKey {
  const body = new Body(bodyObject(json), [...TABLE_MEMBERS, 'Partition']);
  const table = tableRequestFromBody(body, rules, 'lakeformation_partition');
  const values = body.object('Partition', ['Values'])?.strings('Values');
  if (values === undefined) throw invalid('Partition.Values: required');
  check('Partition.Values', values, FIELD_RULES.partitionValues.problem);
  return partitionKey({ ...table, partitionValues: [...values] });
}

// ---- Answer formats, S3 paths and Iceberg tables ----

/** The parameter that picks an answer's shape on a route that has more than one (never in the key). */
export const FORMAT = 'format';

/**
 * The format the query asks for (`format=…`), one of `accepted`, taking the parameter out of
 * `params` so what is left names the key alone; undefined when absent (the route's default).
 */
export function takeFormat<F extends string>(
  params: URLSearchParams,
  accepted: readonly F[],
): F | undefined {
  const values = params.getAll(FORMAT);
  if (values.length === 0) return undefined;
  params.delete(FORMAT);
  if (values.length > 1) throw invalid(`${FORMAT}: given more than once`);
  const [value = ''] = values;
  const format = accepted.find((name) => name === value);
  if (format === undefined) {
    throw invalid(`${FORMAT}: must be ${accepted.join(' or ')}; given ${shown(value)}`);
  }
  return format;
}

/** An S3 location split as the S3 index reads it: the bucket, then the key's `/` segments. */
export interface S3Location {
  readonly bucket: string;
  /** The key's segments; a trailing `/` adds none (`s3://b/t/` and `s3://b/t` are both `['t']`). */
  readonly segments: readonly string[];
}

const S3_URI = /^s3[an]?:\/\/([^/]+)(?:\/(.*))?$/;

/** `s3://bucket/key` (or `s3a://`, `s3n://`, as Hadoop writes it) split into bucket and segments. */
export function s3Location(uri: string): S3Location | undefined {
  const match = S3_URI.exec(uri);
  if (!match) return undefined;
  const [, bucket = '', key = ''] = match;
  const segments = key === '' ? [] : key.split('/');
  if (segments.at(-1) === '') segments.pop();
  return { bucket, segments };
}

/** `GET /v1/s3/credentials?path=s3://bucket/key`: the location asked about. */
export function s3LocationFromQuery(params: URLSearchParams): S3Location {
  const query = new Query(params, ['path']);
  const path = query.required('path');
  const location = s3Location(path);
  if (location === undefined) {
    throw invalid(`path: not an S3 URI (s3://bucket/key); given ${shown(path)}`);
  }
  return location;
}

/**
 * Iceberg's `planId` (a server-side scan plan's credentials) is accepted and ignored: the
 * credential of a table is the same whatever plan reads it.
 */
const ICEBERG_PLAN_ID = 'planId';

/** `GET /v1/iceberg/credentials?tableArn=…`: a table key, with the table route's defaults. */
export function icebergKeyFromQuery(params: URLSearchParams, rules: RequestRules): TableKey {
  params.delete(ICEBERG_PLAN_ID);
  return tableKeyFromQuery(params, rules);
}

/**
 * The table an Iceberg REST path names (`…/v1/{catalogId}/namespaces/{namespace}/tables/{table}`):
 * `arn:aws:glue:<region>:<catalogId>:table/<namespace>/<table>`. A Glue database has one level, so
 * a multi-level namespace (levels joined by the unit separator, 0x1F) is refused, as is a `/` in
 * a name; the query may carry the table route's other parameters.
 */
export function icebergKeyFromPath(
  path: { catalogId: string; namespace: string; table: string },
  params: URLSearchParams,
  region: string,
  rules: RequestRules,
): TableKey {
  if (params.has('tableArn')) throw invalid('tableArn: the path names the table');
  if (path.namespace.includes('\u001f')) {
    throw invalid(
      'namespace: a multi-level namespace has no Glue database (a Glue database has one level)',
    );
  }
  for (const [field, value] of Object.entries(path)) {
    if (value.includes('/')) throw invalid(`${field}: must not contain "/"; given ${shown(value)}`);
  }
  params.set(
    'tableArn',
    `arn:aws:glue:${region}:${path.catalogId}:table/${path.namespace}/${path.table}`,
  );
  return icebergKeyFromQuery(params, rules);
}

/** The AWS shape of GetTemporaryDataLocationCredentials; `AuditContext` is taken, never keyed. */
export function locationKeyFromBody(json: unknown, rules: RequestRules): LocationKey {
  const body = new Body(bodyObject(json), [
    'DataLocations',
    'CredentialsScope',
    'DurationSeconds',
    'AuditContext',
  ]);
  body.object('AuditContext', ['AdditionalAuditContext'])?.string('AdditionalAuditContext');
  return checkLocationRequest(
    {
      dataLocations: body.strings('DataLocations'),
      credentialsScope: body.string('CredentialsScope'),
      durationSeconds: body.integer('DurationSeconds'),
    },
    (field) => `${field.charAt(0).toUpperCase()}${field.slice(1)}`,
    rules,
  );
}
