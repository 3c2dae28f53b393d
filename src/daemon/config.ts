/**
 * The configuration: one YAML file plus `CREDCACHE_*` environment overrides, validated once at
 * start into a typed `Config`. Every error names the field and the rule
 * (`targets[2].tableArn: not a Glue table ARN`); unknown fields are errors.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { YAMLParseError, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  LAKE_FORMATION_DURATION,
  LAKE_FORMATION_PERMISSIONS,
  PARTITION_VALUES,
  PERMISSION_TYPES,
  REDSHIFT_DURATION,
  dbNameProblem,
  isCustomDomainName,
  isGlueTableArn,
  isWorkgroupName,
} from '../providers/rules.js';
import type { Source } from '../providers/types.js';
import { isLoopbackHost } from '../net/loopback.js';
import { refreshCapacity } from '../refresh/capacity.js';

export const DEFAULT_LISTEN = '127.0.0.1:9911';
export const DEFAULT_DURATION_SECONDS = 3600;
export const TARGET_NAME = /^[a-z0-9-]{1,63}$/;

/** Why a configuration cannot be used; `problems` are one `path: rule` line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly problems: readonly string[],
    readonly origin: string,
  ) {
    super(`${origin}: ${problems.join('; ')}`);
  }
}

const seconds = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const text = (what = 'a string') => z.string({ error: `must be ${what}` });

const tableArn = text('a Glue table ARN').refine(isGlueTableArn, {
  error: 'not a Glue table ARN (arn:<partition>:glue:<region>:<account>:table/<database>/<table>)',
});

const permissions = z
  .array(z.enum(LAKE_FORMATION_PERMISSIONS, { error: 'not a Lake Formation permission' }), {
    error: 'must be a list of permissions',
  })
  .default([]);

const permissionTypes = z
  .array(z.enum(PERMISSION_TYPES, { error: 'not a supported permission type' }), {
    error: 'must be a list of permission types',
  })
  .min(1, 'must name at least one permission type')
  .default(['COLUMN_PERMISSION']);

const targetName = text('a target name').regex(TARGET_NAME, 'must match [a-z0-9-]{1,63}');

const tableTarget = z.strictObject({
  name: targetName,
  source: z.literal('lakeformation_table'),
  tableArn,
  permissions,
  supportedPermissionTypes: permissionTypes,
  durationSeconds: seconds(LAKE_FORMATION_DURATION.min, LAKE_FORMATION_DURATION.max).optional(),
});

const partitionTarget = tableTarget.extend({
  source: z.literal('lakeformation_partition'),
  values: z
    .array(
      text('a partition value').max(
        PARTITION_VALUES.maxLength,
        `must be at most ${PARTITION_VALUES.maxLength} characters`,
      ),
      { error: 'must be a list of partition values' },
    )
    .min(PARTITION_VALUES.minCount, 'must hold at least one partition value')
    .max(PARTITION_VALUES.maxCount, `must hold at most ${PARTITION_VALUES.maxCount} values`),
});

const redshiftTarget = z
  .strictObject({
    name: targetName,
    source: z.literal('redshift_serverless'),
    workgroupName: text()
      .refine(isWorkgroupName, { error: '3 to 64 characters of a-z, 0-9 and -' })
      .optional(),
    customDomainName: text().refine(isCustomDomainName, { error: 'not a domain name' }).optional(),
    dbName: text()
      .check((ctx) => {
        const problem = dbNameProblem(ctx.value);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
      })
      .optional(),
    durationSeconds: seconds(REDSHIFT_DURATION.min, REDSHIFT_DURATION.max).optional(),
  })
  .check((ctx) => {
    const { workgroupName, customDomainName } = ctx.value;
    if ((workgroupName === undefined) === (customDomainName === undefined)) {
      ctx.issues.push({
        code: 'custom',
        message: 'exactly one of workgroupName and customDomainName is required',
        path: ['workgroupName'],
        input: ctx.value,
      });
    }
  });

const target = z.discriminatedUnion('source', [tableTarget, partitionTarget, redshiftTarget], {
  error: 'must be lakeformation_table, lakeformation_partition or redshift_serverless',
});

const patterns = z.array(text('a pattern').min(1, 'must not be empty'), {
  error: 'must be a list of patterns',
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const httpUrl = text('a URL').url('must be an http(s) URL');

const schema = z.strictObject({
  listen: text('host:port').default(DEFAULT_LISTEN),
  allowNonLoopback: z.boolean({ error: 'must be true or false' }).default(false),
  /** Host header names credential requests may use besides the loopback ones. */
  allowHosts: z
    .array(
      text('a host name')
        .min(1, 'must not be empty')
        .regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or address, without port'),
      { error: 'must be a list of host names' },
    )
    .default([]),
  shutdownGraceSeconds: seconds(0, 300).default(10),
  server: z
    .strictObject({
      headersTimeoutSeconds: seconds(1, 300).default(10),
      requestTimeoutSeconds: seconds(1, 600).default(30),
      maxConnections: wholeNumber(1, 1_000_000).default(1_024),
    })
    .prefault({}),
  /**
   * A second listener for /healthz, /readyz and /metrics only (no credentials, no token), for
   * kubelet probes and Prometheus, which reach the pod's address rather than loopback.
   */
  probeListen: text('host:port').optional(),
  auth: z
    .strictObject({
      tokenFile: text('a file path').min(1, 'must not be empty').optional(),
      /** Octal mode of a token file the daemon creates: '0600' (default) or '0640'. */
      tokenFileMode: z
        .union([z.string(), z.number()], { error: 'must be 0600 or 0640' })
        .default('0600')
        .transform((mode, ctx) => {
          // YAML reads an unquoted 0640 as the number 640: take the digits as octal either way.
          const digits = String(mode).replace(/^0o?/, '');
          if (digits === '600' || digits === '640') return Number.parseInt(digits, 8);
          ctx.issues.push({ code: 'custom', message: 'must be 0600 or 0640', input: mode });
          return z.NEVER;
        }),
      token: text('a token').min(16, 'must be at least 16 characters').optional(),
      disabled: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .prefault({}),
  cache: z
    .strictObject({
      maxEntries: wholeNumber(1, 10_000_000).default(10_000),
      minRemainingSeconds: seconds(0, 3_000).default(300),
      idleSeconds: seconds(1).default(900),
      negativeTtlSeconds: seconds(0, 3_600).default(5),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      region: text('an AWS region')
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region')
        .optional(),
      auditContext: text().max(2048, 'must be at most 2048 characters').default('credcache'),
      durationSeconds: seconds(LAKE_FORMATION_DURATION.min, LAKE_FORMATION_DURATION.max).default(
        DEFAULT_DURATION_SECONDS,
      ),
      lakeFormationEndpoint: httpUrl.optional(),
      redshiftServerlessEndpoint: httpUrl.optional(),
      maxAttempts: wholeNumber(1, 10).default(3),
      timeoutSeconds: seconds(1, 300).default(10),
      maxConcurrent: wholeNumber(1, 1_000).default(8),
      ratePerSecond: wholeNumber(1, 10_000).default(20),
      maxWaitSeconds: seconds(1, 300).default(10),
      maxQueue: wholeNumber(1, 100_000).default(1_000),
    })
    .prefault({}),
  allow: z
    .strictObject({
      tables: patterns.optional(),
      workgroups: patterns.optional(),
      customDomains: patterns.optional(),
    })
    .optional(),
  log: z
    .strictObject({ level: z.enum(LOG_LEVELS, { error: 'not a log level' }).default('info') })
    .prefault({}),
  targets: z.array(target, { error: 'must be a list of targets' }).default([]),
});

type RawConfig = z.output<typeof schema>;
export type TargetConfig = RawConfig['targets'][number];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface Config extends Omit<RawConfig, 'listen' | 'probeListen'> {
  readonly listen: ListenAddress;
  readonly probeListen: ListenAddress | undefined;
  /** Where the configuration came from, for messages. */
  readonly origin: string;
}

export { isLoopbackHost } from '../net/loopback.js';

/** `host:port`, `[v6]:port` or `:port`; the problem as text when it is not one. */
export function parseListen(value: string): ListenAddress | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!match) return 'must be host:port (for example 127.0.0.1:9911)';
  const host = match[1] ?? (match[2] === '' ? '127.0.0.1' : (match[2] ?? ''));
  const port = Number(match[3]);
  if (port > 65_535) return 'port must be between 0 and 65535';
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  return { host, port };
}

/** A glob where `*` matches any run of characters (including none) and nothing else is special. */
export function globMatcher(pattern: string): (value: string) => boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
      .join('.*')}$`,
  );
  return (value) => regex.test(value);
}

/** Environment variables read besides `CREDCACHE_<SECTION>_<FIELD>`. */
const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  CREDCACHE_TOKEN_FILE: ['auth', 'tokenFile'],
  CREDCACHE_TOKEN: ['auth', 'token'],
};

type Scalar = 'string' | 'number' | 'boolean';

/** Every scalar field of the schema, by its environment variable name. */
function environmentFields(): Map<string, { path: string[]; kind: Scalar }> {
  const fields = new Map<string, { path: string[]; kind: Scalar }>();
  const visit = (shape: Record<string, z.ZodType>, path: string[]) => {
    for (const [name, field] of Object.entries(shape)) {
      const inner = unwrap(field);
      const type = inner.def.type;
      if (type === 'object' && path.length === 0) {
        visit((inner as z.ZodObject).shape, [name]);
      } else if (type === 'string' || type === 'number' || type === 'boolean') {
        fields.set(envName([...path, name]), { path: [...path, name], kind: type });
      } else if (type === 'enum' || type === 'union') {
        fields.set(envName([...path, name]), { path: [...path, name], kind: 'string' });
      }
    }
  };
  visit(schema.shape, []);
  for (const [name, path] of Object.entries(ENV_ALIASES)) {
    fields.set(name, { path: [...path], kind: 'string' });
  }
  return fields;
}

function unwrap(type: z.ZodType): z.ZodType {
  let current = type;
  for (;;) {
    const def = current.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType && ['optional', 'default', 'prefault', 'nullable'].includes(def.type)) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return current;
    }
  }
}

function envName(path: readonly string[]): string {
  return `CREDCACHE_${path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

/** Applies `CREDCACHE_*` variables over the parsed file; returns which path came from which. */
function applyEnvironment(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: string[],
): Map<string, string> {
  const sources = new Map<string, string>();
  for (const [name, { path, kind }] of environmentFields()) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let parsed: unknown = value;
    if (kind === 'number') {
      parsed = /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    } else if (kind === 'boolean') {
      const lower = value.trim().toLowerCase();
      parsed = ['true', '1', 'yes'].includes(lower)
        ? true
        : ['false', '0', 'no'].includes(lower)
          ? false
          : value;
    }
    let container: Record<string, unknown> = raw;
    for (const part of path.slice(0, -1)) {
      const next = container[part];
      if (next === undefined || next === null) container[part] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        problems.push(`${name}: cannot set ${path.join('.')}: ${part} is not a section`);
        break;
      }
      container = container[part] as Record<string, unknown>;
    }
    const last = path.at(-1);
    if (last !== undefined) container[last] = parsed;
    sources.set(path.join('.'), name);
  }
  return sources;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function valueAt(document: unknown, path: readonly PropertyKey[]): unknown {
  let current = document;
  for (const part of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  sources: Map<string, string>,
): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`);
  }
  const path = formatPath(issue.path);
  const fromEnv = sources.get(issue.path.join('.'));
  const where = fromEnv ? `${fromEnv} (${path})` : path === '' ? '(top level)' : path;
  let message = issue.message;
  if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined)
    message = 'is required';
  return [`${where}: ${message}`];
}

/**
 * Validates a parsed configuration document with the environment applied over it. `baseDir`
 * resolves relative file paths (the config file's directory).
 */
export function buildConfig(
  document: unknown,
  options: { env?: NodeJS.ProcessEnv; origin?: string; baseDir?: string } = {},
): Config {
  const origin = options.origin ?? 'configuration';
  const problems: string[] = [];
  if (document !== undefined && document !== null && !isRecord(document)) {
    throw new ConfigError(['(top level): must be a mapping of sections'], origin);
  }
  const raw: Record<string, unknown> = structuredClone(document ?? {}) as Record<string, unknown>;
  const sources = applyEnvironment(raw, options.env ?? {}, problems);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(...describeIssue(issue, raw, sources));
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems, origin);
  const config = parsed.data;
  const listen = parseListen(config.listen);
  const listenName = sources.get('listen') ?? 'listen';
  if (typeof listen === 'string') problems.push(`${listenName}: ${listen}`);
  else if (!isLoopbackHost(listen.host) && !config.allowNonLoopback) {
    problems.push(
      `${listenName}: ${listen.host} is not a loopback address; set allowNonLoopback: true to listen on it`,
    );
  }
  if (config.auth.disabled && (config.auth.token !== undefined || config.auth.tokenFile)) {
    problems.push('auth.disabled: cannot be combined with auth.token or auth.tokenFile');
  }
  if (config.auth.token !== undefined && config.auth.tokenFile !== undefined) {
    problems.push('auth.token: give either auth.token or auth.tokenFile, not both');
  }
  const probeListen =
    config.probeListen === undefined ? undefined : parseListen(config.probeListen);
  if (typeof probeListen === 'string') {
    problems.push(`${sources.get('probeListen') ?? 'probeListen'}: ${probeListen}`);
  }
  problems.push(...targetProblems(config));
  const capacity = capacityProblem(config);
  if (capacity !== undefined) problems.push(capacity);
  if (problems.length > 0 || typeof listen === 'string' || typeof probeListen === 'string') {
    throw new ConfigError(problems, origin);
  }
  const baseDir = options.baseDir ?? process.cwd();
  const auth =
    config.auth.tokenFile === undefined
      ? config.auth
      : { ...config.auth, tokenFile: resolve(baseDir, config.auth.tokenFile) };
  return { ...config, auth, listen, probeListen, origin };
}

/**
 * Whether the upstream budget can keep a full cache of credentials of the configured default
 * durations fresh (see `refreshCapacity`); requests that ask for shorter ones cost more.
 */
function capacityProblem(config: RawConfig): string | undefined {
  const lifetimes = [
    defaultDuration(config, 'lakeformation_table'),
    defaultDuration(config, 'redshift_serverless'),
    ...config.targets.map(
      (target) => target.durationSeconds ?? defaultDuration(config, target.source),
    ),
  ];
  return refreshCapacity({
    maxEntries: config.cache.maxEntries,
    targets: config.targets.length,
    lifetimeMs: Math.min(...lifetimes) * 1000,
    ratePerSecond: config.upstream.ratePerSecond,
    refreshPolicy: { minRemainingMs: config.cache.minRemainingSeconds * 1000 },
  }).problem;
}

function targetProblems(config: RawConfig): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const allow = allowList(config.allow);
  config.targets.forEach((target, index) => {
    const first = seen.get(target.name);
    if (first !== undefined) {
      problems.push(
        `targets[${index}].name: ${target.name} is already the name of targets[${first}]`,
      );
    } else {
      seen.set(target.name, index);
    }
    const denied = allow.denies(targetResource(target));
    if (denied) problems.push(`targets[${index}].${denied.field}: not in allow.${denied.list}`);
  });
  return problems;
}

/** The resource a request or target asks for, as the allow-list sees it. */
export type Resource =
  | { readonly kind: 'table'; readonly tableArn: string }
  | { readonly kind: 'workgroup'; readonly name: string }
  | { readonly kind: 'customDomain'; readonly name: string };

function targetResource(target: TargetConfig): Resource {
  if (target.source === 'redshift_serverless') {
    return target.workgroupName !== undefined
      ? { kind: 'workgroup', name: target.workgroupName }
      : { kind: 'customDomain', name: target.customDomainName ?? '' };
  }
  return { kind: 'table', tableArn: target.tableArn };
}

export interface AllowList {
  /** True when every resource is allowed (no `allow` section). */
  readonly allowsAll: boolean;
  /** Which list refuses `resource`, or undefined when it is allowed. */
  denies(resource: Resource): { list: string; field: string } | undefined;
}

/**
 * The allow-list: each list that is present admits only what matches one of its patterns; an
 * absent list admits everything of its kind, except custom domains, which are refused when
 * `workgroups` is restricted and `customDomains` is not (a custom domain could name any
 * workgroup).
 */
export function allowList(allow: RawConfig['allow']): AllowList {
  const compile = (list: readonly string[] | undefined) =>
    list === undefined ? undefined : list.map(globMatcher);
  const tables = compile(allow?.tables);
  const workgroups = compile(allow?.workgroups);
  const customDomains =
    compile(allow?.customDomains) ?? (workgroups !== undefined ? [] : undefined);
  const admits = (list: ((value: string) => boolean)[] | undefined, value: string) =>
    list === undefined || list.some((matches) => matches(value));
  return {
    allowsAll: allow === undefined,
    denies(resource) {
      switch (resource.kind) {
        case 'table':
          return admits(tables, resource.tableArn)
            ? undefined
            : { list: 'tables', field: 'tableArn' };
        case 'workgroup':
          return admits(workgroups, resource.name)
            ? undefined
            : { list: 'workgroups', field: 'workgroupName' };
        case 'customDomain':
          return admits(customDomains, resource.name)
            ? undefined
            : { list: 'customDomains', field: 'customDomainName' };
      }
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads and validates the configuration: the file at `path` (when given) with the environment
 * applied over it, or the environment and defaults alone.
 */
export async function loadConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Config> {
  if (path === undefined) return buildConfig({}, { env, origin: 'defaults and environment' });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      [code === 'ENOENT' ? 'file not found' : `cannot read: ${code ?? String(error)}`],
      path,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos
        ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}`
        : 'YAML';
    const reason = error instanceof YAMLParseError ? error.code : 'not YAML';
    throw new ConfigError([`${where}: not valid YAML (${reason})`], path);
  }
  return buildConfig(document, { env, origin: path, baseDir: dirname(resolve(path)) });
}

/** The effective duration of a target (or request) of `source` without one. */
export function defaultDuration(config: Pick<Config, 'upstream'>, source: Source): number {
  return source === 'redshift_serverless'
    ? Math.min(config.upstream.durationSeconds, REDSHIFT_DURATION.max)
    : config.upstream.durationSeconds;
}
