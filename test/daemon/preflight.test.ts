/**
 * What `serve` and `check-config` both check before the daemon starts: the file and the
 * environment, the region as the AWS SDK resolves it, and the token file, all problems at once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/config.js';
import { preflight } from '../../src/daemon/preflight.js';

/** An environment with no region anywhere and no AWS files but the ones a test writes. */
function bareEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_CONFIG_FILE: join(dir, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials'),
    ...extra,
  };
}

async function problems(path: string, env: NodeJS.ProcessEnv): Promise<readonly string[]> {
  try {
    await preflight(path, { env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('preflight: what serve refuses at start, known before it listens', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credcache-preflight-'));
    file = join(dir, 'credcache.yaml');
    await writeFile(file, 'auth:\n  tokenFile: run/token\n');
  });

  it('refuses a configuration that names no region anywhere, unless the emulator brings its own', async () => {
    assert.deepEqual(await problems(file, bareEnv(dir)), [
      'upstream.region: no region: set upstream.region, AWS_REGION or AWS_DEFAULT_REGION, or a region in the AWS profile',
    ]);
    const local = await preflight(file, { env: bareEnv(dir), localUpstream: true });
    assert.equal(local.region, undefined);
    assert.equal(local.config.upstream.region, undefined);
  });

  it('resolves the region as the SDK does: the file, AWS_REGION, AWS_DEFAULT_REGION, the profile', async () => {
    await writeFile(
      join(dir, 'aws-config'),
      '[default]\nregion = ap-south-1\n[profile analytics]\nregion = eu-north-1\n',
    );
    const region = async (env: NodeJS.ProcessEnv, text = 'auth:\n  disabled: true\n') => {
      await writeFile(file, text);
      const checked = await preflight(file, { env: bareEnv(dir, env) });
      assert.equal(checked.config.upstream.region, checked.region?.name);
      return checked.region;
    };
    assert.deepEqual(await region({}), {
      name: 'ap-south-1',
      from: 'profile default in the AWS config files',
    });
    assert.deepEqual(await region({ AWS_PROFILE: 'analytics' }), {
      name: 'eu-north-1',
      from: 'profile analytics in the AWS config files',
    });
    assert.deepEqual(await region({ AWS_DEFAULT_REGION: 'us-west-1', AWS_PROFILE: 'analytics' }), {
      name: 'us-west-1',
      from: 'AWS_DEFAULT_REGION',
    });
    assert.deepEqual(await region({ AWS_REGION: 'eu-west-3', AWS_DEFAULT_REGION: 'us-west-1' }), {
      name: 'eu-west-3',
      from: 'AWS_REGION',
    });
    assert.deepEqual(
      await region(
        { AWS_REGION: 'eu-west-3' },
        'auth:\n  disabled: true\nupstream:\n  region: ca-central-1\n',
      ),
      { name: 'ca-central-1', from: 'upstream.region' },
    );
  });

  it('checks the token file without creating it, and reports with the file and the environment at once', async () => {
    const checked = await preflight(file, { env: bareEnv(dir, { AWS_REGION: 'us-east-1' }) });
    assert.equal(checked.config.auth.tokenFile, join(dir, 'run/token'));
    assert.equal(existsSync(join(dir, 'run')), false, 'preflight created the token folder');

    await writeFile(join(dir, 'plain'), 'not a folder');
    await writeFile(
      file,
      'listen: 0.0.0.0:1\ncache:\n  maxEntries: many\nauth:\n  tokenFile: plain/token\n',
    );
    assert.deepEqual(await problems(file, bareEnv(dir, { CREDCACHE_CACHE_MAX_ENTRIE: '1' })), [
      'CREDCACHE_CACHE_MAX_ENTRIE: names no configuration field; did you mean CREDCACHE_CACHE_MAX_ENTRIES?',
      'cache.maxEntries: must be a number',
      'listen: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
      'upstream.region: no region: set upstream.region, AWS_REGION or AWS_DEFAULT_REGION, or a region in the AWS profile',
      `auth.tokenFile: ${join(dir, 'plain/token')} cannot be read (ENOTDIR)`,
    ]);

    await writeFile(join(dir, 'short'), 'too short', { mode: 0o600 });
    await writeFile(file, 'auth:\n  tokenFile: short\n');
    assert.deepEqual(await problems(file, bareEnv(dir, { AWS_REGION: 'us-east-1' })), [
      `auth.tokenFile: ${join(dir, 'short')} holds 9 characters; a token needs at least 16`,
    ]);
  });
});
