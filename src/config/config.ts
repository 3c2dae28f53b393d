/**
 * The configuration: one YAML file plus `CREDCACHE_*` environment overrides, validated once at
 * start into a typed `Config`. Every error names the field and the rule
 * (`targets[2].tableArn: not a Glue table ARN`); unknown fields are errors.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { YAMLParseError, parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type ListenAddress, parseListen } from '../net/address.js';
import { isLoopbackHost } from '../net/loopback.js';
import { FIELD_RULES } from '../providers/rules.js';
import type { Source } from '../providers/types.js';
import { refreshCapacity } from '../refresh/capacity.js';
import { allowList, targetResources } from './allow-list.js';
import { applyEnvironment } from './environment.js';
import {
  type RawConfig,
  type SinkConfig,
  type TargetConfig,
  formatsFor,
  proxy as proxySchema,
  schema,
  target as targetSchema,
} from './schema.js';

export type { SinkConfig, TargetConfig };

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

export interface Config extends Omit<RawConfig, 'listen' | 'probeListen'> {
  readonly listen: ListenAddress;
  readonly probeListen: ListenAddress | undefined;
  /** Where the configuration came from, for messages. */
  readonly origin: string;
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
 * resolves relative file paths (the config file's directory). Every problem is reported at
 * once: the checks that span fields run on the fields that are valid by themselves, and a check
 * is skipped only when a field it reads is itself wrong (already reported).
 */
export function buildConfig(document: unknown, options: DocumentOptions = {}): Config {
  const { config, problems } = checkDocument(document, options);
  if (config === undefined) throw new ConfigError(problems, options.origin ?? 'configuration');
  return config;
}

interface DocumentOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly origin?: string;
  readonly baseDir?: string;
}

/**
 * A document's problems, the fields that are valid by themselves (a relative token file
 * resolved), and the configuration when there are no problems.
 */
function checkDocument(
  document: unknown,
  options: DocumentOptions,
): { config: Config | undefined; problems: string[]; fields: ValidFields | undefined } {
  const origin = options.origin ?? 'configuration';
  const problems: string[] = [];
  if (document !== undefined && document !== null && !isRecord(document)) {
    problems.push('(top level): must be a mapping of sections');
    return { config: undefined, problems, fields: undefined };
  }
  const raw: Record<string, unknown> = structuredClone(document ?? {}) as Record<string, unknown>;
  const sources = applyEnvironment(raw, options.env ?? {}, problems);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(...describeIssue(issue, raw, sources));
  }
  const baseDir = options.baseDir ?? process.cwd();
  const fields = resolvePaths(parsed.success ? wholly(parsed.data) : validFields(raw), baseDir);
  const listen = fields.listen === undefined ? undefined : parseListen(fields.listen);
  const listenName = sources.get('listen') ?? 'listen';
  if (typeof listen === 'string') problems.push(`${listenName}: ${listen}`);
  else if (
    listen !== undefined &&
    fields.allowNonLoopback === false &&
    !isLoopbackHost(listen.host)
  ) {
    problems.push(
      `${listenName}: ${listen.host} is not a loopback address; set allowNonLoopback: true to listen on it`,
    );
  }
  if (fields.auth) problems.push(...authProblems(fields.auth));
  const probeListen =
    fields.probeListen === undefined ? undefined : parseListen(fields.probeListen);
  if (typeof probeListen === 'string') {
    problems.push(`${sources.get('probeListen') ?? 'probeListen'}: ${probeListen}`);
  }
  if (fields.allow !== INVALID) problems.push(...targetProblems(fields.targets, fields.allow));
  if (fields.sinks) problems.push(...sinkProblems(fields.sinks, fields.targets));
  // Proxies one by one, as targets: a wrong one does not hide the others' problems.
  const proxies =
    fields.proxies ??
    (Array.isArray(raw.proxies)
      ? raw.proxies.map((item) => {
          const result = proxySchema.safeParse(item);
          return result.success ? result.data : undefined;
        })
      : undefined);
  if (proxies) {
    problems.push(
      ...proxyProblems(proxies, fields.targets, {
        allowNonLoopback: fields.allowNonLoopback ?? false,
        authDisabled: fields.auth?.disabled === true,
        taken: [listen, probeListen].filter((address) => typeof address === 'object'),
      }),
    );
  }
  const { cache, upstream } = fields;
  const targets = fields.targets.filter((target) => target !== undefined);
  if (cache && upstream && targets.length === fields.targets.length) {
    const capacity = capacityProblem({ cache, upstream, targets });
    if (capacity !== undefined) problems.push(capacity);
  }
  if (
    problems.length > 0 ||
    !parsed.success ||
    typeof listen !== 'object' ||
    typeof probeListen === 'string' ||
    fields.auth === undefined
  ) {
    return { config: undefined, problems, fields };
  }
  const config = {
    ...parsed.data,
    auth: fields.auth,
    sinks: fields.sinks ?? [],
    proxies: fields.proxies ?? [],
    listen,
    probeListen,
    origin,
  };
  return { config, problems, fields };
}

/** `auth.tokenFile`, the sinks' paths and the proxies' `caFile` resolved against `baseDir` (the config file's folder). */
function resolvePaths(fields: ValidFields, baseDir: string): ValidFields {
  const { auth, sinks, proxies } = fields;
  return {
    ...fields,
    ...(auth?.tokenFile !== undefined && {
      auth: { ...auth, tokenFile: resolve(baseDir, auth.tokenFile) },
    }),
    ...(sinks !== undefined && {
      sinks: sinks.map((sink) => ({ ...sink, path: resolve(baseDir, sink.path) })),
    }),
    ...(proxies !== undefined && {
      proxies: proxies.map((proxy) =>
        proxy.caFile === undefined ? proxy : { ...proxy, caFile: resolve(baseDir, proxy.caFile) },
      ),
    }),
  };
}

/**
 * Each proxy: a Redshift Serverless target, a listen address of its own (loopback unless
 * allowNonLoopback), an upstream `host:port`, and TLS off only towards a loopback database.
 */
function proxyProblems(
  proxies: readonly (RawConfig['proxies'][number] | undefined)[],
  targets: readonly (TargetConfig | undefined)[],
  options: { allowNonLoopback: boolean; authDisabled: boolean; taken: readonly ListenAddress[] },
): string[] {
  const problems: string[] = [];
  const taken = new Map(
    options.taken.map((address) => [`${address.host}:${address.port}`, 'listen']),
  );
  proxies.forEach((proxy, index) => {
    if (proxy === undefined) return; // its own problems are the schema's
    const at = `proxies[${index}]`;
    const target = targets.find((candidate) => candidate?.name === proxy.target);
    if (target === undefined) {
      problems.push(`${at}.target: no target ${JSON.stringify(proxy.target)} is configured`);
    } else if (target.source !== 'redshift_serverless') {
      problems.push(
        `${at}.target: ${proxy.target} is a ${target.source} target; a proxy needs a redshift_serverless one`,
      );
    }
    const listen = parseListen(proxy.listen);
    if (typeof listen === 'string') problems.push(`${at}.listen: ${listen}`);
    else {
      if (!options.allowNonLoopback && !isLoopbackHost(listen.host)) {
        problems.push(
          `${at}.listen: ${listen.host} is not a loopback address; set allowNonLoopback: true to listen on it`,
        );
      }
      if (proxy.clientAuth === 'none' && !isLoopbackHost(listen.host)) {
        problems.push(
          `${at}.clientAuth: none is allowed only on a loopback listen address; ${listen.host} is not one`,
        );
      }
      const key = `${listen.host}:${listen.port}`;
      const other = taken.get(key);
      if (listen.port !== 0 && other !== undefined)
        problems.push(`${at}.listen: ${key} is already ${other}`);
      taken.set(key, `${at}.listen`);
    }
    if (proxy.clientAuth === 'token' && options.authDisabled) {
      problems.push(
        `${at}.clientAuth: token needs the daemon's token, and auth.disabled is true; say clientAuth: none to let any local process in`,
      );
    }
    const upstream = parseListen(proxy.upstream);
    if (typeof upstream === 'string') problems.push(`${at}.upstream: ${upstream}`);
    else if (upstream.port === 0) problems.push(`${at}.upstream: needs the database's port`);
    else if (proxy.tls === 'disable' && !isLoopbackHost(upstream.host)) {
      problems.push(`${at}.tls: disable is allowed only for a loopback upstream; use verify-full`);
    }
  });
  return problems;
}

/** Marks a section that is present but wrong (absent `allow` means allow all). */
const INVALID = Symbol('invalid');

/**
 * The fields of a document that are valid on their own (`undefined`: wrong, and reported by
 * the schema); the targets one by one, each in its place.
 */
export interface ValidFields extends Partial<Omit<RawConfig, 'allow' | 'targets'>> {
  readonly allow: RawConfig['allow'] | typeof INVALID;
  readonly targets: readonly (TargetConfig | undefined)[];
}

function wholly(config: RawConfig): ValidFields {
  return { ...config, allow: config.allow };
}

function validFields(raw: Record<string, unknown>): ValidFields {
  const fields: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(schema.shape)) {
    const result = type.safeParse(raw[name]);
    if (result.success) fields[name] = result.data;
  }
  const allow = schema.shape.allow.safeParse(raw.allow);
  const targets = Array.isArray(raw.targets)
    ? raw.targets.map((item) => {
        const result = targetSchema.safeParse(item);
        return result.success ? result.data : undefined;
      })
    : raw.targets === undefined
      ? []
      : [undefined];
  return {
    ...(fields as Partial<RawConfig>),
    allow: allow.success ? allow.data : INVALID,
    targets,
  };
}

function authProblems(auth: RawConfig['auth']): string[] {
  const problems: string[] = [];
  if (auth.disabled && (auth.token !== undefined || auth.tokenFile)) {
    problems.push('auth.disabled: cannot be combined with auth.token or auth.tokenFile');
  }
  if (auth.token !== undefined && auth.tokenFile !== undefined) {
    problems.push('auth.token: give either auth.token or auth.tokenFile, not both');
  }
  return problems;
}

/**
 * Whether the upstream budget can keep a full cache of credentials of the configured default
 * durations fresh (see `refreshCapacity`); requests that ask for shorter ones cost more.
 */
function capacityProblem(
  config: Pick<RawConfig, 'cache' | 'upstream' | 'targets'>,
): string | undefined {
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

/** Duplicate names and targets outside the allow-list, among the targets that are valid. */
function targetProblems(
  targets: readonly (TargetConfig | undefined)[],
  allowed: RawConfig['allow'],
): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const allow = allowList(allowed);
  targets.forEach((target, index) => {
    if (target === undefined) return;
    const first = seen.get(target.name);
    if (first !== undefined) {
      problems.push(
        `targets[${index}].name: ${target.name} is already the name of targets[${first}]`,
      );
    } else {
      seen.set(target.name, index);
    }
    targetResources(target).forEach((resource, at) => {
      const denied = allow.denies(resource);
      if (!denied) return;
      const field = resource.kind === 'location' ? `${denied.field}[${at}]` : denied.field;
      problems.push(`targets[${index}].${field}: not in allow.${denied.list}`);
    });
  });
  return problems;
}

/**
 * Sinks naming no configured target (when every target is valid: a wrong one is reported
 * already), in a format their target's source cannot be written in, or sharing a path.
 */
function sinkProblems(
  sinks: readonly SinkConfig[],
  targets: readonly (TargetConfig | undefined)[],
): string[] {
  const problems: string[] = [];
  const byName = new Map(
    targets.flatMap((target) => (target === undefined ? [] : [[target.name, target] as const])),
  );
  const paths = new Map<string, number>();
  sinks.forEach((sink, index) => {
    const target = byName.get(sink.target);
    if (target === undefined) {
      if (targets.every((each) => each !== undefined)) {
        problems.push(`sinks[${index}].target: no target "${sink.target}" is configured`);
      }
    } else if (!formatsFor(target.source).includes(sink.format)) {
      problems.push(
        `sinks[${index}].format: ${sink.format} does not suit target "${sink.target}" (${target.source}); use ${formatsFor(target.source).join(', ')}`,
      );
    }
    if (sink.format === 'pgpass' && (sink.mode & 0o077) !== 0) {
      problems.push(
        `sinks[${index}].mode: libpq ignores a pgpass file its group or others can read; use "0600" or "0400"`,
      );
    }
    const first = paths.get(sink.path);
    if (first !== undefined) {
      problems.push(`sinks[${index}].path: ${sink.path} is already the path of sinks[${first}]`);
    } else {
      paths.set(sink.path, index);
    }
  });
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A check of what lies outside the configuration (the environment, the file system), given the
 * fields that are valid by themselves; it answers its problems, one `what: rule` line each.
 */
export type OutsideCheck = (fields: ValidFields) => Promise<readonly string[]>;

/**
 * Reads and validates the configuration: the file at `path` (when given) with the environment
 * applied over it, or the environment and defaults alone. `outside` runs on the valid fields
 * even when others are wrong, and its problems are reported with theirs, all at once.
 */
export async function loadConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  outside?: OutsideCheck,
): Promise<Config> {
  const check = async (document: unknown, options: DocumentOptions & { origin: string }) => {
    const { config, problems, fields } = checkDocument(document, { env, ...options });
    if (outside && fields) problems.push(...(await outside(fields)));
    if (config === undefined || problems.length > 0) {
      throw new ConfigError(problems, options.origin);
    }
    return config;
  };
  if (path === undefined) return check({}, { origin: 'defaults and environment' });
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
  return check(document, { origin: path, baseDir: dirname(resolve(path)) });
}

/** The effective duration of a target (or request) of `source` without one. */
export function defaultDuration(config: Pick<Config, 'upstream'>, source: Source): number {
  return source === 'redshift_serverless'
    ? Math.min(config.upstream.durationSeconds, FIELD_RULES.redshiftDuration.range.max)
    : config.upstream.durationSeconds;
}

/**
 * Host header names credential requests may use besides the loopback ones: `allowHosts`, and the
 * listen address when it is one non-loopback address (clients name it in Host).
 */
export function acceptedHosts(
  config: Pick<Config, 'allowHosts' | 'allowNonLoopback' | 'listen'>,
): string[] {
  const { host } = config.listen;
  const named = config.allowNonLoopback && host !== '0.0.0.0' && host !== '::';
  return [...config.allowHosts, ...(named ? [host] : [])];
}
