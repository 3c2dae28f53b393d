/**
 * Test helpers around the real daemon in this process: `serve` (as `credcache serve --emulator`)
 * with the built-in emulator on loopback ports, a fresh one per test, logs captured (for secret scans), and the
 * emulator's control API at hand.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { buildConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/daemon/logger.js';
import { type Serving, serve } from '../../src/cli/serve.js';
import type { Daemon } from '../../src/daemon/main.js';
import type { RunningEmulator } from '../../src/emulator/server.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';

export const TARGETS = [
  {
    name: 'orders',
    source: 'lakeformation_table',
    tableArn: TABLE_ARN,
    permissions: ['SELECT'],
  },
  {
    name: 'orders-2026',
    source: 'lakeformation_partition',
    tableArn: TABLE_ARN,
    permissions: ['SELECT'],
    values: ['2026', '11'],
  },
  { name: 'warehouse', source: 'redshift_serverless', workgroupName: 'analytics', dbName: 'dev' },
];

/** The daemon a test runs, and the emulator the command line started beside it. */
export interface RunningDaemon extends Daemon {
  readonly emulator: RunningEmulator;
  readonly emulatorUrl: string;
}

export interface DaemonHandle {
  readonly current: RunningDaemon;
  readonly url: string;
  /** Every log line written so far. */
  readonly logs: string[];
  control(path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

/**
 * Registers hooks that start a daemon before each test of the enclosing `describe` (document:
 * the configuration, merged over loopback port 0, an inline token and the example targets)
 * and shut it down after.
 */
export function useDaemon(document: Record<string, unknown> = {}): DaemonHandle {
  let serving: Serving | undefined;
  let daemon: RunningDaemon | undefined;
  const logs: string[] = [];
  beforeEach(async () => {
    logs.length = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    const config = buildConfig({
      listen: '127.0.0.1:0',
      auth: { token: TOKEN },
      targets: TARGETS,
      ...document,
      log: { level: 'debug' },
    });
    serving = await serve({
      config,
      emulator: {},
      logger: createLogger('debug', sink),
      env: {},
    });
    const emulator = serving.emulator ?? assert.fail('serve started no emulator');
    daemon = { ...serving.daemon, emulator, emulatorUrl: emulator.url };
  });
  afterEach(async () => {
    await serving?.shutdown();
    serving = undefined;
    daemon = undefined;
  });
  const running = (): RunningDaemon => {
    if (!daemon) throw new Error('the daemon is not running (used outside a test?)');
    return daemon;
  };
  return {
    get current() {
      return running();
    },
    get url() {
      return running().url;
    },
    logs,
    async control(path, body) {
      const response = await fetch(`${running().emulatorUrl}/_emulator/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body !== undefined && {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      });
      return { status: response.status, body: await response.json() };
    },
  };
}
