/**
 * Runs one exported async function of a module in a fresh child process, with extra Node flags
 * (e.g. `--expose-gc`, so a heap measurement can collect garbage, and starts from a heap that
 * holds nothing of the harness), and returns what the function returned. The child runs under
 * the parent's exec arguments (tsx's loader), so the module may be TypeScript.
 */
import { fork } from 'node:child_process';

/** What the parent sends the child (`child-entry.ts`). */
export interface ChildCall {
  readonly module: string;
  readonly exportName: string;
  readonly params: unknown;
}

/** What the child answers: the function's result, or its failure. */
export interface ChildAnswer {
  readonly result?: unknown;
  readonly error?: string;
}

export interface ChildCallOptions {
  /** Node flags added to the parent's exec arguments. */
  readonly nodeFlags?: readonly string[];
  /** The child is killed, and the call fails, after this long. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Calls `module`'s export `exportName` with `params` (both must survive a JSON round trip) in a
 * child process and resolves with its result. The child's output goes to stderr.
 */
export function callInChild(
  module: URL,
  exportName: string,
  params: unknown,
  options: ChildCallOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child = fork(new URL('./child-entry.ts', import.meta.url), [], {
    execArgv: [...process.execArgv, ...(options.nodeFlags ?? [])],
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(new Error(`${exportName} in a child took over ${timeoutMs} ms`)));
    }, timeoutMs);
    child.on('message', (message: unknown) => {
      if (!isRecord(message)) return;
      const answer = message as ChildAnswer;
      settle(() => {
        if (answer.error !== undefined) reject(new Error(`${exportName}: ${answer.error}`));
        else resolve(answer.result);
      });
      if (child.connected) child.disconnect();
    });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, signal) =>
      settle(() =>
        reject(new Error(`${exportName}: child exited (code ${code}, signal ${signal})`)),
      ),
    );
    const call: ChildCall = { module: module.href, exportName, params };
    child.send(call);
  });
}
