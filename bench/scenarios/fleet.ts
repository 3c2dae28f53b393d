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
  DEFAULT_JITTER_FRACTION,
  DEFAULT_MIN_REMAINING_MS,
  DEFAULT_REFRESH_FRACTION,
  refreshAt,
} from '../../src/refresh/policy.js';
import type { Providers } from '../../src/refresh/upstream-load.js';
import { renderTable } from '../lib/markdown.js';
import type { Scenario, ScenarioContext, ScenarioReport } from '../lib/report.js';
import { type TargetRow, missedAny, renderTargetTable } from '../lib/targets.js';

// ---------------------------------------------------------------------------------------------
// Targets (issue 8)

/** Peak calls per second (1 s buckets) over the mean, after the first refresh cycle. */
const TARGET_PEAK_TO_MEAN = 3;

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
  };
}

/** Lets the promises started by fired timers run to completion (fake providers resolve at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Simulation {
  /** Upstream calls per second of virtual time, index = second since the start. */
  readonly perSecond: Uint32Array;
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
          isTarget: () => true,
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
    const perSecond = new Uint32Array(Math.ceil(durationMs / SECOND_MS));
    let total = 0;
    for (const at of calls) {
      if (at >= durationMs) continue;
      const second = Math.floor(at / SECOND_MS);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
      total += 1;
    }
    return {
      perSecond,
      total,
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
  readonly mean: number;
  readonly peak: number;
  readonly peakSecond: number;
  readonly ratio: number;
}

/** Calls, mean and peak per second over seconds [from, to) of a simulation. */
function windowStats(perSecond: Uint32Array, from: number, to: number): WindowStats {
  let calls = 0;
  let peak = 0;
  let peakSecond = from;
  for (let s = from; s < to; s++) {
    const n = perSecond[s] ?? 0;
    calls += n;
    if (n > peak) {
      peak = n;
      peakSecond = s;
    }
  }
  const seconds = to - from;
  const mean = calls / seconds;
  return { calls, seconds, mean, peak, peakSecond, ratio: mean > 0 ? peak / mean : Infinity };
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
    const stats = (sim: Simulation, from: number): WindowStats =>
      windowStats(sim.perSecond, from, seconds);
    for (const window of windows) {
      for (const [mode, sim] of [
        ['on (seeded)', results.jitter],
        ['off (baseline)', results.none],
      ] as const) {
        const w = stats(sim, window.from);
        windowRows.push([
          variant.label,
          mode,
          window.name,
          w.calls.toLocaleString('en'),
          perSecond(w.mean),
          `${w.peak.toLocaleString('en')}/s at ${clockTime(w.peakSecond)}`,
          ratio(w.ratio),
        ]);
      }
    }
    const overall = stats(results.jitter, 0);
    const overallBase = stats(results.none, 0);
    const after = stats(results.jitter, firstCycle);
    const afterBase = stats(results.none, firstCycle);
    const describeWindow = (w: WindowStats): string =>
      `peak ${w.peak}/s, mean ${perSecond(w.mean)}: ${ratio(w.ratio)}`;
    rows.push({
      measure: `${variant.label}: ${daemons.toLocaleString('en')} daemons, ${hours} h, upstream calls in all, t = 0 included`,
      result: `${overall.calls.toLocaleString('en')} (${describeWindow(overall)})`,
      baseline: `${overallBase.calls.toLocaleString('en')} (${describeWindow(overallBase)}; jitter off)`,
      target: '–',
      met: undefined,
    });
    rows.push({
      measure: `${variant.label}: peak/mean calls per second after the first refresh cycle (from ${clockTime(firstCycle)})`,
      result: describeWindow(after),
      baseline: `${describeWindow(afterBase)} (jitter off)`,
      target: `≤ ${TARGET_PEAK_TO_MEAN}`,
      met: after.ratio <= TARGET_PEAK_TO_MEAN,
    });
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
        `${DEFAULT_JITTER_FRACTION * 100}% earlier at random, \`minRemainingMs\` ` +
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
        'state the fleet keeps. Mean = calls in the window / seconds in the window; peak = the ' +
        'largest count in one second of virtual time (1 s buckets aligned on the start). The ' +
        'last-hour window is reported only, to show how far the fleet has spread by the end.',
    ],
    tables: [],
    findings: [
      renderTargetTable(rows),
      renderTable(
        ['Variant', 'Jitter', 'Window', 'Calls', 'Mean', 'Peak (1 s)', 'Peak/mean'],
        windowRows,
        ['left', 'left', 'left', 'right', 'right', 'right', 'right'],
      ),
      ...details,
      problems.length === 0
        ? 'Checks: no refresh failed; every key of every daemon was servable when the clock stopped.'
        : ['**Problems:**', ...problems.map((p) => `- ${p}`)].join('\n'),
    ],
    failed,
  };
}

export const fleetScenario: Scenario = {
  name: 'fleet',
  title: 'Fleet: 1,000 daemons started together, in virtual time',
  run,
};
