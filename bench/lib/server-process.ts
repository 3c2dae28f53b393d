/**
 * The programs a benchmark measures from the outside, as child processes: the daemon
 * (`bin/credcache.js`, which runs dist/, so dist/ is rebuilt first when src/ is newer), the
 * emulator alone, and other servers. A process is spawned pinned to a CPU when the machine
 * allows, its JSON stdout lines are awaited by `msg`, and it is stopped with SIGTERM.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type CpuPlan, pinnedCommand } from './proc.js';
import type { ScenarioContext } from './report.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DAEMON_BIN = join(ROOT, 'bin/credcache.js');
/** A process that is not ready (or not stopped) this long after spawn (SIGTERM) fails the run. */
export const PROCESS_TIMEOUT_MS = 15_000;
/** How often `firstOk` polls, in ms. */
export const READY_POLL_MS = 2;

/** Newest modification time of the `.ts` files under `dir`, in ms. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (`tsc -p tsconfig.build.json`) when it is missing or older than src/. */
export function ensureBuilt(context: ScenarioContext): string {
  const cli = join(ROOT, 'dist/cli/cli.js');
  let builtAt: number;
  try {
    builtAt = statSync(cli).mtimeMs;
  } catch {
    builtAt = 0;
  }
  if (builtAt > newestSource(join(ROOT, 'src'))) return 'dist/ was up to date';
  context.progress('building dist/ (tsc -p tsconfig.build.json)');
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: ROOT, stdio: ['ignore', 2, 2] },
  );
  return 'dist/ was built from src/ by this run';
}

/** `abc1234`, with a note when src/ has uncommitted changes. */
export function sourceRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty === '' ? `\`${head}\`` : `\`${head}\` plus uncommitted changes in src/`;
  } catch {
    return 'an unknown revision (no git)';
  }
}

/** The environment a server child gets: no `CREDCACHE_*` overrides, no AWS identity. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('CREDCACHE_') || name.startsWith('AWS_') || name === 'NODE_OPTIONS') {
      continue;
    }
    env[name] = value;
  }
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export interface ServerProcess {
  readonly pid: number;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** Resolves with the first JSON line on stdout whose `msg` is `msg`, and when it came. */
  line(msg: string): Promise<{ line: Record<string, unknown>; at: number }>;
  /** Resolves with the first stdout line (JSON or not) that starts with `prefix`. */
  text(prefix: string): Promise<string>;
  /** SIGTERM, then the exit; SIGKILL if it takes over `PROCESS_TIMEOUT_MS`. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly exited: boolean;
  stderr(): string;
}

interface Seen {
  readonly text: string;
  /** The line parsed, when it is a JSON object. */
  readonly line: Record<string, unknown> | undefined;
  readonly at: number;
}

/** Spawns `node ARGS` pinned to `cpu` (the server's CPU unless told otherwise). */
export function startProcess(
  cpus: CpuPlan,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  cpu = cpus.server,
): ServerProcess {
  const { command, args: argv } = pinnedCommand(cpus, cpu, process.execPath, args);
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(command, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${args.join(' ')}`);
  const lines: Seen[] = [];
  const waiters: { match: (seen: Seen) => boolean; resolve: (seen: Seen) => void }[] = [];
  let stderr = '';
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += chunk.toString('utf8');
  });
  if (!child.stdout) throw new Error('no stdout pipe');
  createInterface({ input: child.stdout }).on('line', (text) => {
    const at = performance.now();
    let line: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) line = parsed as Record<string, unknown>;
    } catch {
      line = undefined;
    }
    const seen = { text, line, at };
    lines.push(seen);
    for (const waiter of waiters) if (waiter.match(seen)) waiter.resolve(seen);
  });
  const waitFor = (what: string, match: (seen: Seen) => boolean): Promise<Seen> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${what} line within ${PROCESS_TIMEOUT_MS} ms: ${stderr}`)),
        PROCESS_TIMEOUT_MS,
      );
      waiters.push({
        match,
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry);
        },
      });
      void exit.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code ?? signal}) before ${what}: ${stderr.slice(0, 500)}`));
      });
    });
  };
  return {
    pid,
    spawnedAt,
    async line(msg) {
      const seen = await waitFor(`"${msg}"`, (entry) => entry.line?.msg === msg);
      if (!seen.line) throw new Error(`"${msg}" line is not JSON`);
      return { line: seen.line, at: seen.at };
    },
    async text(prefix) {
      return (await waitFor(`"${prefix}…"`, (entry) => entry.text.startsWith(prefix))).text;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
    get exited() {
      return exited;
    },
    stderr: () => stderr,
  };
}

/** Placeholder AWS identity for a daemon whose upstream is the emulator (which accepts any key). */
export const PLACEHOLDER_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  AWS_REGION: 'us-east-1',
} as const;

/**
 * `credcache emulator --port 0` in its own process, pinned to `cpu` (by default the load
 * generator's CPU, so a daemon under test keeps its core); resolves once it listens.
 */
export async function startEmulatorProcess(
  cpus: CpuPlan,
  cwd: string,
  cpu = cpus.client,
): Promise<{ process: ServerProcess; url: string }> {
  const emulator = startProcess(
    cpus,
    [DAEMON_BIN, 'emulator', '--port', '0'],
    childEnv(),
    cwd,
    cpu,
  );
  const prefix = 'emulator listening on ';
  const url = (await emulator.text(prefix)).slice(prefix.length).trim();
  return { process: emulator, url };
}

export async function listenUrl(server: ServerProcess, msg: string): Promise<string> {
  const { line } = await server.line(msg);
  if (typeof line.listen !== 'string') throw new Error(`"${msg}" line without listen`);
  return line.listen;
}

/** Resolves with `performance.now()` of the first 200 from `GET path`, polling every few ms. */
export async function firstOk(port: number, path: string, server: ServerProcess): Promise<number> {
  const deadline = performance.now() + PROCESS_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (server.exited) throw new Error(`exited before answering ${path}: ${server.stderr()}`);
    const status = await new Promise<number>((resolve) => {
      const request = get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      });
      request.setTimeout(1_000, () => request.destroy());
      request.once('error', () => resolve(0));
    });
    if (status === 200) return performance.now();
    await sleep(READY_POLL_MS);
  }
  throw new Error(`no 200 from ${path} within ${PROCESS_TIMEOUT_MS} ms`);
}
