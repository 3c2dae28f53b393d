/**
 * What a newcomer runs from a fresh clone: `npx credcache` resolving the package's own bin, and
 * `credcache get` with no --config finding the daemon `npm start` runs (the example config):
 * the same listen address and the same token file, from any directory.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import { defaultTokenFile } from '../../src/daemon/http/auth.js';
import { VERSION } from '../../src/version.js';
import { BIN, ENV, serveProcess, stopProcess } from '../support/process.js';

const run = promisify(execFile);
const REPO = new URL('../..', import.meta.url).pathname;
const EXAMPLE = join(REPO, 'examples', 'credcache.yaml');

describe('a fresh clone (process)', function () {
  this.timeout(30_000);

  it('`npx credcache` runs the package’s own bin from the repository and from a folder in it', async function () {
    // npm's own start-up is most of it (~1.5 s alone, ~5 s under `npm test`); a CI machine busy
    // with other work has taken over 30 s for the two.
    this.timeout(150_000);
    for (const cwd of [REPO, join(REPO, 'examples')]) {
      // --no-install: never ask the registry; the name must resolve to this package's bin.
      const { stdout } = await run('npx', ['--no-install', 'credcache', '--version'], {
        cwd,
        env: ENV,
      });
      assert.equal(stdout.trim(), VERSION, `from ${cwd}`);
    }
  });

  it('the example config listens and keeps its token where `credcache get` looks with no --config', async () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/4242' };
    const example = await loadConfig(EXAMPLE, env);
    const defaults = await loadConfig(undefined, env);
    assert.deepEqual(example.listen, defaults.listen);
    assert.equal(
      example.auth.tokenFile,
      undefined,
      'the example leaves the token file to the default',
    );
    assert.equal(defaults.auth.tokenFile, undefined);
    assert.equal(defaultTokenFile(env), '/run/user/4242/credcache/token');
  });

  it('`credcache get orders` with no --config, from another directory, reads what `npm start`’s daemon serves', async () => {
    const runtime = await mkdtemp(join(tmpdir(), 'credcache-runtime-'));
    // The example config as `npm start` runs it, on a free port (9911 may be taken here).
    const env = { ...ENV, XDG_RUNTIME_DIR: runtime, CREDCACHE_LISTEN: '127.0.0.1:0' };
    const daemon = await serveProcess(['--emulator', '--config', EXAMPLE], env);
    try {
      assert.deepEqual(daemon.started.auth, {
        tokenFile: join(runtime, 'credcache', 'token'),
        created: true,
      });
      const elsewhere = await mkdtemp(join(tmpdir(), 'credcache-cwd-'));
      const { stdout } = await run(process.execPath, [BIN, 'get', 'orders'], {
        cwd: elsewhere,
        env: { ...ENV, XDG_RUNTIME_DIR: runtime, CREDCACHE_LISTEN: daemon.url.slice(7) },
      });
      const credentials = JSON.parse(stdout) as Record<string, unknown>;
      assert.equal(credentials.Version, 1);
      assert.match(String(credentials.AccessKeyId), /^ASIA/);
    } finally {
      await stopProcess(daemon);
    }
  });
});
