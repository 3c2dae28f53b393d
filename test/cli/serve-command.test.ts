/**
 * `credcache serve`, `get` and `check-config` as real processes: the start-up line, the token
 * file, signals with a request in flight, binding rules, and failures that name each problem.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;
const run = promisify(execFile);
const ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

const CONFIG = `
listen: 127.0.0.1:0
auth:
  tokenFile: run/token
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
  - name: orders-2026
    source: lakeformation_partition
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    values: ['2026', '11']
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
`;

interface Running {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly started: Record<string, unknown>;
  readonly url: string;
  readonly emulatorUrl: string;
  /** Resolves with the first log line whose msg is `msg`. */
  waitFor(msg: string): Promise<Record<string, unknown>>;
}

async function writeConfig(text = CONFIG): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'credcache-serve-'));
  const file = join(dir, 'credcache.yaml');
  await writeFile(file, text);
  return { dir, file };
}

/** Starts `credcache serve ARGS` and resolves once it logged that it listens. */
async function serve(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    logs.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
  });
  const waitFor = (msg: string) => {
    const seen = logs.find((line) => line.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      waiters.push({ msg, resolve });
      child.once('exit', (code) =>
        reject(new Error(`credcache exited with ${String(code)} before "${msg}": ${stderr}`)),
      );
    });
  };
  const started = await waitFor('credcache listening');
  const upstream = started.upstream as { url: string };
  return { child, logs, started, url: String(started.listen), emulatorUrl: upstream.url, waitFor };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  const exited = once(child, 'exit');
  child.kill(signal);
  return (await exited) as [number | null, NodeJS.Signals | null];
}

async function failure(args: string[], env: NodeJS.ProcessEnv = ENV) {
  return run(process.execPath, [BIN, ...args], { env }).then(
    () => assert.fail('expected a non-zero exit'),
    (error: { code: number; stderr: string; stdout: string }) => error,
  );
}

describe('credcache serve (process)', function () {
  this.timeout(20_000);

  it('starts against the emulator, warms its targets, writes a token file, and exits 0 on SIGTERM', async () => {
    const { dir, file } = await writeConfig();
    const daemon = await serve(['--config', file, '--emulator']);
    try {
      assert.match(daemon.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual((daemon.started.upstream as { kind: string }).kind, 'emulator');
      assert.equal(daemon.started.targets, 3);
      assert.equal(daemon.started.warmed, 3);
      assert.equal(typeof daemon.started.warmMs, 'number');
      const tokenFile = join(dir, 'run/token');
      assert.deepEqual(daemon.started.auth, { tokenFile, created: true });
      const token = await readFile(tokenFile, 'utf8');
      assert.match(token, /^[A-Za-z0-9_-]{43}$/, 'one word, no trailing newline');
      assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
      const response = await fetch(`${daemon.url}/v1/targets/orders`, {
        headers: { authorization: token },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-credcache-result'), 'hit');
      const ready = await fetch(`${daemon.url}/readyz`);
      assert.equal(ready.status, 200);
      // Nothing in the logs carries the token.
      assert.ok(!JSON.stringify(daemon.logs).includes(token));
    } finally {
      assert.deepEqual(await stop(daemon.child), [0, null]);
    }
    assert.ok(daemon.logs.some((line) => line.msg === 'stopped'));
  });

  it('finishes a request in flight on SIGTERM, then exits 0', async () => {
    const { file } = await writeConfig(
      CONFIG.replace('tokenFile: run/token', 'token: a-token-of-sixteen-chars'),
    );
    const daemon = await serve(['--config', file, '--emulator']);
    await fetch(`${daemon.emulatorUrl}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: '*', mode: 'latency', latencyMs: 700 }),
    });
    const inFlight = fetch(
      `${daemon.url}/v1/redshift-serverless/credentials?workgroupName=cold-one`,
      { headers: { authorization: 'a-token-of-sixteen-chars' } },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = stop(daemon.child);
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.ok(((await response.json()) as { dbPassword?: string }).dbPassword);
    assert.deepEqual(await exited, [0, null]);
  });

  it('reads a token file it did not write (trimmed), and follows it when it changes', async () => {
    const { dir, file } = await writeConfig();
    await writeFile(join(dir, 'run-token'), 'first-token-value\n');
    const daemon = await serve(['--config', file, '--emulator'], {
      ...ENV,
      CREDCACHE_TOKEN_FILE: join(dir, 'run-token'),
    });
    const ask = (token: string) =>
      fetch(`${daemon.url}/v1/targets/orders`, { headers: { authorization: token } }).then(
        (r) => r.status,
      );
    try {
      assert.deepEqual(daemon.started.auth, { tokenFile: join(dir, 'run-token'), created: false });
      assert.equal(await ask('first-token-value'), 200);
      await writeFile(join(dir, 'run-token'), 'second-token-value');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(await ask('second-token-value'), 200);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      assert.equal(await ask('first-token-value'), 401, 'the old token stops working');
      await daemon.waitFor('token file changed; new token in use');
    } finally {
      await stop(daemon.child);
    }
  });

  it('creates a token file in the runtime directory when no token is configured, and logs only its path', async () => {
    const { dir, file } = await writeConfig(CONFIG.replace('auth:\n  tokenFile: run/token\n', ''));
    const daemon = await serve(['--config', file, '--emulator'], { ...ENV, XDG_RUNTIME_DIR: dir });
    try {
      const tokenFile = join(dir, 'credcache', 'token');
      assert.deepEqual(daemon.started.auth, { tokenFile, created: true });
      const token = await readFile(tokenFile, 'utf8');
      const response = await fetch(`${daemon.url}/v1/targets/orders`, {
        headers: { authorization: token },
      });
      assert.equal(response.status, 200);
      assert.ok(!JSON.stringify(daemon.logs).includes(token));
    } finally {
      await stop(daemon.child);
    }
  });

  it('warns at every start when auth is disabled', async () => {
    const { file } = await writeConfig(CONFIG.replace('tokenFile: run/token', 'disabled: true'));
    const daemon = await serve(['--config', file, '--emulator']);
    try {
      const warning = daemon.logs.find((line) =>
        String(line.msg).startsWith('authentication is disabled'),
      );
      assert.equal(warning?.level, 'warn');
      assert.equal((await fetch(`${daemon.url}/v1/targets/orders`)).status, 200);
    } finally {
      await stop(daemon.child, 'SIGINT');
    }
  });

  it('exits non-zero naming the problem: a bad config (one problem a line), a taken port, a non-loopback address', async () => {
    const bad = await writeConfig('cache:\n  maxEntries: 0\nlisten: 127.0.0.1:0\n');
    const badConfig = await failure(['serve', '--config', bad.file, '--emulator']);
    assert.equal(badConfig.code, 2);
    assert.equal(
      badConfig.stderr,
      `credcache: invalid configuration: ${bad.file}\n  cache.maxEntries: must be at least 1\n`,
    );

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const taken = await writeConfig(`listen: 127.0.0.1:${port}\nauth:\n  disabled: true\n`);
      const inUse = await failure(['serve', '--config', taken.file, '--emulator']);
      assert.equal(inUse.code, 1);
      assert.match(inUse.stderr, new RegExp(`listen: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
    }

    const open = await failure(['serve', '--emulator'], {
      ...ENV,
      CREDCACHE_LISTEN: '0.0.0.0:0',
      CREDCACHE_AUTH_DISABLED: 'true',
    });
    assert.equal(open.code, 2);
    assert.match(open.stderr, /CREDCACHE_LISTEN: 0\.0\.0\.0 is not a loopback address/);
  });

  it('refuses --emulator-postgres without --emulator, in one line, before touching the database', async () => {
    const { file } = await writeConfig();
    for (const args of [
      [
        'serve',
        '--config',
        file,
        '--emulator-postgres',
        'postgres://admin:s3cret@127.0.0.1:1/postgres',
      ],
      // --emulator-port alone starts the emulator, but the database is asked for with --emulator.
      [
        'serve',
        '--config',
        file,
        '--emulator-port',
        '0',
        '--emulator-postgres',
        'postgres://127.0.0.1:1/x',
      ],
    ]) {
      const refused = await failure(args);
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout, '');
      assert.equal(
        refused.stderr,
        "error: option '--emulator-postgres <url>' needs --emulator: it backs the built-in emulator, which runs only with --emulator\n",
      );
    }
    // With --emulator, an unreachable database fails the start, named without its password.
    const unreachable = await failure([
      'serve',
      '--config',
      file,
      '--emulator',
      '--emulator-postgres',
      'postgres://admin:s3cret@127.0.0.1:1/postgres',
    ]);
    assert.equal(unreachable.code, 1);
    assert.equal(
      unreachable.stderr,
      'credcache: cannot connect to PostgreSQL at postgres://admin:***@127.0.0.1:1/postgres: connect ECONNREFUSED 127.0.0.1:1\n',
    );
    // A password in the query (node-postgres reads it there too) is hidden as well.
    const inQuery = await failure([
      'serve',
      '--config',
      file,
      '--emulator',
      '--emulator-postgres',
      'postgres://admin@127.0.0.1:1/postgres?password=s3cret',
    ]);
    assert.match(
      inQuery.stderr,
      /^credcache: cannot connect to PostgreSQL at postgres:\/\/admin@127\.0\.0\.1:1\/postgres\?password=\*\*\*: /,
    );
    assert.ok(!inQuery.stderr.includes('s3cret'), inQuery.stderr);
  });
});

describe('credcache get and check-config (process)', function () {
  this.timeout(20_000);

  it('get prints credential_process JSON from the running daemon, found through the config or the environment', async () => {
    const { dir, file } = await writeConfig();
    const daemon = await serve(['--config', file, '--emulator']);
    try {
      // The daemon listens on a free port; tell `get` where through the environment.
      const env = { ...ENV, CREDCACHE_LISTEN: daemon.url.replace('http://', '') };
      const viaConfig = await run(process.execPath, [BIN, 'get', 'orders', '--config', file], {
        env,
      });
      const credentials = JSON.parse(viaConfig.stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(credentials), [
        'Version',
        'AccessKeyId',
        'SecretAccessKey',
        'SessionToken',
        'Expiration',
      ]);
      assert.equal(credentials.Version, 1);
      assert.match(String(credentials.Expiration), /Z$/);
      const viaEnv = await run(process.execPath, [BIN, 'get', 'orders'], {
        env: { ...env, CREDCACHE_TOKEN_FILE: join(dir, 'run/token') },
      });
      assert.equal(
        (JSON.parse(viaEnv.stdout) as { AccessKeyId: string }).AccessKeyId,
        credentials.AccessKeyId,
      );
      const unknown = await failure(['get', 'nope', '--config', file], env);
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /^credcache: 404 NotFound: name: no target "nope" is configured\n$/,
      );
    } finally {
      await stop(daemon.child);
    }
    const down = await failure(['get', 'orders', '--config', file], {
      ...ENV,
      CREDCACHE_LISTEN: daemon.url.replace('http://', ''),
    });
    assert.match(
      down.stderr,
      /cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('check-config prints what the daemon would do, or a line naming each problem', async () => {
    const { file } = await writeConfig();
    const ok = await run(process.execPath, [BIN, 'check-config', file], {
      env: { ...ENV, AWS_REGION: 'eu-west-1' },
    });
    assert.match(ok.stdout, /^configuration OK: /);
    assert.match(ok.stdout, /^upstream: region eu-west-1 \(from AWS_REGION\);/m);
    const local = await run(process.execPath, [BIN, 'check-config', '--emulator', file], {
      env: { ...ENV, AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_CONFIG_FILE: '/nonexistent' },
    });
    assert.match(local.stdout, /^upstream: region \(the emulator's\);/m);
    assert.match(ok.stdout, /targets: 3/);
    assert.match(
      ok.stdout,
      /orders: lakeformation_table .* → GET \/v1\/targets\/orders \(container credentials\)/,
    );
    const bad = await writeConfig(
      'targets:\n  - name: x\n    source: lakeformation_table\n    tableArn: nope\n',
    );
    const failed = await failure(['check-config', bad.file]);
    assert.equal(failed.code, 2);
    assert.deepEqual(failed.stderr.trim().split('\n').slice(0, 2), [
      `credcache: invalid configuration: ${bad.file}`,
      '  targets[0].tableArn: not a Glue table ARN (arn:<partition>:glue:<region>:<account>:table/<database>/<table>)',
    ]);
  });

  it('every command answers --help', async () => {
    for (const command of ['serve', 'get', 'check-config']) {
      const { stdout } = await run(process.execPath, [BIN, command, '--help'], { env: ENV });
      assert.match(stdout, new RegExp(`Usage: credcache ${command}`));
    }
    const serve = await run(process.execPath, [BIN, 'serve', '--help'], { env: ENV });
    assert.match(
      serve.stdout,
      /--emulator-postgres <url>\s+with --emulator: a PostgreSQL superuser URL/,
    );
  });
});
