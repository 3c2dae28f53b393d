/**
 * `credcache status` as a real process against a running daemon (itself a process, with its
 * built-in emulator): the table, `--json`, no colour when stdout is not a terminal, and the exit
 * codes (0 ready, 2 not ready, 1 no daemon). The table's colours, in-process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { colourWanted, duration, statusLines } from '../../src/cli/status.js';
import type { DaemonStatus } from '../../src/daemon/status.js';
import { VERSION } from '../../src/version.js';
import {
  BIN,
  ENV,
  type DaemonProcess,
  control,
  serveProcess,
  stopProcess,
  writeConfig,
} from '../support/process.js';

const run = promisify(execFile);

const CONFIG = `
listen: 127.0.0.1:0
auth:
  tokenFile: run/token
cache:
  minRemainingSeconds: 5
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
`;

/** Runs `credcache ARGS`, resolving with its exit code and output whatever the code. */
async function credcache(args: string[], env: NodeJS.ProcessEnv) {
  return run(process.execPath, [BIN, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('credcache status (process)', function () {
  this.timeout(20_000);
  let daemon: DaemonProcess | undefined;
  let file = '';
  let env: NodeJS.ProcessEnv = ENV;

  beforeEach(async () => {
    ({ file } = await writeConfig(CONFIG));
    daemon = await serveProcess(['--config', file, '--emulator']);
    // The daemon listens on a free port: tell the client where through the environment.
    env = { ...ENV, CREDCACHE_LISTEN: daemon.url.replace('http://', '') };
  });
  afterEach(async () => {
    if (daemon) await stopProcess(daemon);
    daemon = undefined;
  });

  it('prints a table of the targets, uncoloured when stdout is not a terminal, and exits 0 when ready', async () => {
    const { code, stdout } = await credcache(['status', '--config', file], env);
    assert.equal(code, 0);
    assert.ok(!stdout.includes('\u001b'), 'no escape codes on a pipe');
    const lines = stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      new RegExp(`^credcache ${VERSION.replaceAll('.', '\\.')}: ready; cache: 2 entries`),
    );
    assert.match(
      lines[1] ?? '',
      /^TARGET +SOURCE +STATE +LEFT +NEXT REFRESH +FAILURES +LAST ERROR$/,
    );
    assert.match(lines[2] ?? '', /^orders +lakeformation_table +ready +(59m|1h) .* 0 +-$/);
    assert.match(lines[3] ?? '', /^warehouse +redshift_serverless +ready +\S+/);
    assert.equal(lines.length, 4);
    // Columns line up: every row's state starts where the header's does.
    const at = (lines[1] ?? '').indexOf('STATE');
    assert.equal((lines[2] ?? '').indexOf('ready'), at);
    assert.equal((lines[3] ?? '').indexOf('ready'), at);
  });

  it('--json prints the /v1/status body for scripts', async () => {
    const { code, stdout } = await credcache(['status', '--json', '--config', file], env);
    assert.equal(code, 0);
    const body = JSON.parse(stdout) as DaemonStatus;
    assert.equal(body.version, VERSION);
    assert.equal(body.ready, true);
    assert.deepEqual(
      body.targets.map((target) => [target.name, target.state]),
      [
        ['orders', 'ready'],
        ['warehouse', 'ready'],
      ],
    );
    assert.equal(body.cache.entries, 2);
  });

  it('exits 2 when the daemon answers but is not ready, naming the failing target and its error', async () => {
    const running = daemon ?? assert.fail('no daemon');
    const emulator = running.emulatorUrl ?? assert.fail('no emulator');
    // A credential 3 s above the floor, then upstream fails: it soon cannot be served.
    await control(emulator, '/_emulator/config', { credentialLifetimeSeconds: 8 });
    const token = (await import('node:fs/promises')).readFile(
      file.replace('credcache.yaml', 'run/token'),
      'utf8',
    );
    const forced = await fetch(`${running.url}/v1/targets/orders/refresh`, {
      method: 'POST',
      headers: { authorization: await token },
    });
    assert.equal(forced.status, 200);
    await control(emulator, '/_emulator/faults', {
      operation: '*',
      mode: 'error',
      errorType: 'InternalServerException',
    });
    // Its refresh fails (and is retried) within a second or two; from 3 s on it cannot be served.
    const failing = async () => {
      const { code, stdout } = await credcache(['status', '--json', '--config', file], env);
      const body = JSON.parse(stdout) as DaemonStatus;
      return code === 2 && !body.ready && body.targets[0]?.state === 'failing';
    };
    for (let i = 0; i < 40 && !(await failing()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const table = await credcache(['status', '--config', file], env);
    assert.equal(table.code, 2, table.stderr);
    assert.equal(table.stderr, '');
    assert.match(table.stdout, /^credcache \S+: NOT READY/);
    assert.match(
      table.stdout,
      /\norders +lakeformation_table +failing +\S+.* [1-9]\d* +InternalServerException: upstream failed/,
    );
    const json = await credcache(['status', '--json', '--config', file], env);
    assert.equal(json.code, 2);
    assert.equal((JSON.parse(json.stdout) as DaemonStatus).ready, false);
  });

  it('exits 1 with a one-line reason when no daemon answers', async () => {
    await stopProcess(daemon ?? assert.fail('no daemon'));
    daemon = undefined;
    const down = await credcache(['status', '--config', file], env);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^credcache: cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(down.stderr.trimEnd().split('\n').length, 1);
    // A configuration that does not load is an error too (1): 2 means "not ready" here.
    const bad = await credcache(['status', '--config', `${file}.missing`], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^credcache: invalid configuration: /);
  });
});

describe('credcache status table', () => {
  const status: DaemonStatus = {
    version: '9.9.9',
    ready: false,
    targets: [
      {
        name: 'a',
        source: 'lakeformation_table',
        state: 'ready',
        remainingSeconds: 3599,
        nextRefreshSeconds: 1700,
        consecutiveFailures: 0,
        lastError: null,
      },
      {
        name: 'b',
        source: 'redshift_serverless',
        state: 'failing',
        remainingSeconds: null,
        nextRefreshSeconds: 0,
        consecutiveFailures: 3,
        lastError: { code: 'AccessDeniedException', message: 'upstream denied access' },
      },
      {
        name: 'c',
        source: 'lakeformation_partition',
        state: 'pending',
        remainingSeconds: null,
        nextRefreshSeconds: null,
        consecutiveFailures: 0,
        lastError: null,
      },
    ],
    cache: {
      entries: 1,
      bySource: {
        lakeformation_table: 1,
        lakeformation_partition: 0,
        redshift_serverless: 0,
        lakeformation_location: 0,
      },
    },
  };

  it('colours the state green, red and yellow when asked, and only the state', () => {
    const lines = statusLines(status, true);
    const plain = statusLines(status, false);
    const [green, red, yellow, reset] = ['\u001b[32m', '\u001b[31m', '\u001b[33m', '\u001b[0m'];
    // The state cell (padded to its column) is wrapped in its colour; nothing else changes.
    assert.equal(lines[2], (plain[2] ?? '').replace('ready  ', `${green}ready  ${reset}`));
    assert.equal(lines[3], (plain[3] ?? '').replace('failing', `${red}failing${reset}`));
    assert.equal(lines[4], (plain[4] ?? '').replace('pending', `${yellow}pending${reset}`));
    assert.deepEqual(lines.slice(0, 2), plain.slice(0, 2));
    assert.deepEqual(plain.slice(2), [
      'a       lakeformation_table      ready    59m 59s  28m 20s       0         -',
      'b       redshift_serverless      failing  -        now           3         AccessDeniedException: upstream denied access',
      'c       lakeformation_partition  pending  -        -             0         -',
    ]);
  });

  it('colours only a terminal, and never with NO_COLOR set', () => {
    assert.equal(colourWanted({ isTTY: true }, {}), true);
    assert.equal(colourWanted({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colourWanted({ isTTY: true }, { NO_COLOR: '' }), true);
    assert.equal(colourWanted({ isTTY: false }, {}), false);
    assert.equal(colourWanted({}, {}), false);
  });

  it('writes durations as an operator reads them', () => {
    assert.deepEqual([null, 0, 59, 60, 3599, 3600, 7322].map(duration), [
      '-',
      '0s',
      '59s',
      '1m 0s',
      '59m 59s',
      '1h 00m',
      '2h 02m',
    ]);
  });
});
