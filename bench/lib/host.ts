/**
 * Servers under test run in a child process (a "host"), so the load generator and the server
 * do not share one event loop. The parent drives the host by a small request/answer protocol
 * over the IPC channel; the host exposes named async methods.
 */
import { type ChildProcess, fork } from 'node:child_process';

/** How long a host method may take (starting a server, …) before the call fails. */
export const HOST_CALL_TIMEOUT_MS = 15_000;

interface CallMessage {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

interface AnswerMessage {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export interface Host {
  call(method: string, params?: unknown): Promise<unknown>;
  /** Asks the host to close its servers and exit; kills it if it does not within a few seconds. */
  stop(): Promise<void>;
}

/**
 * Forks `entry` (a module that calls `serveHost`) with the current process's exec arguments, so
 * a TypeScript entry runs under tsx as the parent does. The child's output goes to stderr.
 */
export function spawnHost(entry: URL): Host {
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 2, 2, 'ipc'] });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      for (const { reject } of pending.values()) {
        reject(new Error(`benchmark host exited (code ${code}, signal ${signal})`));
      }
      pending.clear();
      resolve();
    });
  });
  child.on('message', (message: unknown) => {
    if (!isRecord(message) || typeof message.id !== 'number') return;
    const answer = message as unknown as AnswerMessage;
    const waiter = pending.get(answer.id);
    if (!waiter) return;
    pending.delete(answer.id);
    if (answer.error !== undefined) waiter.reject(new Error(answer.error));
    else waiter.resolve(answer.result);
  });

  return {
    call(method, params) {
      if (exited) return Promise.reject(new Error('benchmark host has exited'));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`host call ${method} took over ${HOST_CALL_TIMEOUT_MS} ms`));
        }, HOST_CALL_TIMEOUT_MS);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        const message: CallMessage = { id, method, params };
        child.send(message);
      });
    },
    async stop() {
      if (exited) return;
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

export type HostMethods = Readonly<Record<string, (params: unknown) => Promise<unknown>>>;

/**
 * The child side: answers calls with `methods`, and when the parent disconnects (or goes away)
 * runs `shutdown` and exits.
 */
export function serveHost(methods: HostMethods, shutdown: () => Promise<void>): void {
  if (!process.send) throw new Error('a benchmark host must be started by spawnHost');
  const send = (answer: AnswerMessage): void => {
    if (process.connected) process.send?.(answer);
  };
  process.on('message', (message: unknown) => {
    if (!isRecord(message) || typeof message.id !== 'number') return;
    const { id, method, params } = message as unknown as CallMessage;
    const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (!handler) {
      send({ id, error: `unknown host method ${method}` });
      return;
    }
    handler(params).then(
      (result) => send({ id, result }),
      (error: unknown) =>
        send({ id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  process.once('disconnect', () => {
    const forceExit = setTimeout(() => process.exit(1), 5_000);
    forceExit.unref();
    shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
