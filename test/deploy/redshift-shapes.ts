/**
 * What the Kubernetes and ECS tests share about the Redshift shapes of deploy/: who may read a
 * file in the shared volume (the Unix rule for a non-root process), and the `reports`
 * container's command run for real on this machine, with a `psql` that logs in through
 * node-postgres from the environment libpq reads (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE) and a `sleep` that ends the container's loop.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A file as the kernel sees it: mode bits, owner and group. */
export interface FileIdentity {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A process's identity: its user and every group it is in (primary and supplementary). */
export interface ProcessIdentity {
  readonly uid: number;
  readonly gids: readonly number[];
}

/**
 * Whether a non-root process may read the file: the owner's bits if it is the owner, else the
 * group's if it is in the file's group, else the others' (no ACLs, no capabilities).
 */
export function mayRead(file: FileIdentity, reader: ProcessIdentity): boolean {
  if (reader.uid === file.uid) return (file.mode & 0o400) !== 0;
  if (reader.gids.includes(file.gid)) return (file.mode & 0o040) !== 0;
  return (file.mode & 0o004) !== 0;
}

/** What the container's `psql` saw and got: libpq's variables, and the SQLSTATE (or `ok`). */
export interface PsqlRun {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly outcome: string;
  readonly stderr: string;
}

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Runs `argv` (the container's entry point and command, paths already moved to this machine)
 * with `env`, a `psql` that connects with node-postgres as libpq would from the same variables,
 * and a `sleep` that fails, so `set -e` ends the loop after the first query.
 */
export async function runReportsCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<PsqlRun> {
  const bin = await mkdtemp(join(tmpdir(), 'credcache-reports-'));
  const seen = join(bin, 'seen.json');
  const psql = join(bin, 'psql');
  const script = [
    `import { createRequire } from 'node:module';`,
    `import { writeFileSync } from 'node:fs';`,
    `const pg = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('pg');`,
    `const names = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSSLMODE'];`,
    `const env = Object.fromEntries(names.map((n) => [n, process.env[n]]));`,
    `let outcome = 'ok';`,
    // node-postgres reads the same PG* variables as libpq; PGSSLMODE=disable is its default.
    `const client = new pg.Client({ connectionTimeoutMillis: 10000 });`,
    `try { await client.connect(); await client.query('select current_user'); }`,
    `catch (error) { outcome = error.code ?? String(error); }`,
    `finally { await client.end().catch(() => undefined); }`,
    `writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ env, outcome }));`,
  ].join('\n');
  await writeFile(join(bin, 'psql.mjs'), script);
  await writeFile(
    psql,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${join(bin, 'psql.mjs')}\n`,
  );
  await writeFile(join(bin, 'sleep'), '#!/bin/sh\nexit 1\n');
  await chmod(psql, 0o755);
  await chmod(join(bin, 'sleep'), 0o755);
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('nothing to run');
  const child = spawn(file, args, {
    env: { ...env, PATH: `${bin}:/usr/bin:/bin` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code === 0) throw new Error('the loop ended although sleep failed');
  const result = JSON.parse(await readFile(seen, 'utf8').catch(() => 'null')) as {
    env: Record<string, string | undefined>;
    outcome: string;
  } | null;
  if (!result) throw new Error(`the command never ran psql (exit ${String(code)}): ${stderr}`);
  return { ...result, stderr };
}
