/**
 * The emulator against a bare `node:http` baseline answering the same bytes: sequential
 * latency over one keep-alive connection (raw HTTP and through the AWS SDK v3 clients), and
 * throughput with 16 requests in flight.
 */
import { Agent } from 'node:http';
import {
  GetTemporaryGlueTableCredentialsCommand,
  LakeFormationClient,
} from '@aws-sdk/client-lakeformation';
import {
  GetCredentialsCommand,
  RedshiftServerlessClient,
} from '@aws-sdk/client-redshift-serverless';
import {
  ACCESS_KEY_ID,
  DB_NAME,
  REDSHIFT_GET_CREDENTIALS_TARGET,
  REGION,
  SECRET_ACCESS_KEY,
  TABLE_ARN,
  WORKGROUP,
  glueTableCredentialsRequest,
  redshiftGetCredentialsRequest,
} from '../lib/aws.js';
import type { CannedResponse } from '../lib/bare-server.js';
import { spawnHost } from '../lib/host.js';
import { type RawRequest, KeepAliveClient, jsonCall } from '../lib/http.js';
import { ms } from '../lib/markdown.js';
import { type Bounds, type CompareOptions, type Operation, compare } from '../lib/measure.js';
import type { LatencyRow, Scenario, ScenarioContext, ScenarioReport } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

/** The requirement checked here: a successful call answered in under this median. */
const TARGET_MEDIAN_MS = 2;
const CONCURRENCY = 16;
const EMULATOR = 'emulator';
const BARE = 'bare node:http';

interface Plan {
  readonly raw: CompareOptions;
  readonly sdk: CompareOptions;
  readonly concurrent: CompareOptions;
}

function plan(quick: boolean): Plan {
  const scale = (bounds: Bounds): Bounds =>
    quick ? { count: Math.ceil(bounds.count / 10), maxMs: bounds.maxMs / 5 } : bounds;
  return {
    raw: {
      warmup: scale({ count: 1_000, maxMs: 1_000 }),
      measure: scale({ count: 10_000, maxMs: 4_000 }),
      rounds: 10,
    },
    sdk: {
      warmup: scale({ count: 500, maxMs: 1_500 }),
      measure: scale({ count: 5_000, maxMs: 4_000 }),
      rounds: 10,
    },
    concurrent: {
      warmup: scale({ count: 2_000, maxMs: 1_000 }),
      measure: scale({ count: 30_000, maxMs: 4_000 }),
      rounds: 5,
      concurrency: CONCURRENCY,
    },
  };
}

interface Call {
  /** Operation name, as counted by the emulator's control API. */
  readonly name: 'GetTemporaryGlueTableCredentials' | 'GetCredentials';
  readonly raw: RawRequest;
  readonly target?: string;
  /** A member every successful answer carries. */
  readonly resultMember: string;
}

const CALLS: readonly Call[] = [
  {
    name: 'GetTemporaryGlueTableCredentials',
    raw: glueTableCredentialsRequest(),
    resultMember: 'AccessKeyId',
  },
  {
    name: 'GetCredentials',
    raw: redshiftGetCredentialsRequest(),
    target: REDSHIFT_GET_CREDENTIALS_TARGET,
    resultMember: 'dbPassword',
  },
];

function urlOf(result: unknown): string {
  if (typeof result === 'object' && result !== null && 'url' in result) {
    const { url } = result;
    if (typeof url === 'string') return url;
  }
  throw new Error(`benchmark host answered without a url: ${JSON.stringify(result)}`);
}

/** Sends `call` to the emulator once and keeps its answer for the baseline to replay. */
async function capture(emulatorUrl: string, call: Call): Promise<CannedResponse> {
  const client = new KeepAliveClient(emulatorUrl);
  try {
    const response = await client.send(call.raw);
    const text = response.body.toString('utf8');
    if (response.status !== 200 || !text.includes(`"${call.resultMember}"`)) {
      throw new Error(`emulator answered ${call.name} with HTTP ${response.status}: ${text}`);
    }
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'x-amzn-requestid']) {
      const value = response.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return {
      method: call.raw.method,
      path: call.raw.path,
      ...(call.target !== undefined && { target: call.target }),
      status: response.status,
      headers,
      bodyBase64: response.body.toString('base64'),
    };
  } finally {
    client.close();
  }
}

/** The emulator's count of calls to `operation` since the last reset. */
async function emulatorCalls(emulatorUrl: string, operation: string): Promise<number> {
  const calls = await jsonCall(emulatorUrl, 'GET', '/_emulator/calls');
  if (typeof calls === 'object' && calls !== null && 'byOperation' in calls) {
    const { byOperation } = calls;
    if (typeof byOperation === 'object' && byOperation !== null && operation in byOperation) {
      const count: unknown = (byOperation as Record<string, unknown>)[operation];
      if (typeof count === 'number') return count;
    }
  }
  throw new Error(`unexpected /_emulator/calls answer: ${JSON.stringify(calls)}`);
}

/** Wraps an operation to count the requests it issued. */
function counted(operation: Operation): { operation: Operation; issued: () => number } {
  let issued = 0;
  return {
    operation: () => {
      issued += 1;
      return operation();
    },
    issued: () => issued,
  };
}

function sdkOperation(call: Call, endpoint: string, agent: Agent): Operation {
  const config = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    maxAttempts: 1,
    requestHandler: { httpAgent: agent },
  };
  if (call.name === 'GetTemporaryGlueTableCredentials') {
    const client = new LakeFormationClient(config);
    const command = new GetTemporaryGlueTableCredentialsCommand({
      TableArn: TABLE_ARN,
      Permissions: ['SELECT'],
      SupportedPermissionTypes: ['COLUMN_PERMISSION'],
      DurationSeconds: 3600,
    });
    return async () => {
      const output = await client.send(command);
      if (output.AccessKeyId === undefined) throw new Error('answer without AccessKeyId');
    };
  }
  const client = new RedshiftServerlessClient(config);
  const command = new GetCredentialsCommand({
    workgroupName: WORKGROUP,
    dbName: DB_NAME,
    durationSeconds: 900,
  });
  return async () => {
    const output = await client.send(command);
    if (output.dbPassword === undefined) throw new Error('answer without dbPassword');
  };
}

interface Measured {
  readonly rows: LatencyRow[];
  /** Problems that make the numbers untrustworthy. */
  readonly problems: string[];
}

/**
 * Measures the emulator and the baseline with the operations `make` builds for each, checks
 * the emulator counted every request, and returns the two rows (emulator first).
 */
async function measurePair(
  emulatorUrl: string,
  bareUrl: string,
  call: Call,
  options: CompareOptions,
  labels: { case: string; emulator: string; bare: string },
  make: (url: string) => { operation: Operation; connections?: () => number; close(): void },
): Promise<Measured> {
  await jsonCall(emulatorUrl, 'POST', '/_emulator/reset');
  const emulator = make(emulatorUrl);
  const bare = make(bareUrl);
  const emulatorOperation = counted(emulator.operation);
  try {
    const [emulatorRun, bareRun] = await compare(
      [
        { label: labels.emulator, operation: emulatorOperation.operation },
        { label: labels.bare, operation: bare.operation },
      ],
      options,
    );
    if (!emulatorRun || !bareRun) throw new Error('compare returned fewer runs than targets');
    const problems: string[] = [];
    const seen = await emulatorCalls(emulatorUrl, call.name);
    if (seen !== emulatorOperation.issued()) {
      problems.push(
        `${labels.case}: the emulator counted ${seen} ${call.name} calls, the client sent ${emulatorOperation.issued()}.`,
      );
    }
    for (const [label, run] of [
      [labels.emulator, emulatorRun],
      [labels.bare, bareRun],
    ] as const) {
      if (run.errors > 0) {
        problems.push(
          `${labels.case} → ${label}: ${run.errors} failed requests (first: ${run.firstError ?? '?'}).`,
        );
      }
    }
    const concurrency = options.concurrency ?? 1;
    const connections = [emulator.connections?.(), bare.connections?.()];
    if (connections.some((n) => n !== undefined && n > concurrency)) {
      problems.push(
        `${labels.case}: expected at most ${concurrency} connection(s) per target, saw ${connections.join(' and ')}.`,
      );
    }
    const baseline = summarize(bareRun);
    return {
      rows: [
        {
          case: labels.case,
          target: labels.emulator,
          concurrency,
          stats: summarize(emulatorRun),
          baseline,
        },
        { case: labels.case, target: labels.bare, concurrency, stats: baseline },
      ],
      problems,
    };
  } finally {
    emulator.close();
    bare.close();
  }
}

function rawClient(maxSockets: number, call: Call) {
  return (url: string) => {
    const client = new KeepAliveClient(url, maxSockets);
    return {
      operation: client.operation(call.raw),
      connections: () => client.connections,
      close: () => client.close(),
    };
  };
}

function sdkClient(call: Call) {
  return (url: string) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    return { operation: sdkOperation(call, url, agent), close: () => agent.destroy() };
  };
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const options = plan(context.quick);
  const host = spawnHost(new URL('../hosts/emulator.ts', import.meta.url));
  try {
    const emulatorUrl = urlOf(await host.call('startEmulator'));
    const canned = [];
    for (const call of CALLS) canned.push(await capture(emulatorUrl, call));
    const bareUrl = urlOf(await host.call('startBare', canned));
    context.progress(`emulator at ${emulatorUrl}, baseline at ${bareUrl}`);

    const raw: LatencyRow[] = [];
    const sdk: LatencyRow[] = [];
    const concurrent: LatencyRow[] = [];
    const problems: string[] = [];
    const collect = (into: LatencyRow[], measured: Measured): void => {
      into.push(...measured.rows);
      problems.push(...measured.problems);
    };

    for (const call of CALLS) {
      context.progress(`raw HTTP, sequential: ${call.name}`);
      collect(
        raw,
        await measurePair(
          emulatorUrl,
          bareUrl,
          call,
          options.raw,
          { case: call.name, emulator: EMULATOR, bare: BARE },
          rawClient(1, call),
        ),
      );
    }
    for (const call of CALLS) {
      context.progress(`AWS SDK v3, sequential: ${call.name}`);
      collect(
        sdk,
        await measurePair(
          emulatorUrl,
          bareUrl,
          call,
          options.sdk,
          { case: call.name, emulator: `SDK → ${EMULATOR}`, bare: `SDK → ${BARE}` },
          sdkClient(call),
        ),
      );
    }
    for (const call of CALLS) {
      context.progress(`raw HTTP, ${CONCURRENCY} in flight: ${call.name}`);
      collect(
        concurrent,
        await measurePair(
          emulatorUrl,
          bareUrl,
          call,
          options.concurrent,
          { case: call.name, emulator: EMULATOR, bare: BARE },
          rawClient(CONCURRENCY, call),
        ),
      );
    }

    return {
      intro: intro(options),
      tables: [
        { heading: 'Sequential latency, raw HTTP, one keep-alive connection', rows: raw },
        {
          heading: 'Sequential latency through the AWS SDK v3 clients (SigV4 signing included)',
          rows: sdk,
        },
        {
          heading: `Concurrent throughput, raw HTTP, ${CONCURRENCY} requests in flight`,
          rows: concurrent,
        },
      ],
      findings: [requirement(raw, sdk), checks(problems)],
      failed: problems.length > 0,
    };
  } finally {
    await host.stop();
  }
}

function describeBounds(options: CompareOptions): string {
  return (
    `warm-up ${options.warmup.count} requests (at most ${options.warmup.maxMs / 1000} s), then up to ` +
    `${options.measure.count} measured requests (at most ${options.measure.maxMs / 1000} s) per target ` +
    `in ${options.rounds} alternating rounds`
  );
}

function intro(options: Plan): string[] {
  return [
    'The emulator (`startEmulator()` from `src/emulator/server.ts`, default settings, signatures ' +
      'not verified) and the baseline, a bare `node:http` server that drains the request and ' +
      "answers the emulator's own captured response bytes (same status, headers and body), run " +
      'together in a child process on 127.0.0.1; the load generator runs in the harness process, ' +
      'so client and server do not share an event loop. Both targets are measured in the same ' +
      'run, taking turns, so their numbers are directly comparable.',
    'Requests: `GetTemporaryGlueTableCredentials` (`POST /GetTemporaryGlueTableCredentials`, ' +
      '`application/json`, one table ARN, `SELECT`) and Redshift Serverless `GetCredentials` ' +
      '(`POST /`, `X-Amz-Target: RedshiftServerless.GetCredentials`, ' +
      '`application/x-amz-json-1.1`), each with a well-formed but unverified SigV4 ' +
      '`Authorization` header. Every emulator answer is a fresh credential.',
    `Bounds — raw HTTP: ${describeBounds(options.raw)}; SDK: ${describeBounds(options.sdk)}; ` +
      `concurrent: ${describeBounds(options.concurrent)}. The SDK rows use ` +
      '`LakeFormationClient` / `RedshiftServerlessClient` with `endpoint` set to the target, ' +
      'placeholder static credentials, `maxAttempts: 1` and a keep-alive agent with one socket.',
  ];
}

function requirement(raw: readonly LatencyRow[], sdk: readonly LatencyRow[]): string {
  const emulatorRows = raw.filter((row) => row.target === EMULATOR);
  const meets = emulatorRows.every((row) => row.stats.p50 < TARGET_MEDIAN_MS);
  const medians = emulatorRows.map((row) => `${row.case} **${ms(row.stats.p50)} ms**`).join(', ');
  const sdkMedians = sdk
    .filter((row) => row.baseline)
    .map((row) => `${row.case} ${ms(row.stats.p50)} ms`)
    .join(', ');
  return (
    `**Requirement: the emulator answers a successful call in under ${TARGET_MEDIAN_MS} ms median ` +
    `on loopback — ${meets ? 'MET' : 'NOT MET'}.** Measured median, raw HTTP over one ` +
    `keep-alive connection: ${medians}. End to end through the AWS SDK (signing, ` +
    `serialization and parsing included): ${sdkMedians}.`
  );
}

function checks(problems: readonly string[]): string {
  if (problems.length === 0) {
    return (
      'Checks: every request succeeded, the emulator counted exactly the calls the harness ' +
      'sent to it, and no target used more connections than allowed (one for sequential rows).'
    );
  }
  return [
    '**Problems (numbers above are not trustworthy):**',
    ...problems.map((p) => `- ${p}`),
  ].join('\n');
}

export const emulatorScenario: Scenario = {
  name: 'emulator',
  title: 'Emulator vs bare `node:http`',
  run,
};
