/**
 * What `credcache serve` says when it starts, as a process: the start-up line names the region,
 * each service's endpoint and where it came from, and the identity source; with no AWS
 * identity, one warning naming the sources tried and a stderr hint naming what failed instead
 * of the curl line; the curl line itself works with a token path holding a space and a quote;
 * the AWS SDK's Node-version warning arrives as one JSON line, never as text among the logs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LogLine, emulatorProcess, serveProcess, stopProcess } from '../support/process.js';

const run = promisify(execFile);

const TABLE_TARGET = `
upstream:
  region: us-east-1
  maxAttempts: 1
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
`;

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** An environment with no AWS identity anywhere: no variables, an empty HOME, no IMDS. */
async function bareEnv(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const home = await mkdtemp(join(tmpdir(), 'credcache-home-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

async function configIn(dir: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'credcache.yaml');
  await writeFile(file, `listen: 127.0.0.1:0\nauth:\n  tokenFile: run/token\n${text}`);
  return file;
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

/** Every stdout line is a pino JSON line (the helper keeps a non-JSON line as `{msg: text}`). */
function assertAllJson(logs: readonly LogLine[]): void {
  for (const line of logs)
    assert.equal(typeof line.level, 'string', `not a JSON log line: ${String(line.msg)}`);
}

describe('credcache serve: what it says at start (process)', function () {
  this.timeout(30_000);

  it('names the identity source and the emulator endpoints; the SDK Node warning is one JSON line; the curl line works with an odd token path', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'credcache-start-')), "o'neil dir");
    const file = await configIn(dir, TABLE_TARGET);
    // The SDK's own opt-out left unset, as an operator's environment has it.
    const env = await bareEnv({ AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET });
    const daemon = await serveProcess(['--config', file, '--emulator'], env);
    try {
      const upstream = daemon.started.upstream as Record<string, unknown>;
      assert.equal(upstream.region, 'us-east-1');
      assert.equal(upstream.identity, 'environment variables');
      assert.deepEqual(upstream.endpoints, {
        lakeFormation: `${daemon.emulatorUrl} (built-in emulator)`,
        redshiftServerless: `${daemon.emulatorUrl} (built-in emulator)`,
      });
      const hint = await waitForStderr(daemon, /curl/);
      const command = /^credcache: try {2}(curl .*)$/m.exec(hint)?.[1];
      assert.ok(command, hint);
      assert.ok(command.includes(`'${dir.replace("'", `'\\''`)}/run/token'`), command);
      const { stdout } = await run('/bin/sh', ['-c', `${command} -sS`], {
        env: { PATH: '/usr/bin:/bin' },
      });
      assert.match(JSON.parse(stdout).AccessKeyId as string, /^ASIA/);

      await new Promise((resolve) => setTimeout(resolve, 200));
      assertAllJson(daemon.logs);
      assert.ok(!JSON.stringify(daemon.logs).includes(KEY_ID.slice(4)), 'no key id in the logs');
      assert.ok(!JSON.stringify(daemon.logs).includes(SECRET));
      assert.doesNotMatch(daemon.stderr(), /NodeVersionSupportWarning|AWS SDK/);
      const sdkWarnings = daemon.logs.filter(
        (line) => line.warning === 'NodeVersionSupportWarning',
      );
      if (nodeMajor < 22) {
        assert.equal(sdkWarnings.length, 1);
        assert.equal(sdkWarnings[0]?.level, 'warn');
        assert.equal(sdkWarnings[0]?.node, process.version);
        assert.doesNotMatch(String(sdkWarnings[0]?.msg), /\n/);
      } else {
        assert.equal(sdkWarnings.length, 0);
      }
    } finally {
      await stopProcess(daemon);
    }
  });

  it('names endpoints set by AWS_ENDPOINT_URL_LAKEFORMATION and AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS', async () => {
    const emulator = await emulatorProcess();
    try {
      const file = await configIn(await mkdtemp(join(tmpdir(), 'credcache-start-')), TABLE_TARGET);
      const env = await bareEnv({
        AWS_ACCESS_KEY_ID: KEY_ID,
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_ENDPOINT_URL_LAKEFORMATION: emulator.url,
        AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS: emulator.url,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      const daemon = await serveProcess(['--config', file], env);
      try {
        const upstream = daemon.started.upstream as Record<string, unknown>;
        assert.equal(upstream.kind, 'aws');
        assert.equal(upstream.identity, 'environment variables');
        assert.deepEqual(upstream.endpoints, {
          lakeFormation: `${emulator.url} (AWS_ENDPOINT_URL_LAKEFORMATION)`,
          redshiftServerless: `${emulator.url} (AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS)`,
        });
        assert.equal(daemon.started.warmed, 1);
      } finally {
        await stopProcess(daemon);
      }
    } finally {
      await stopProcess(emulator);
    }
  });

  it('with no AWS identity: one warning naming the sources tried, and a hint naming what failed instead of the curl line', async () => {
    const file = await configIn(await mkdtemp(join(tmpdir(), 'credcache-start-')), TABLE_TARGET);
    // Nothing listens on port 9: no call could reach AWS even if an identity were found.
    const env = await bareEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    const daemon = await serveProcess(['--config', file], env);
    try {
      const upstream = daemon.started.upstream as Record<string, unknown>;
      assert.equal(upstream.identity, undefined);
      assert.equal(upstream.identityError, 'Could not load credentials from any providers');
      assert.deepEqual(upstream.endpoints, {
        lakeFormation: 'http://127.0.0.1:9 (AWS_ENDPOINT_URL)',
        redshiftServerless: 'http://127.0.0.1:9 (AWS_ENDPOINT_URL)',
      });
      assert.equal(daemon.started.warmed, 0);
      const warnings = daemon.logs.filter((line) => String(line.msg).startsWith('no AWS identity'));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.level, 'warn');
      const tried = warnings[0]?.tried as string[];
      assert.equal(tried.length, 5);
      assert.match(tried[0] ?? '', /^environment variables/);
      assert.match(tried[4] ?? '', /^instance metadata/);

      const hint = await waitForStderr(daemon, /first load/);
      assert.match(
        hint,
        /1 of 1 targets failed their first load \(orders: CredentialsProviderError/,
      );
      assert.match(hint, /credcache status/);
      assert.ok(hint.includes(`${daemon.url}/readyz`), hint);
      assert.doesNotMatch(hint, /curl/);
      assertAllJson(daemon.logs);
      for (const line of daemon.logs)
        assert.doesNotMatch(JSON.stringify(line), /\\n {4}at /, 'no stack');
    } finally {
      await stopProcess(daemon);
    }
  });
});

/** Resolves with stderr once it matches `pattern` (the hint follows the start-up line). */
async function waitForStderr(daemon: { stderr(): string }, pattern: RegExp): Promise<string> {
  for (let waited = 0; waited < 5_000; waited += 20) {
    if (pattern.test(daemon.stderr())) return daemon.stderr();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`stderr never matched ${String(pattern)}: ${daemon.stderr()}`);
}
