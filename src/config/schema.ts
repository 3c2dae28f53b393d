/**
 * The configuration's schema: every field, its type, its default and its rule, in zod. What
 * spans fields (listen addresses, the allow-list against targets, the refresh capacity) is
 * checked after it, in `config.ts`; the `CREDCACHE_*` overlay is `environment.ts`.
 */
import { z } from 'zod';
import { FIELD_RULES, type Problem } from '../providers/rules.js';
import type { CredentialsScope, Source } from '../providers/types.js';

export const DEFAULT_LISTEN = '127.0.0.1:9911';
export const DEFAULT_DURATION_SECONDS = 3600;
export const TARGET_NAME = /^[a-z0-9-]{1,63}$/;
/** `proxies[i].maxConnections` when not set (pgbouncer's default `max_client_conn`). */
export const DEFAULT_PROXY_MAX_CONNECTIONS = 100;

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

/**
 * A request field's rule (`FIELD_RULES`) as a zod check: its problem, word for word, at the
 * field's path (or at `path` under it, for a rule over several fields).
 */
function rule<T>(problem: Problem<T>, path?: PropertyKey[]) {
  return (ctx: z.core.ParsePayload<T>): void => {
    const message = problem(ctx.value);
    if (message !== undefined) {
      // A new path each time: zod prefixes an issue's path in place as it bubbles up.
      ctx.issues.push({
        code: 'custom',
        message,
        input: ctx.value,
        ...(path && { path: [...path] }),
      });
    }
  };
}

const tableArn = text('a Glue table ARN').check(rule(FIELD_RULES.tableArn.problem));

const permissions = z
  .array(text('a Lake Formation permission').check(rule(FIELD_RULES.permission.problem)), {
    error: 'must be a list of permissions',
  })
  .default([]);

const permissionTypes = z
  .array(text('a permission type').check(rule(FIELD_RULES.permissionType.problem)), {
    error: 'must be a list of permission types',
  })
  .min(1, 'must name at least one permission type')
  .default(['COLUMN_PERMISSION']);

const duration = (range: { problem: Problem<number> }) =>
  z.number({ error: 'must be a number of seconds' }).check(rule(range.problem));

const targetName = text('a target name').regex(TARGET_NAME, 'must match [a-z0-9-]{1,63}');

const tableTarget = z.strictObject({
  name: targetName,
  source: z.literal('lakeformation_table'),
  tableArn,
  permissions,
  supportedPermissionTypes: permissionTypes,
  durationSeconds: duration(FIELD_RULES.lakeFormationDuration).optional(),
});

const partitionTarget = tableTarget.extend({
  source: z.literal('lakeformation_partition'),
  values: z
    .array(text('a partition value'), { error: 'must be a list of partition values' })
    .check(rule(FIELD_RULES.partitionValues.problem)),
});

const redshiftTarget = z
  .strictObject({
    name: targetName,
    source: z.literal('redshift_serverless'),
    workgroupName: text().check(rule(FIELD_RULES.workgroupName.problem)).optional(),
    customDomainName: text().check(rule(FIELD_RULES.customDomainName.problem)).optional(),
    dbName: text().check(rule(FIELD_RULES.dbName.problem)).optional(),
    durationSeconds: duration(FIELD_RULES.redshiftDuration).optional(),
  })
  .check(rule(FIELD_RULES.redshiftName.problem, ['workgroupName']));

/** Data locations are kept as written (sorted and de-duplicated only in the key). */
const locationTarget = z.strictObject({
  name: targetName,
  source: z.literal('lakeformation_location'),
  dataLocations: z
    .array(text('an S3 URI').check(rule(FIELD_RULES.s3Uri.problem)), {
      error: 'must be a list of S3 URIs',
    })
    .check(rule(FIELD_RULES.dataLocations.problem)),
  credentialsScope: text('READ or READWRITE')
    .check(rule(FIELD_RULES.credentialsScope.problem))
    .transform((scope) => scope as CredentialsScope)
    .default('READ'),
  durationSeconds: duration(FIELD_RULES.locationDuration).optional(),
});

/** One entry of `targets`. */
export const target = z.discriminatedUnion(
  'source',
  [tableTarget, partitionTarget, redshiftTarget, locationTarget],
  {
    error:
      'must be lakeformation_table, lakeformation_partition, redshift_serverless or lakeformation_location',
  },
);

const patterns = z.array(text('a pattern').min(1, 'must not be empty'), {
  error: 'must be a list of patterns',
});

/**
 * A local PostgreSQL-protocol endpoint for a Redshift Serverless target: clients connect to
 * `listen`, credcache logs in to `upstream` with the target's cached credential.
 */
export const proxy = z.strictObject({
  target: targetName,
  listen: text('host:port'),
  upstream: text('host:port'),
  tls: z
    .enum(['verify-full', 'require', 'disable'], {
      error: 'must be verify-full, require or disable',
    })
    .default('verify-full'),
  /** CAs (PEM) that sign the upstream's certificate; absent: Node's bundled roots. */
  caFile: text('a file path').min(1, 'must not be empty').optional(),
  clientAuth: z.enum(['token', 'none'], { error: 'must be token or none' }).default('token'),
  /**
   * Client connections open at once, each holding one upstream connection; the one beyond is
   * answered 53300 (too_many_connections) and closed. Bounded by default, as pgbouncer's
   * max_client_conn is (100): a sidecar serves one workload's pool, not a fleet, and an unbounded
   * local port would let one runaway client use up the workgroup's connections and this
   * process's file descriptors.
   */
  maxConnections: wholeNumber(1, 10_000).default(DEFAULT_PROXY_MAX_CONNECTIONS),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A file mode written as octal digits, one of `allowed` (without the leading 0): quoted
 * (`"0640"`) or not (YAML reads an unquoted 0640 as the number 640), the digits taken as octal
 * either way.
 */
function octalMode(allowed: readonly string[], fallback: string) {
  const message = `must be ${allowed
    .map((digits) => `0${digits}`)
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1')}`;
  return z
    .union([z.string(), z.number()], { error: message })
    .default(fallback)
    .transform((mode, ctx) => {
      const digits = String(mode).replace(/^0o?/, '');
      if (allowed.includes(digits)) return Number.parseInt(digits, 8);
      ctx.issues.push({ code: 'custom', message, input: mode });
      return z.NEVER;
    });
}

/** The forms a sink writes a credential in (`sinks/formats.ts`). */
export const SINK_FORMATS = ['aws-credentials', 'env', 'json', 'process', 'pgpass'] as const;
export type SinkFormat = (typeof SINK_FORMATS)[number];

/** The sink formats a target of `source` can be written in. */
export function formatsFor(source: Source): readonly SinkFormat[] {
  return source === 'redshift_serverless'
    ? ['env', 'json', 'pgpass']
    : ['aws-credentials', 'env', 'json', 'process'];
}

/**
 * One entry of `sinks`: a file rewritten with the target's credential on every new one. Its mode
 * never lets others read it, nor anyone but the owner write it.
 */
export const sink = z.strictObject({
  target: targetName,
  path: text('a file path').min(1, 'must not be empty'),
  format: z.enum(SINK_FORMATS, { error: `must be one of ${SINK_FORMATS.join(', ')}` }),
  mode: octalMode(['600', '640', '400', '440'], '0600'),
});

const httpUrl = text('a URL').url('must be an http(s) URL');

export const schema = z.strictObject({
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
      tokenFileMode: octalMode(['600', '640'], '0600'),
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
      refreshNowMinIntervalSeconds: seconds(0, 3_600).default(10),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      region: text('an AWS region')
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region')
        .optional(),
      auditContext: text().max(2048, 'must be at most 2048 characters').default('credcache'),
      durationSeconds: duration(FIELD_RULES.lakeFormationDuration).default(
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
      /** S3 URI patterns; every data location a request or target names must match one. */
      locations: patterns.optional(),
    })
    .optional(),
  log: z
    .strictObject({ level: z.enum(LOG_LEVELS, { error: 'not a log level' }).default('info') })
    .prefault({}),
  targets: z.array(target, { error: 'must be a list of targets' }).default([]),
  sinks: z.array(sink, { error: 'must be a list of sinks' }).default([]),
  proxies: z.array(proxy, { error: 'must be a list of proxies' }).default([]),
});

export type RawConfig = z.output<typeof schema>;
export type TargetConfig = RawConfig['targets'][number];
export type SinkConfig = RawConfig['sinks'][number];
export type ProxyConfig = RawConfig['proxies'][number];
