/**
 * `credcache check-config` as a real process (built dist/): it refuses what `serve` refuses,
 * prints every problem at once in the same form as `serve`, and ends quietly when its reader
 * stops reading.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { BIN, ENV, writeConfig } from '../support/process.js';

const run = promisify(execFile);

/** The test's environment without any region or AWS profile file, and no CREDCACHE_* variable. */
function noRegion(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(ENV)) {
    if (!name.startsWith('CREDCACHE_') && !name.startsWith('AWS_')) env[name] = value;
  }
  return {
    ...env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    ...extra,
  };
}

async function failure(args: string[], env: NodeJS.ProcessEnv) {
  return run(process.execPath, [BIN, ...args], { env }).then(
    () => assert.fail(`expected credcache ${args.join(' ')} to fail`),
    (error: { code: number; stderr: string; stdout: string }) => error,
  );
}

describe('credcache check-config (process)', function () {
  this.timeout(20_000);

  it('refuses a file serve refuses (no region anywhere), printing what serve prints, exit 2', async () => {
    const { file } = await writeConfig('listen: 127.0.0.1:0\nauth:\n  disabled: true\n');
    const expected =
      `credcache: invalid configuration: ${file}\n` +
      '  upstream.region: no region: set upstream.region, AWS_REGION or AWS_DEFAULT_REGION, or a region in the AWS profile\n';
    const checked = await failure(['check-config', file], noRegion());
    assert.equal(checked.code, 2);
    assert.equal(checked.stderr, expected);
    assert.equal(checked.stdout, '');
    const served = await failure(['serve', '--config', file], noRegion());
    assert.equal(served.code, 2);
    assert.equal(served.stderr, expected);

    const ok = await run(process.execPath, [BIN, 'check-config', file], {
      env: noRegion({ AWS_REGION: 'eu-west-1' }),
    });
    assert.match(ok.stdout, /^configuration OK: /);
  });

  it('prints every problem at once, one a line, each naming the field or variable and the rule', async () => {
    const { file } = await writeConfig(
      [
        'listen: 0.0.0.0:9911',
        'cache:',
        '  maxEntries: many',
        'auth:',
        '  token: a-token-of-enough-length',
        '  tokenFile: /run/token',
        'targets:',
        '  - { name: a, source: lakeformation_table, tableArn: "arn:aws:glue:us-east-1:123456789012:table/d/t" }',
        '  - { name: a, source: lakeformation_table, tableArn: "arn:aws:glue:us-east-1:123456789012:table/d/t" }',
        '',
      ].join('\n'),
    );
    const failed = await failure(
      ['check-config', file],
      noRegion({ CREDCACHE_LOGLEVEL: 'debug', AWS_REGION: 'eu-west-1' }),
    );
    assert.equal(failed.code, 2);
    assert.deepEqual(failed.stderr.split('\n'), [
      `credcache: invalid configuration: ${file}`,
      '  CREDCACHE_LOGLEVEL: names no configuration field; did you mean CREDCACHE_LOG_LEVEL?',
      '  cache.maxEntries: must be a number',
      '  listen: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
      '  auth.token: give either auth.token or auth.tokenFile, not both',
      '  targets[1].name: a is already the name of targets[0]',
      '',
    ]);
  });

  it('ends quietly, status 0, when its reader stops reading after one line (no EPIPE trace)', async () => {
    const child = spawn(process.execPath, [BIN, 'check-config', 'examples/credcache.yaml'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: noRegion(),
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, 'line')) as [string];
    assert.match(first, /^configuration OK: /);
    lines.close();
    child.stdout.destroy();
    const [code, signal] = await exited;
    assert.equal(stderr, '');
    assert.deepEqual([code, signal], [0, null]);
  });
});
