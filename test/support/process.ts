/**
 * The daemon and the emulator as real processes (`bin/credcache.js`, built from dist/), for the
 * tests that need signals, exit codes and the process's own memory: the start-up line read from
 * stdout, every log line kept, the exit awaited from the moment of spawning.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { type Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;
export const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

export type LogLine = Record<string, unknown>;

export interface ProcessHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON line written to stdout so far. */
  readonly logs: LogLine[];
  /** Resolves with [code, signal] once the process has exited. */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Resolves with the first log line whose `msg` is `msg`; rejects if the process exits first. */
  waitFor(msg: string): Promise<LogLine>;
  /** stderr so far. */
  stderr(): string;
}

export interface DaemonProcess extends ProcessHandle {
  /** The start-up line (`msg: credcache listening`). */
  readonly started: LogLine;
  readonly url: string;
  /** The built-in emulator's URL, with `--emulator`. */
  readonly emulatorUrl: string | undefined;
}

/** Writes `text` as credcache.yaml in a new temporary directory. */
export async function writeConfig(text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'credcache-proc-'));
  const file = join(dir, 'credcache.yaml');
  await writeFile(file, text);
  return { dir, file };
}

function launch(args: string[], env: NodeJS.ProcessEnv, json: boolean): ProcessHandle {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not start ${BIN}`);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const logs: LogLine[] = [];
  const waiters: { msg: string; resolve: (line: LogLine) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: LogLine;
    try {
      line = json ? (JSON.parse(text) as LogLine) : { msg: text };
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
  });
  const waitFor = (msg: string) => {
    const seen = logs.find((line) => line.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      waiters.push({ msg, resolve });
      void exited.then(([code]) =>
        reject(new Error(`credcache exited with ${String(code)} before "${msg}": ${stderr}`)),
      );
    });
  };
  return { child, pid, logs, exited, waitFor, stderr: () => stderr };
}

/** Starts `credcache serve ARGS` and resolves once it has logged that it listens. */
export async function serveProcess(
  args: string[],
  env: NodeJS.ProcessEnv = ENV,
): Promise<DaemonProcess> {
  const handle = launch(['serve', ...args], env, true);
  const started = await handle.waitFor('credcache listening');
  const upstream = started.upstream as { kind: string; url?: string };
  return {
    ...handle,
    started,
    url: String(started.listen),
    emulatorUrl: upstream.kind === 'emulator' ? upstream.url : undefined,
  };
}

/** Starts `credcache emulator --port 0` and resolves with its URL once it listens. */
export async function emulatorProcess(
  env: NodeJS.ProcessEnv = ENV,
): Promise<ProcessHandle & { readonly url: string }> {
  const handle = launch(['emulator', '--port', '0'], env, false);
  const line = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const first = handle.logs[0];
      if (first) {
        clearInterval(poll);
        resolve(String(first.msg));
      }
    }, 10);
    void handle.exited.then(([code]) => {
      clearInterval(poll);
      reject(new Error(`emulator exited with ${String(code)}: ${handle.stderr()}`));
    });
  });
  const match = /^emulator listening on (http:\/\/\S+)$/.exec(line);
  if (!match?.[1]) throw new Error(`emulator: unexpected first line ${JSON.stringify(line)}`);
  return { ...handle, url: match[1] };
}

/** Sends `signal` (if still running) and resolves with [code, signal] once it has exited. */
export async function stopProcess(
  handle: ProcessHandle,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<[number | null, NodeJS.Signals | null]> {
  if (handle.child.exitCode === null && handle.child.signalCode === null) handle.child.kill(signal);
  return handle.exited;
}

/** A JSON call to an emulator's control API. */
export async function control(emulatorUrl: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${emulatorUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export interface EmulatorCalls {
  readonly total: number;
  readonly byOperation: Readonly<Record<string, number>>;
}

export const emulatorCalls = (emulatorUrl: string) =>
  control(emulatorUrl, '/_emulator/calls') as Promise<EmulatorCalls>;

/** What became of one HTTP request made with `httpGet`. */
export interface Exchange {
  /** The request's bytes were handed to the kernel (`finish`). */
  written: boolean;
  /** The request went out on a keep-alive connection used before. */
  reusedSocket: boolean;
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  /** The whole body, when the response ended normally. */
  body?: string;
  /** The error code (ECONNREFUSED, ECONNRESET, …) when the request failed. */
  error?: string;
}

/**
 * GET (or POST with `body`) through `node:http` with `agent`, recording what happened rather
 * than throwing: whether the request was written, on which connection, and how it ended.
 * `onWritten` is called when the request's bytes are handed to the kernel.
 */
export function httpRequest(
  url: string,
  options: {
    readonly agent: Agent;
    readonly headers?: Record<string, string>;
    readonly body?: string;
    readonly onWritten?: () => void;
  },
): Promise<Exchange> {
  return new Promise((resolve) => {
    const exchange: Exchange = { written: false, reusedSocket: false };
    const req = request(url, {
      agent: options.agent,
      method: options.body === undefined ? 'GET' : 'POST',
      headers: {
        ...options.headers,
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
      },
    });
    req.on('finish', () => {
      exchange.written = true;
      exchange.reusedSocket = req.reusedSocket;
      options.onWritten?.();
    });
    req.on('response', (res) => {
      exchange.status = res.statusCode;
      exchange.headers = res.headers;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        exchange.body = Buffer.concat(chunks).toString('utf8');
        resolve(exchange);
      });
      res.on('error', (error: NodeJS.ErrnoException) => {
        exchange.error = error.code ?? error.message;
        resolve(exchange);
      });
      // The connection went before the body ended.
      res.on('close', () => {
        if (exchange.body !== undefined || exchange.error !== undefined) return;
        exchange.error = 'INCOMPLETE';
        resolve(exchange);
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      exchange.error = error.code ?? error.message;
      resolve(exchange);
    });
    req.end(options.body);
  });
}
