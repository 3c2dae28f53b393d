/**
 * Client suite: a profile from `credcache aws-config` used by the AWS CLI v2 as it is, from
 * another directory, with the config (and so the paths in `credential_process`) in a folder
 * whose name holds a space and a quote: the CLI runs `credcache get` and gets the daemon's
 * credential for the target.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, ENV, serveProcess, stopProcess } from '../support/process.js';
import { AWS_CLI, cleanEnv, freePort, requireAwsCliV2 } from './helpers.js';

const run = promisify(execFile);

describe('credcache aws-config with the AWS CLI v2', function () {
  this.timeout(60_000);

  before(async () => {
    await requireAwsCliV2();
  });

  it('`aws configure export-credentials --profile orders` runs credential_process from another directory', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'credcache-aws config-')), "it's here");
    await mkdir(dir);
    const file = join(dir, 'credcache.yaml');
    // A fixed port: `credcache get` finds the daemon through this same file.
    await writeFile(
      file,
      `listen: 127.0.0.1:${await freePort()}
auth:
  tokenFile: run/token
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
`,
    );
    const daemon = await serveProcess(['--config', file, '--emulator']);
    try {
      const { stdout } = await run(process.execPath, [BIN, 'aws-config', '--config', file], {
        env: ENV,
      });
      const awsConfigFile = join(dir, 'aws config');
      await writeFile(awsConfigFile, stdout);
      // From another directory: nothing in the profile may be relative to where it was made.
      const elsewhere = await mkdtemp(join(tmpdir(), 'credcache-elsewhere-'));
      const result = await run(
        AWS_CLI,
        ['configure', 'export-credentials', '--profile', 'orders'],
        {
          cwd: elsewhere,
          env: cleanEnv({ AWS_CONFIG_FILE: awsConfigFile }),
        },
      ).catch((error: { stderr?: string }) => assert.fail(`aws failed: ${error.stderr ?? ''}`));
      const exported = JSON.parse(result.stdout) as Record<string, unknown>;
      const token = await readFile(join(dir, 'run', 'token'), 'utf8');
      const served = (await (
        await fetch(`${daemon.url}/v1/targets/orders`, { headers: { authorization: token } })
      ).json()) as Record<string, unknown>;
      assert.equal(exported.Version, 1);
      assert.equal(exported.AccessKeyId, served.AccessKeyId);
      assert.equal(exported.SecretAccessKey, served.SecretAccessKey);
      assert.equal(exported.SessionToken, served.Token);
    } finally {
      await stopProcess(daemon);
    }
  });
});
