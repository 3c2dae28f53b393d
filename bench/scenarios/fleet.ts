/**
 * The fleet model (issue 8): 1,000 daemons started at the same moment, in virtual time. One
 * `ManualClock` drives 1,000 engines (`createCredentialEngine` each) with in-process fake
 * providers that record the clock time of every upstream call. Every daemon holds the same three
 * target keys and loads them at t = 0, all at the same instant; the clock then runs for six
 * hours. The upstream calls of the whole fleet are counted per second of virtual time, with the
 * default refresh jitter (seeded) and, as the baseline, with the jitter off (`random: () => 0`).
 * A row that misses its target fails the run.
 */
import { type CredentialKey, partitionKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import type {
  DatabaseCredentials,
  IssuedCredentials,
  S3Credentials,
} from '../../src/providers/types.js';
import { type CredentialEngine, createCredentialEngine } from '../../src/refresh/engine.js';
import {
  DEFAULT_FIRST_JITTER_FRACTION,
  DEFAULT_JITTER_FRACTION,
  DEFAULT_MIN_REMAINING_MS,
  DEFAULT_REFRESH_FRACTION,
  refreshAt,
} from '../../src/refresh/policy.js';
import type { Providers } from '../../src/refresh/upstream-load.js';
import { renderTable } from '../lib/markdown.js';
import {
  type Scenario,
  type ScenarioContext,
  type ScenarioReport,
  checksOrProblems,
} from '../lib/report.js';
import { type TargetRow, missedAny, renderTargetTable } from '../lib/targets.js';

// ---------------------------------------------------------------------------------------------
// Targets (issue 8)

/**
 * Peak over mean of the fleet's upstream calls per second, after the first refresh cycle, with
 * the rate taken over one-minute buckets (what `rate(…[1m])` on a dashboard shows).
 */
const TARGET_PEAK_TO_MEAN = 3;
/** Bucket widths (s) at which the rate is reported; the target applies to `TARGET_BUCKET_S`. */
const BUCKETS_S = [1, 10, 60] as const;
const TARGET_BUCKET_S = 60;
/** Seed of the reference fleet with independent, uniformly random call times. */
const REFERENCE_SEED = 0x5eed;

// ---------------------------------------------------------------------------------------------
// Set-up

const START_MS = Date.UTC(2026, 0, 1);
const SECOND_MS = 1_000;
const HOUR_MS = 3_600_000;
/** Seed of the first daemon's jitter; daemon i uses SEED + i. */
const SEED = 0x8f1ee7;

/** Deterministic PRNG in [0, 1) (mulberry32), so a run can be repeated exactly. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Variant {
  readonly label: string;
  /** Lifetime of every credential issued, in ms. */
  readonly lifetimeMs: number;
  /** Redshift Serverless `nextRefreshTime` as a share of the lifetime, when set. */
  readonly nextRefreshFraction?: number;
  readonly keys: readonly CredentialKey[];
  /** How the keys are described in the report. */
  readonly keysLabel: string;
}

const tableArn = (name: string): string =>
  `arn:aws:glue:us-east-1:123456789012:table/sales/${name}`;

const VARIANTS: readonly Variant[] = [
  {
    label: 'Lake Formation-like, 3600 s',
    lifetimeMs: 3_600_000,
    keys: [
      tableKey({
        tableArn: tableArn('orders'),
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 3600,
      }),
      tableKey({
        tableArn: tableArn('customers'),
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 3600,
      }),
      partitionKey({
        tableArn: tableArn('events'),
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 3600,
        partitionValues: ['2026', '01'],
      }),
    ],
    keysLabel: 'two table keys and one partition key',
  },
  {
    label: 'Redshift-like, 900 s, `nextRefreshTime` at 75%',
    lifetimeMs: 900_000,
    nextRefreshFraction: 0.75,
    keys: ['etl', 'reporting', 'adhoc'].map((workgroupName) =>
      redshiftKey({ workgroupName, dbName: 'dev', durationSeconds: 900 }),
    ),
    keysLabel: 'three Redshift Serverless keys (three workgroups)',
  },
];

/** Fake providers on `clock`: record each call's clock time, issue at once. */
function recordingProviders(clock: ManualClock, variant: Variant, calls: number[]): Providers {
  let issued = 0;
  const issue = <C>(credentials: C): IssuedCredentials<C> => {
    const now = clock.now();
    calls.push(now - START_MS);
    return {
      credentials,
      expiration: now + variant.lifetimeMs,
      ...(variant.nextRefreshFraction !== undefined && {
        nextRefreshTime: now + variant.nextRefreshFraction * variant.lifetimeMs,
      }),
    };
  };
  const s3 = async (): Promise<IssuedCredentials<S3Credentials>> =>
    issue({
      accessKeyId: `ASIAFLEET${issued++}`,
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  const redshift = async (): Promise<IssuedCredentials<DatabaseCredentials>> =>
    issue({ dbUser: `IAMR:fleet${issued++}`, dbPassword: 'password' });
  return {
    lakeformation_table: { source: 'lakeformation_table', fetch: s3 },
    lakeformation_partition: { source: 'lakeformation_partition', fetch: s3 },
    redshift_serverless: { source: 'redshift_serverless', fetch: redshift },
    lakeformation_location: { source: 'lakeformation_location', fetch: s3 },
  };
}

/** Lets the promises started by fired timers run to completion (fake providers resolve at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Simulation {
  /** Virtual time of every upstream call in the run, ms since the start, in call order. */
  readonly calls: readonly number[];
  readonly total: number;
  readonly refreshFailures: number;
  /** Cached entries not servable when the clock stopped (should be none). */
  readonly unservable: number;
  readonly events: number;
  readonly wallMs: number;
}

async function simulate(
  variant: Variant,
  daemons: number,
  durationMs: number,
  jitter: boolean,
): Promise<Simulation> {
  const started = performance.now();
  const clock = new ManualClock(START_MS);
  const calls: number[] = [];
  const providers = recordingProviders(clock, variant, calls);
  let refreshFailures = 0;
  const engines: CredentialEngine[] = [];
  try {
    for (let i = 0; i < daemons; i++) {
      engines.push(
        createCredentialEngine({
          clock,
          providers,
          targets: variant.keys,
          random: jitter ? mulberry32(SEED + i) : () => 0,
          on: {
            refresh: (_key, result) => {
              if (result.outcome === 'failure') refreshFailures += 1;
            },
          },
        }),
      );
    }
    // Every daemon starts at the same instant and loads its targets.
    await Promise.all(
      engines.flatMap((engine) => variant.keys.map((key) => engine.cache.get(key))),
    );
    const end = START_MS + durationMs;
    let events = 0;
    for (let next = clock.nextDueAt(); next !== undefined && next < end; next = clock.nextDueAt()) {
      clock.advance(Math.max(0, next - clock.now()));
      await settle();
      events += 1;
    }
    clock.advance(end - clock.now());
    await settle();
    let unservable = 0;
    for (const engine of engines) {
      for (const key of variant.keys) {
        const entry = engine.cache.peek(key);
        if (!entry || !engine.cache.servable(entry)) unservable += 1;
      }
    }
    const inRun = calls.filter((at) => at < durationMs);
    return {
      calls: inRun,
      total: inRun.length,
      refreshFailures,
      unservable,
      events,
      wallMs: performance.now() - started,
    };
  } finally {
    for (const engine of engines) engine.stop();
  }
}

interface WindowStats {
  readonly calls: number;
  readonly seconds: number;
  /** Calls per second over the window. */
  readonly mean: number;
  /** Calls per second in the busiest bucket. */
  readonly peak: number;
  /** Start of the busiest bucket, in seconds since the start. */
  readonly peakSecond: number;
  readonly ratio: number;
}

/**
 * Calls per second over seconds [from, to) of a run: the mean, and the peak rate over buckets
 * of `bucketS` seconds aligned on `from` (a last partial bucket is left out of the peak).
 */
function windowStats(
  calls: readonly number[],
  from: number,
  to: number,
  bucketS: number,
): WindowStats {
  const buckets = new Uint32Array(Math.floor((to - from) / bucketS));
  let inWindow = 0;
  for (const at of calls) {
    const second = at / SECOND_MS;
    if (second < from || second >= to) continue;
    inWindow += 1;
    const bucket = Math.floor((second - from) / bucketS);
    if (bucket < buckets.length) buckets[bucket] = (buckets[bucket] ?? 0) + 1;
  }
  let peakCount = 0;
  let peakBucket = 0;
  buckets.forEach((count, bucket) => {
    if (count > peakCount) {
      peakCount = count;
      peakBucket = bucket;
    }
  });
  const seconds = to - from;
  const mean = inWindow / seconds;
  const peak = peakCount / bucketS;
  return {
    calls: inWindow,
    seconds,
    mean,
    peak,
    peakSecond: from + peakBucket * bucketS,
    ratio: mean > 0 ? peak / mean : Infinity,
  };
}

/**
 * The reference for a window: as many calls as the fleet made in it, each at an independent,
 * uniformly random time (seeded). This is a fleet whose daemons are perfectly out of step; its
 * peak over mean is what counting noise alone gives at a bucket width, the best any jitter can do
 * without the daemons coordinating.
 */
function referenceCalls(count: number, from: number, to: number, seed: number): number[] {
  const random = mulberry32(seed);
  const calls: number[] = [];
  for (let i = 0; i < count; i++) calls.push((from + random() * (to - from)) * SECOND_MS);
  return calls;
}

/** The latest refresh point of a credential issued at t = 0, in whole seconds (jitter off). */
function firstCycleSeconds(variant: Variant): number {
  const at = refreshAt(
    {
      issuedAt: 0,
      expiration: variant.lifetimeMs,
      ...(variant.nextRefreshFraction !== undefined && {
        nextRefreshTime: variant.nextRefreshFraction * variant.lifetimeMs,
      }),
    },
    { random: () => 0 },
  );
  return Math.ceil(at / SECOND_MS);
}

const perSecond = (value: number): string => `${value.toFixed(2)}/s`;
/** A rate that is a whole number at 1 s buckets and fractional at wider ones. */
const rate = (value: number): string =>
  Number.isInteger(value) ? `${value.toLocaleString('en')}/s` : perSecond(value);
const ratio = (value: number): string => (Number.isFinite(value) ? `×${value.toFixed(2)}` : '–');
const clockTime = (second: number): string => {
  const h = Math.floor(second / 3600);
  const m = Math.floor((second % 3600) / 60);
  const s = second % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
};

interface Plan {
  readonly daemons: number;
  readonly durationMs: number;
}

function plan(quick: boolean): Plan {
  return quick
    ? { daemons: 200, durationMs: 3 * HOUR_MS }
    : { daemons: 1_000, durationMs: 6 * HOUR_MS };
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const { daemons, durationMs } = plan(context.quick);
  const hours = durationMs / HOUR_MS;
  const seconds = durationMs / SECOND_MS;
  const rows: TargetRow[] = [];
  const details: string[] = [];
  const problems: string[] = [];
  const windowRows: string[][] = [];

  for (const variant of VARIANTS) {
    const firstCycle = firstCycleSeconds(variant);
    const results: Record<'jitter' | 'none', Simulation> = {
      jitter: await simulate(variant, daemons, durationMs, true),
      none: await simulate(variant, daemons, durationMs, false),
    };
    for (const [mode, sim] of Object.entries(results)) {
      context.progress(
        `${variant.label}, jitter ${mode === 'jitter' ? 'on' : 'off'}: ${sim.total} calls, ` +
          `${sim.events} clock events, ${(sim.wallMs / 1000).toFixed(1)} s`,
      );
      if (sim.refreshFailures > 0) {
        problems.push(`${variant.label}, ${mode}: ${sim.refreshFailures} refreshes failed.`);
      }
      if (sim.unservable > 0) {
        problems.push(
          `${variant.label}, ${mode}: ${sim.unservable} entries not servable when the clock stopped.`,
        );
      }
    }
    const windows = [
      { name: 'overall, t = 0 burst included', from: 0 },
      { name: 't = 0 burst excluded (from 1 s)', from: 1 },
      { name: `after the first refresh cycle (from ${clockTime(firstCycle)})`, from: firstCycle },
      { name: `last hour only (from ${clockTime(seconds - 3600)})`, from: seconds - 3600 },
    ] as const;
    const reference = (from: number): readonly number[] => {
      const count = windowStats(results.jitter.calls, from, seconds, 1).calls;
      return referenceCalls(count, from, seconds, REFERENCE_SEED + from);
    };
    const series = (from: number) =>
      [
        ['on (seeded)', results.jitter.calls],
        ['off (baseline)', results.none.calls],
        ['reference: independent random times', reference(from)],
      ] as const;
    for (const window of windows) {
      for (const [mode, calls] of series(window.from)) {
        const byWidth = BUCKETS_S.map((width) => windowStats(calls, window.from, seconds, width));
        const [one] = byWidth;
        if (!one) throw new Error('no bucket widths');
        windowRows.push([
          variant.label,
          mode,
          window.name,
          one.calls.toLocaleString('en'),
          perSecond(one.mean),
          `${rate(one.peak)} at ${clockTime(one.peakSecond)}`,
          ...byWidth.map((w) => ratio(w.ratio)),
        ]);
      }
    }
    const overall = windowStats(results.jitter.calls, 0, seconds, 1);
    const overallBase = windowStats(results.none.calls, 0, seconds, 1);
    const describeWindow = (w: WindowStats): string =>
      `peak ${rate(w.peak)}, mean ${perSecond(w.mean)}: ${ratio(w.ratio)}`;
    rows.push({
      measure: `${variant.label}: ${daemons.toLocaleString('en')} daemons, ${hours} h, upstream calls in all, t = 0 included (1 s buckets)`,
      result: `${overall.calls.toLocaleString('en')} (${describeWindow(overall)})`,
      baseline: `${overallBase.calls.toLocaleString('en')} (${describeWindow(overallBase)}; jitter off)`,
      target: '–',
      met: undefined,
    });
    const referenceAfter = reference(firstCycle);
    for (const width of BUCKETS_S) {
      const after = windowStats(results.jitter.calls, firstCycle, seconds, width);
      const afterBase = windowStats(results.none.calls, firstCycle, seconds, width);
      const afterReference = windowStats(referenceAfter, firstCycle, seconds, width);
      const held = width === TARGET_BUCKET_S;
      rows.push({
        measure:
          `${variant.label}: peak/mean calls per second after the first refresh cycle (from ` +
          `${clockTime(firstCycle)}), rate over ${width} s buckets`,
        result: describeWindow(after),
        baseline:
          `${ratio(afterBase.ratio)} jitter off; ${ratio(afterReference.ratio)} for ` +
          'independent random call times',
        target: held ? `≤ ${TARGET_PEAK_TO_MEAN}` : '–',
        met: held ? after.ratio <= TARGET_PEAK_TO_MEAN : undefined,
      });
    }
    const perKey = overall.calls / (daemons * variant.keys.length);
    const meanInterval = (firstCycle * (1 - DEFAULT_JITTER_FRACTION / 2)).toFixed(1);
    details.push(
      `**${variant.label}.** Each daemon holds ${variant.keysLabel}, all configured targets; ` +
        `every credential is issued with a ${variant.lifetimeMs / 1000} s lifetime` +
        (variant.nextRefreshFraction === undefined
          ? ''
          : ` and \`nextRefreshTime\` at ${variant.nextRefreshFraction * 100}% of it`) +
        `, so the latest refresh point is ${firstCycle} s after issue` +
        (variant.nextRefreshFraction === undefined
          ? ''
          : ` (half the lifetime comes before \`nextRefreshTime\`, which does not bind)`) +
        ` and, with jitter, an interval is uniform over its last ${DEFAULT_JITTER_FRACTION * 100}%, ` +
        `${meanInterval} s on average. Calls per key over the run: ${perKey.toFixed(2)} on ` +
        `average (the load at t = 0 and the refreshes). Jitter off, every key of every daemon ` +
        `refreshes in the same millisecond, cycle after cycle.`,
    );
  }

  const failed = missedAny(rows) || problems.length > 0;
  return {
    intro: [
      `${daemons.toLocaleString('en')} daemons started at the same moment, in virtual time ` +
        '(issue 8): one `ManualClock` shared by ' +
        `${daemons.toLocaleString('en')} engines (\`createCredentialEngine\` each, in this ` +
        'process), with in-process fake providers that issue at once and record the clock time ' +
        'of every upstream call. Every daemon holds the same three keys, configured as targets ' +
        '(`isTarget`), so they are refreshed whether or not anyone asks; at t = 0 every daemon ' +
        'loads them (`cache.get`) at the same instant. The clock then runs for ' +
        `${hours} hours, moved from one due timer to the next, with the promises of fired ` +
        'timers settled after each step, so every call is recorded at the exact virtual time ' +
        'it was made. The refresh policy is the default ' +
        `(refresh at ${DEFAULT_REFRESH_FRACTION * 100}% of the lifetime, up to ` +
        `${DEFAULT_JITTER_FRACTION * 100}% earlier at random, up to ` +
        `${DEFAULT_FIRST_JITTER_FRACTION * 100}% for the first refresh after a cold load, ` +
        `\`minRemainingMs\` ` +
        `${DEFAULT_MIN_REMAINING_MS / 1000} s); jitter comes from a seeded PRNG (mulberry32, ` +
        'one per daemon) so a run repeats exactly. The baseline runs the same fleet with the ' +
        'jitter off (`random: () => 0`). Each daemon has its own upstream budget with the ' +
        'defaults (8 concurrent calls, 20 per second, burst 20): a daemon never has more than ' +
        'three calls to make at once, so the budget never delays one and does not shape the ' +
        'curve. Housekeeping is not started: it never drops a target, so it makes no upstream ' +
        'call, and 1,000 cron timers every 15 s would only slow the simulation.',
      '**t = 0.** The fleet starts in one instant by construction, so its first loads (one per ' +
        'key per daemon) fall in the first second whatever the policy: no jitter can spread ' +
        'calls made before any credential exists. That burst is reported (overall row) but not ' +
        'held to the target. The target applies from the end of the first refresh cycle (the ' +
        'latest refresh point of a credential issued at t = 0) to the end of the run: by then ' +
        'every daemon has refreshed each key once, with jitter, and the load is the steady ' +
        'state the fleet keeps. Mean = calls in the window / seconds in the window.',
      '**Peak, and the bucket width.** The peak is the largest rate (calls / bucket width) over ' +
        'buckets aligned on the window start, at 1 s, 10 s and 60 s. The target is held at ' +
        `${TARGET_BUCKET_S} s, the rate a dashboard shows (\`rate(…[1m])\`): a fleet of ` +
        `${daemons.toLocaleString('en')} daemons makes a couple of calls per second on average, ` +
        'and at that rate the busiest single second is set by counting noise, not by ' +
        'synchronisation: even daemons whose call times are independent and uniformly random, ' +
        'perfectly out of step, show a 1 s peak several times the mean. That is why every row ' +
        'is shown beside a *reference* made in the same run: as many calls as the fleet made in ' +
        'the window, each at an independent uniformly random time (seeded). The reference is ' +
        'the best any jitter can do without the daemons coordinating; a fleet close to it at ' +
        'every width has no synchronisation left, and jitter off shows what synchronisation ' +
        'looks like.',
    ],
    tables: [],
    findings: [
      renderTargetTable(rows),
      renderTable(
        [
          'Variant',
          'Call times',
          'Window',
          'Calls',
          'Mean',
          'Peak (1 s)',
          ...BUCKETS_S.map((width) => `Peak/mean, ${width} s buckets`),
        ],
        windowRows,
        [
          'left',
          'left',
          'left',
          'right',
          'right',
          'right',
          ...BUCKETS_S.map(() => 'right' as const),
        ],
      ),
      ...details,
      checksOrProblems(
        problems,
        'Checks: no refresh failed; every key of every daemon was servable when the clock stopped.',
      ),
    ],
    failed,
  };
}

export const fleetScenario: Scenario = {
  name: 'fleet',
  title: 'Fleet: 1,000 daemons started together, in virtual time',
  run,
};
