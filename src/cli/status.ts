/**
 * `credcache status`: asks the running daemon (found as `credcache get` finds it) for
 * `GET /v1/status` and prints what an operator reads at a glance — one row per target with its
 * state, time left, next refresh, failures and last error — or, with `--json`, the body as it
 * came, for scripts. The state is coloured (green ready, red failing, yellow pending) only when
 * stdout is a terminal and `NO_COLOR` is unset or empty.
 *
 * Exit codes, as `vault status` has them (0 unsealed, 2 sealed, 1 error): 0 when the daemon is
 * ready, 2 when it answers but is not ready, 1 when it cannot be asked (not running, wrong token,
 * a configuration that does not load).
 */
import { CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/config.js';
import type { DaemonStatus, TargetStateName } from '../daemon/status.js';
import type { CliIo } from './cli.js';
import { askDaemon } from './client.js';

/** Exit code when the daemon answers but is not ready (as `vault status` when sealed). */
export const NOT_READY_EXIT_CODE = 2;

export interface StatusOptions {
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
}

/** Whether output may be coloured: stdout is a terminal and `NO_COLOR` is unset or empty. */
export function colourWanted(
  stdout: { readonly isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return stdout.isTTY === true && !env.NO_COLOR;
}

const COLOURS: Readonly<Record<TargetStateName, string>> = {
  ready: '\u001b[32m',
  failing: '\u001b[31m',
  pending: '\u001b[33m',
};
const RESET = '\u001b[0m';

/** Seconds as an operator reads them: `42s`, `12m 5s`, `1h 02m`; `-` for none. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** The status as lines of text: a summary line, then a table of the targets. */
export function statusLines(status: DaemonStatus, colour: boolean): string[] {
  const bySource = Object.entries(status.cache.bySource)
    .map(([source, count]) => `${source} ${count}`)
    .join(', ');
  const lines = [
    `credcache ${status.version}: ${status.ready ? 'ready' : 'NOT READY'}; cache: ${status.cache.entries} entries (${bySource})`,
  ];
  if (status.targets.length === 0) return [...lines, 'no targets configured'];
  const header = ['TARGET', 'SOURCE', 'STATE', 'LEFT', 'NEXT REFRESH', 'FAILURES', 'LAST ERROR'];
  const rows = status.targets.map((target) => [
    target.name,
    target.source,
    target.state,
    duration(target.remainingSeconds),
    target.nextRefreshSeconds === 0 ? 'now' : duration(target.nextRefreshSeconds),
    String(target.consecutiveFailures),
    target.lastError ? `${target.lastError.code}: ${target.lastError.message}` : '-',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[], state?: TargetStateName) =>
    cells
      .map((cell, column) => {
        const padded = column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
        return column === 2 && state && colour ? `${COLOURS[state]}${padded}${RESET}` : padded;
      })
      .join('  ')
      .trimEnd();
  lines.push(line(header));
  status.targets.forEach((target, index) => lines.push(line(rows[index] ?? [], target.state)));
  return lines;
}

/** `credcache status`: prints the daemon's status; rejects (exit 2) when it is not ready. */
export async function status(
  options: StatusOptions,
  io: CliIo,
  colour = colourWanted(),
): Promise<void> {
  // Exit 2 means "not ready" here: a configuration that cannot be read is an error like any other (1).
  const config = await loadConfig(options.config ?? process.env.CREDCACHE_CONFIG).catch(
    (error: unknown) => {
      if (!(error instanceof ConfigError)) throw error;
      throw new Error(`invalid configuration: ${error.message}`, { cause: error });
    },
  );
  const body = (await askDaemon(config, '/v1/status')) as DaemonStatus;
  if (options.json) io.stdout(JSON.stringify(body, null, 2));
  else for (const line of statusLines(body, colour)) io.stdout(line);
  if (!body.ready) {
    throw new CommanderError(NOT_READY_EXIT_CODE, 'credcache.notReady', 'the daemon is not ready');
  }
}
