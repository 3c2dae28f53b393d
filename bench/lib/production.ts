/**
 * The daemon in its production shape, for benchmarks that measure it from the outside: the
 * emulator in a process of its own (`credcache emulator`, as AWS is elsewhere), the daemon
 * (`credcache serve --config`, no `--emulator`) pointed at it through the configured endpoints
 * with placeholder AWS credentials in its environment, a token file, and targets made up to a
 * count. Nothing of the emulator is loaded in the daemon's process, so its memory is the
 * daemon's own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonCall } from './http.js';
import { type CpuPlan, processStatusBytes } from './proc.js';
import {
  DAEMON_BIN,
  PLACEHOLDER_AWS_ENV,
  type ServerProcess,
  childEnv,
  startProcess,
} from './server-process.js';

/** A table ARN of the bench's made-up catalog. */
export const benchTableArn = (name: string): string =>
  `arn:aws:glue:us-east-1:123456789012:table/bench/${name}`;

/**
 * `count` targets in YAML: of every ten, six tables, three partitions and one Redshift
 * Serverless workgroup (five targets: three tables, one partition, one workgroup).
 */
export function targetsYaml(count: number): string {
  if (count === 0) return 'targets: []\n';
  const lines = ['targets:'];
  for (let i = 0; i < count; i++) {
    const name = `t${String(i).padStart(3, '0')}`;
    const kind = count === 5 ? [0, 0, 0, 6, 9][i] : i % 10;
    if (kind === undefined || kind < 6) {
      lines.push(
        `  - name: ${name}`,
        '    source: lakeformation_table',
        `    tableArn: ${benchTableArn(name)}`,
        '    permissions: [SELECT]',
      );
    } else if (kind < 9) {
      lines.push(
        `  - name: ${name}`,
        '    source: lakeformation_partition',
        `    tableArn: ${benchTableArn(name)}`,
        '    permissions: [SELECT]',
        `    values: ['2026', '${String((i % 12) + 1).padStart(2, '0')}']`,
      );
    } else {
      lines.push(
        `  - name: ${name}`,
        '    source: redshift_serverless',
        `    workgroupName: wg-${name}`,
        '    dbName: dev',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface DaemonSetup {
  readonly port: number;
  readonly emulatorUrl: string;
  /** How many generated targets (`targetsYaml`), or the YAML of the targets and what follows. */
  readonly targets: number | string;
  /** Extra YAML lines under `cache:` and `upstream:`; the defaults otherwise. */
  readonly cache?: readonly string[];
  readonly upstream?: readonly string[];
}

export function configYaml(setup: DaemonSetup): string {
  const indent = (lines: readonly string[] = []) => lines.map((line) => `  ${line}\n`).join('');
  return (
    '# Written by bench/lib/production.ts\n' +
    `listen: 127.0.0.1:${setup.port}\n` +
    'auth:\n  tokenFile: token\n' +
    (setup.cache ? `cache:\n${indent(setup.cache)}` : '') +
    'upstream:\n' +
    `  lakeFormationEndpoint: ${setup.emulatorUrl}\n` +
    `  redshiftServerlessEndpoint: ${setup.emulatorUrl}\n` +
    indent(setup.upstream) +
    (typeof setup.targets === 'string' ? setup.targets : targetsYaml(setup.targets))
  );
}

export interface Workspace {
  readonly dir: string;
  readonly token: string;
  remove(): Promise<void>;
}

/** A temporary directory with a token file, where the daemon runs. */
export async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'credcache-bench-'));
  const token = `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  await writeFile(join(dir, 'token'), token, { mode: 0o600 });
  return { dir, token, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes the configuration and starts `credcache serve --config` on the server's CPU. */
export async function startProductionDaemon(
  cpus: CpuPlan,
  space: Workspace,
  setup: DaemonSetup,
): Promise<ServerProcess> {
  const file = join(space.dir, `credcache-${setup.port}.yaml`);
  await writeFile(file, configYaml(setup));
  return startProcess(
    cpus,
    [DAEMON_BIN, 'serve', '--config', file],
    // MALLOC_ARENA_MAX as the container image sets it (Dockerfile).
    childEnv({ ...PLACEHOLDER_AWS_ENV, MALLOC_ARENA_MAX: '1' }),
    space.dir,
  );
}

/** Resident memory of a process (`/proc/<pid>/status`), bytes. */
export interface Resident {
  readonly rss: number;
  /** Memory the process allocated: heap, buffers. */
  readonly anon: number;
  /** Pages of mapped files it touched: mostly the node binary's code. */
  readonly file: number;
}

export function resident(pid: number): Resident {
  return {
    rss: processStatusBytes(pid, 'VmRSS'),
    anon: processStatusBytes(pid, 'RssAnon'),
    file: processStatusBytes(pid, 'RssFile'),
  };
}

/** The query route's path for a table key (SELECT). */
export const tablePath = (arn: string): string =>
  `/v1/lakeformation/table-credentials?tableArn=${encodeURIComponent(arn)}&permissions=SELECT`;

/** Upstream calls the emulator has counted so far (`GET /_emulator/calls`). */
export async function upstreamCalls(emulatorUrl: string): Promise<number> {
  const body = await jsonCall(emulatorUrl, 'GET', '/_emulator/calls');
  const total = (body as { total?: unknown } | undefined)?.total;
  if (typeof total !== 'number')
    throw new Error(`GET /_emulator/calls said ${JSON.stringify(body)}`);
  return total;
}
