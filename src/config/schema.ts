/**
 * The configuration's schema: every field, its type, its default and its rule, in zod. What
 * spans fields (listen addresses, the allow-list against targets, the refresh capacity) is
 * checked after it, in `config.ts`; the `CREDCACHE_*` overlay is `environment.ts`.
 */
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

export const DEFAULT_LISTEN = '127.0.0.1:9911';
export const DEFAULT_DURATION_SECONDS = 3600;
export const TARGET_NAME = /^[a-z0-9-]{1,63}$/;

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

export type RawConfig = z.output<typeof schema>;
export type TargetConfig = RawConfig['targets'][number];
