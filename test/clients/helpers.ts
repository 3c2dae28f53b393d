/**
 * Shared helpers of the client suite: running the Debian AWS CLI v2 (`/usr/bin/aws`) and Python
 * botocore (`/usr/bin/python3`) in a clean, controlled environment, running `credcache serve` as
 * a child process, and talking to the emulator's control API.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** The AWS CLI v2 binary under test. Plain `aws` on PATH may be an unrelated v1: never use it. */
export const AWS_CLI = '/usr/bin/aws';

/** How to get the CLI onto a Debian/Ubuntu machine (Debian 12 ships aws-cli 2.9.x). */
const INSTALL_HINT =
  'install it with `apt-get install -y awscli` (Debian 12 "bookworm" ships AWS CLI v2 as /usr/bin/aws)';

/**
 * Throws, with what is missing and how to install it, unless `/usr/bin/aws` is an executable
 * AWS CLI v2. Returns the version line.
 */
export async function requireAwsCliV2(): Promise<string> {
  try {
    await access(AWS_CLI, constants.X_OK);
  } catch (error) {
    throw new Error(
      `The client suite needs the AWS CLI v2 at ${AWS_CLI}, which is missing or not executable: ${INSTALL_HINT}.`,
      { cause: error },
    );
  }
  let result: CliResult;
  try {
    result = await runProcess(AWS_CLI, ['--version'], cleanEnv({}), 30_000);
  } catch (error) {
    throw new Error(`${AWS_CLI} --version could not run (${String(error)}): ${INSTALL_HINT}.`, {
      cause: error,
    });
  }
  const version = `${result.stdout}${result.stderr}`.trim();
  if (result.exitCode !== 0 || !version.startsWith('aws-cli/2.')) {
    throw new Error(
      `The client suite needs the AWS CLI v2 at ${AWS_CLI}, but \`${AWS_CLI} --version\` printed ` +
        `${JSON.stringify(version.slice(0, 200))} (exit ${String(result.exitCode)}): ${INSTALL_HINT}.`,
    );
  }
  return version;
}

/** The Python the client suite drives botocore with (Debian's, where `python3-botocore` lives). */
export const PYTHON = '/usr/bin/python3';

const BOTOCORE_INSTALL_HINT =
  'install it with `apt-get install -y python3-botocore` (Debian 12 "bookworm" ships botocore 1.29.x)';

export interface Botocore {
  /** `botocore.__version__`. */
  readonly version: string;
  /** Whether its container provider reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE at all. */
  readonly readsTokenFile: boolean;
}

/**
 * Throws, with what is missing and how to install it, unless `/usr/bin/python3` imports
 * botocore. Returns its version and whether it knows AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 * (looked up in its source, so the answer does not depend on an attribute name).
 */
export async function requirePythonBotocore(): Promise<Botocore> {
  const script = [
    'import inspect, json, botocore, botocore.credentials',
    'source = inspect.getsource(botocore.credentials)',
    "print(json.dumps({'version': botocore.__version__,",
    "  'readsTokenFile': 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE' in source}))",
  ].join('\n');
  let result: CliResult;
  try {
    result = await runProcess(PYTHON, ['-c', script], cleanEnv({}), 30_000);
  } catch (error) {
    throw new Error(`${PYTHON} could not run (${String(error)}): ${BOTOCORE_INSTALL_HINT}.`, {
      cause: error,
    });
  }
  if (result.exitCode !== 0) {
    throw new Error(
      `The client suite needs Python botocore for ${PYTHON}, but importing it failed ` +
        `(exit ${String(result.exitCode)}: ${result.stderr.trim().split('\n').slice(-1).join('')}): ` +
        `${BOTOCORE_INSTALL_HINT}.`,
    );
  }
  const found = asRecord(JSON.parse(result.stdout) as unknown, 'botocore probe');
  return {
    version: stringField(found, 'version'),
    readsTokenFile: found.readsTokenFile === true,
  };
}

export interface CliResult {
  /** Exit status; 254 = the service answered an error, 252 = bad parameters, 255 = other failure. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the whole invocation, Python start-up included. */
  readonly elapsedMs: number;
}

/**
 * An environment that owes nothing to the caller's: no profiles, config or credential files,
 * no instance metadata, no pager, no proxies; only what is given.
 */
export function cleanEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/bin:/bin',
    HOME: '/nonexistent',
    LC_ALL: 'C.UTF-8',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

export function runProcess(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  options: { readonly cwd?: string } = {},
): Promise<CliResult> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env,
        ...(options.cwd !== undefined && { cwd: options.cwd }),
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const elapsedMs = Date.now() - startedAt;
        if (error === null) {
          resolve({ exitCode: 0, stdout, stderr, elapsedMs });
        } else if (typeof error.code === 'number') {
          resolve({ exitCode: error.code, stdout, stderr, elapsedMs });
        } else if (error.killed === true || error.signal) {
          reject(
            new Error(
              `${file} ${args.join(' ')} was killed (${String(error.signal)}) after ${elapsedMs} ms; stderr: ${stderr.slice(-2000)}`,
            ),
          );
        } else {
          reject(new Error(`could not run ${file}: ${error.message}`));
        }
      },
    );
  });
}

export interface CliCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Placeholder keys: the emulator accepts any access key id unless started with keys. */
export const PLACEHOLDER_CREDENTIALS: CliCredentials = {
  accessKeyId: 'AKIACLIENTSUITE00001',
  secretAccessKey: 'client-suite-placeholder-secret-access-key',
};

export interface RunOptions {
  /** Extra environment variables (for example AWS_MAX_ATTEMPTS, AWS_RETRY_MODE). */
  readonly env?: Readonly<Record<string, string>>;
  /** `--cli-read-timeout` in seconds; default 20. */
  readonly readTimeoutSeconds?: number;
  /** Kills the CLI after this long; default 30 s. */
  readonly killAfterMs?: number;
}

/** The AWS CLI v2 pointed at one endpoint, with one set of credentials. */
export class AwsCli {
  constructor(
    readonly endpointUrl: string,
    readonly credentials: CliCredentials = PLACEHOLDER_CREDENTIALS,
  ) {}

  run(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
    const env = cleanEnv({
      AWS_ACCESS_KEY_ID: this.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.credentials.secretAccessKey,
      ...(this.credentials.sessionToken !== undefined && {
        AWS_SESSION_TOKEN: this.credentials.sessionToken,
      }),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_RETRY_MODE: 'standard',
      AWS_MAX_ATTEMPTS: '3',
      ...options.env,
    });
    const fullArgs = [
      ...args,
      '--endpoint-url',
      this.endpointUrl,
      '--output',
      'json',
      '--cli-connect-timeout',
      '5',
      '--cli-read-timeout',
      String(options.readTimeoutSeconds ?? 20),
    ];
    return runProcess(AWS_CLI, fullArgs, env, options.killAfterMs ?? 30_000);
  }
}

/** A one-line account of an invocation for assertion messages. */
export function explain(result: CliResult): string {
  return `exit ${result.exitCode} after ${result.elapsedMs} ms\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(-2000)}`;
}

/** The JSON a successful invocation printed. */
export function outputOf(result: CliResult): Record<string, unknown> {
  assert.equal(result.exitCode, 0, `the CLI failed: ${explain(result)}`);
  const parsed: unknown = JSON.parse(result.stdout);
  return asRecord(parsed, 'CLI output');
}

export function asRecord(value: unknown, what: string): Record<string, unknown> {
  assert.ok(
    typeof value === 'object' && value !== null && !Array.isArray(value),
    `${what} is not a JSON object: ${JSON.stringify(value)}`,
  );
  return value as Record<string, unknown>;
}

export function stringField(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  assert.equal(typeof value, 'string', `${field} is not a string in ${JSON.stringify(record)}`);
  return value as string;
}

/** A timestamp field as printed by the CLI (ISO 8601 with microseconds), in epoch ms. */
export function timeField(record: Record<string, unknown>, field: string): number {
  const text = stringField(record, field);
  const ms = Date.parse(text);
  assert.ok(Number.isFinite(ms), `${field} ${JSON.stringify(text)} does not parse as a time`);
  return ms;
}

/** Asserts `actualMs` lies within [earliest − slack, latest + slack]. */
export function assertTimeBetween(
  actualMs: number,
  earliestMs: number,
  latestMs: number,
  what: string,
  slackMs = 1000,
): void {
  assert.ok(
    actualMs >= earliestMs - slackMs && actualMs <= latestMs + slackMs,
    `${what} ${new Date(actualMs).toISOString()} is not between ${new Date(earliestMs).toISOString()} and ${new Date(latestMs).toISOString()}`,
  );
}

/** Asserts the CLI reported the service error `name` for `operation` and exited with 254. */
export function assertServiceError(
  result: CliResult,
  name: string,
  operation: string,
  message?: string | RegExp,
): void {
  assert.equal(result.exitCode, 254, `expected exit 254 for ${name}: ${explain(result)}`);
  assert.match(
    result.stderr,
    new RegExp(`An error occurred \\(${name}\\) when calling the ${operation} operation\\b`),
    explain(result),
  );
  if (typeof message === 'string') assert.ok(result.stderr.includes(message), explain(result));
  else if (message !== undefined) assert.match(result.stderr, message, explain(result));
  assert.equal(result.stdout, '', 'nothing is printed on stdout on failure');
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface CallCounts {
  readonly total: number;
  readonly byOperation: Readonly<Record<string, number>>;
}

export interface ControlAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The emulator's control API (`/_emulator/`), over HTTP as any external test would use it. */
export class EmulatorControl {
  constructor(readonly baseUrl: string) {}

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ControlAnswer> {
    const response = await fetch(`${this.baseUrl}/_emulator/${path}`, {
      method,
      ...(method === 'POST' && { headers: { 'content-type': 'application/json' } }),
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }

  private async ok(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const answer = await this.request(method, path, body);
    assert.equal(
      answer.status,
      200,
      `${method} /_emulator/${path}: ${JSON.stringify(answer.body)}`,
    );
    return answer.body;
  }

  async reset(): Promise<void> {
    await this.ok('POST', 'reset');
  }

  async fault(fault: Readonly<Record<string, unknown>>): Promise<void> {
    await this.ok('POST', 'faults', fault);
  }

  async configure(settings: Readonly<Record<string, unknown>>): Promise<void> {
    await this.ok('POST', 'config', settings);
  }

  async calls(): Promise<CallCounts> {
    const body = asRecord(await this.ok('GET', 'calls'), 'calls');
    return {
      total: body.total as number,
      byOperation: asRecord(body.byOperation, 'byOperation') as Record<string, number>,
    };
  }

  /** What the emulator remembers about a credential it issued (AccessKeyId or dbPassword). */
  async credential(id: string): Promise<Record<string, unknown>> {
    return asRecord(await this.ok('GET', `credentials/${encodeURIComponent(id)}`), 'credential');
  }
}

/** `bin/credcache.js`: runs the built code in `dist/`, so `npm run build` must have run. */
const CREDCACHE_BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;
const CREDCACHE_BUILT = new URL('../../dist/cli/cli.js', import.meta.url).pathname;

export interface RunningCredcache {
  /** The temporary directory holding the config file (and the token file, if relative). */
  readonly dir: string;
  /** `http://127.0.0.1:<port>`, from the start-up line's `listen`. */
  readonly url: string;
  readonly port: number;
  /** The in-process emulator, from the start-up line's `upstream.url`. */
  readonly emulatorUrl: string;
  readonly tokenFile: string;
  /** The token file's content, exactly as the daemon wrote it. */
  readonly token: string;
  /** Every JSON line the daemon logged on stdout so far. */
  readonly logs: readonly Record<string, unknown>[];
  /** Sends SIGTERM and resolves with how the process ended: `[exit code, signal]`. */
  stop(): Promise<[number | null, NodeJS.Signals | null]>;
}

/**
 * Runs `credcache serve --config FILE --emulator` as a child process with `config` written to a
 * temporary directory, in an environment with no AWS settings of the caller's, and resolves
 * once it logged "credcache listening". The config must use `auth.tokenFile`.
 */
export async function startCredcache(
  config: string,
  startTimeoutMs = 20_000,
): Promise<RunningCredcache> {
  try {
    await access(CREDCACHE_BUILT);
  } catch (error) {
    throw new Error(`${CREDCACHE_BUILT} is missing: run \`npm run build\` first.`, {
      cause: error,
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'credcache-clients-'));
  const file = join(dir, 'credcache.yaml');
  await writeFile(file, config);
  const child = spawn(process.execPath, [CREDCACHE_BIN, 'serve', '--config', file, '--emulator'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`credcache did not log "credcache listening" in ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      const line = asRecord(JSON.parse(text) as unknown, 'log line');
      logs.push(line);
      if (line.msg === 'credcache listening') {
        clearTimeout(timer);
        resolve(line);
      }
    });
    exited.then(
      ([code, signal]) => {
        clearTimeout(timer);
        reject(
          new Error(
            `credcache exited (${String(code ?? signal)}) before listening: ${stderr.trim()}`,
          ),
        );
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(new Error(`credcache could not start: ${String(error)}`, { cause: error }));
      },
    );
  });
  const line = await started;
  const url = stringField(line, 'listen');
  const auth = asRecord(line.auth, 'auth in the start-up line');
  const tokenFile = stringField(auth, 'tokenFile');
  return {
    dir,
    url,
    port: Number(new URL(url).port),
    emulatorUrl: stringField(asRecord(line.upstream, 'upstream in the start-up line'), 'url'),
    tokenFile,
    token: await readFile(tokenFile, 'utf8'),
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A loopback port free now (for a config file that clients read the address from). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
