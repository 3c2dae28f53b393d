/**
 * `wrk` (the C load generator, Debian package `wrk`) as a benchmark's load generator: it does
 * not run in Node, so it does not saturate before a Node server does and compress the ratio of
 * two servers toward 1. One run: `wrk -t THREADS -c CONNECTIONS -d SECONDS --latency -s SCRIPT
 * URL`, pinned with `taskset -c` to the CPU the server is not pinned to, with a generated Lua
 * script that sets the request's headers (the same ones for every server: `Host`,
 * `Authorization`), counts the answers whose status is not 2xx, and prints one machine-readable
 * JSON line from `done()`: requests, duration, errors, latency percentiles and wrk's own CPU time.
 *
 * `ensureWrk` is the set-up: it finds `wrk`, installs it with apt-get when it is missing and
 * that is possible, and otherwise throws one line saying how to install it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type CpuPlan, pinnedCommand } from './proc.js';

/** An error whose message is the whole story (no stack needed): a missing tool, say. */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export interface WrkParams {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Path and query. */
  readonly path: string;
  /** Request headers besides the ones wrk writes itself (none but `Host`, which is set here). */
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationMs: number;
  /** wrk threads (event loops); 1 by default. */
  readonly threads?: number;
  /** Seconds before wrk counts a request as timed out; 5 by default. */
  readonly timeoutS?: number;
}

export interface WrkResult {
  /** Answers read, whatever their status. */
  readonly requests: number;
  /** Answers whose status was 2xx. */
  readonly ok: number;
  /** Answers whose status was not 2xx, and the first such status. */
  readonly nonOk: number;
  readonly firstNonOkStatus?: number;
  /** Socket errors: connect, read, write, timeout (wrk's own counts). */
  readonly socketErrors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly timeout: number;
  };
  /** wrk's measured duration (first connect to stop), in ms. */
  readonly durationMs: number;
  /** Bytes read (heads and bodies). */
  readonly bytes: number;
  /** Latency from wrk's histogram (µs resolution), in ms. */
  readonly latencyMs: {
    readonly min: number;
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /** user + system time of the wrk process, all threads, in ms (its own `getrusage`). */
  readonly cpuMs: number;
}

// ---------------------------------------------------------------------------------------------
// Set-up

const WRK_ENV = 'BENCH_WRK';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `wrk` from `$BENCH_WRK`, else the first `wrk` on `$PATH`; undefined when there is none. */
function findWrk(): string | undefined {
  const configured = process.env[WRK_ENV];
  if (configured) return configured;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, 'wrk'))) return join(dir, 'wrk');
  }
  return undefined;
}

const HOW_TO_INSTALL =
  'wrk, the load generator of the daemon bench, is missing: install it with ' +
  '`sudo apt-get install -y wrk` (Debian/Ubuntu; elsewhere build https://github.com/wg/wrk) ' +
  `or name it in ${WRK_ENV}=/path/to/wrk, then run the bench again`;

/**
 * The path of `wrk`. When it is missing and this process runs as root on a machine with
 * apt-get (CI, a container), installs the Debian package `wrk` first, as `.ci/run` installs its
 * clients; otherwise throws a `SetupError` saying how to install it. Never skips.
 */
export function ensureWrk(progress: (message: string) => void): string {
  const found = findWrk();
  if (found !== undefined) {
    if (!executable(found)) {
      throw new SetupError(`${WRK_ENV}=${found} is not an executable file; ${HOW_TO_INSTALL}`);
    }
    return found;
  }
  if (process.getuid?.() === 0 && executable('/usr/bin/apt-get')) {
    progress('wrk is missing: installing the Debian package wrk (apt-get install -y wrk)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 2] });
      execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], {
        env,
        stdio: ['ignore', 'ignore', 2],
      });
    } catch (error) {
      throw new SetupError(
        `apt-get install -y wrk failed (${error instanceof Error ? error.message : String(error)}); ${HOW_TO_INSTALL}`,
      );
    }
    const installed = findWrk();
    if (installed !== undefined) return installed;
  }
  throw new SetupError(HOW_TO_INSTALL);
}

// ---------------------------------------------------------------------------------------------
// The Lua script

/** A Lua string literal (long brackets cannot hold every byte; escape instead). */
const luaString = (text: string): string =>
  `"${[...Buffer.from(text, 'utf8')]
    .map((byte) =>
      byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\${byte}`,
    )
    .join('')}"`;

/** Marker of the JSON line `done()` prints, after wrk's own text. */
const RESULT_MARKER = 'WRK_RESULT ';

/**
 * The script: GET `path` with `Host` (the URL's `host:port`, as wrk would send it, but written
 * here so that every server is sent the same header list) and the given headers; counts non-2xx
 * answers per thread; `done()` prints the result as JSON on one line.
 */
export function wrkScript(params: WrkParams): string {
  const host = new URL(params.url).host;
  const headers = { Host: host, ...params.headers };
  const headerLines = Object.entries(headers)
    .map(([name, value]) => `wrk.headers[${luaString(name)}] = ${luaString(value)}`)
    .join('\n');
  return `-- Generated by bench/lib/wrk.ts
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
typedef struct { bench_timeval ru_utime; bench_timeval ru_stime; long ru_rest[14]; } bench_rusage;
int getrusage(int who, bench_rusage *usage);
]]

wrk.method = "GET"
wrk.path = ${luaString(params.path)}
wrk.body = nil
${headerLines}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non_ok = 0
  first_non_ok = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_ok = non_ok + 1
    if first_non_ok == 0 then first_non_ok = status end
  end
end

function done(summary, latency, requests)
  local non_ok_total, first = 0, 0
  for _, thread in ipairs(threads) do
    non_ok_total = non_ok_total + thread:get("non_ok")
    local status = thread:get("first_non_ok")
    if first == 0 then first = status end
  end
  local usage = ffi.new("bench_rusage")
  ffi.C.getrusage(0, usage)
  local cpu_us = tonumber(usage.ru_utime.tv_sec) * 1000000 + tonumber(usage.ru_utime.tv_usec)
    + tonumber(usage.ru_stime.tv_sec) * 1000000 + tonumber(usage.ru_stime.tv_usec)
  local e = summary.errors
  io.write(string.format(
    '${RESULT_MARKER}{"requests":%d,"durationUs":%d,"bytes":%d,"nonOk":%d,"firstNonOk":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"minUs":%d,"meanUs":%.3f,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"cpuUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, non_ok_total, first,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, cpu_us))
end
`;
}

// ---------------------------------------------------------------------------------------------
// Output

const numberField = (record: Record<string, unknown>, name: string): number => {
  const value = record[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`wrk result without a number "${name}": ${JSON.stringify(record)}`);
  }
  return value;
};

/** The result line of `wrkScript`'s `done()` in wrk's stdout. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((text) => text.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout.slice(0, 2000)}`);
  const parsed: unknown = JSON.parse(line.slice(RESULT_MARKER.length));
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`wrk result: ${line}`);
  const record = parsed as Record<string, unknown>;
  const n = (name: string) => numberField(record, name);
  const requests = n('requests');
  const nonOk = n('nonOk');
  const ms = (name: string) => n(name) / 1000;
  return {
    requests,
    ok: requests - nonOk,
    nonOk,
    ...(n('firstNonOk') !== 0 && { firstNonOkStatus: n('firstNonOk') }),
    socketErrors: {
      connect: n('connect'),
      read: n('read'),
      write: n('write'),
      timeout: n('timeout'),
    },
    durationMs: ms('durationUs'),
    bytes: n('bytes'),
    latencyMs: {
      min: ms('minUs'),
      mean: ms('meanUs'),
      p50: ms('p50Us'),
      p90: ms('p90Us'),
      p99: ms('p99Us'),
      max: ms('maxUs'),
    },
    cpuMs: ms('cpuUs'),
  };
}

// ---------------------------------------------------------------------------------------------
// A run

/**
 * Runs wrk once against `params.url + params.path`, on the load generator's CPU (`cpus.client`,
 * through `taskset -c`, every thread) when the machine allows pinning; resolves with its result.
 */
export async function runWrk(wrk: string, cpus: CpuPlan, params: WrkParams): Promise<WrkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'credcache-wrk-'));
  try {
    const script = join(dir, 'bench.lua');
    await writeFile(script, wrkScript(params));
    const seconds = Math.max(1, Math.round(params.durationMs / 1000));
    const { command, args } = pinnedCommand(cpus, cpus.client, wrk, [
      '-t',
      String(params.threads ?? 1),
      '-c',
      String(params.connections),
      '-d',
      `${seconds}s`,
      '--timeout',
      `${params.timeoutS ?? 5}s`,
      '--latency',
      '-s',
      script,
      `${params.url}${params.path}`,
    ]);
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
      child.once('error', reject);
      child.once('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    });
    if (code !== 0) throw new Error(`wrk exited with ${code ?? 'a signal'}: ${stderr || stdout}`);
    return parseWrkOutput(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
