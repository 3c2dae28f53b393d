/**
 * `credcache --version` as a process, and the one place the number comes from (package.json),
 * read the same from src/ (under tsx) as from dist/ (built).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { VERSION } from '../../src/version.js';
import { BIN, ENV } from '../support/process.js';

const run = promisify(execFile);

describe('credcache --version (process)', function () {
  this.timeout(20_000);

  it("prints package.json's version and exits 0", async () => {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    assert.match(pkg.version, /^\d+\.\d+\.\d+/);
    assert.equal(VERSION, pkg.version);
    const { stdout, stderr } = await run(process.execPath, [BIN, '--version'], { env: ENV });
    assert.equal(stdout, `${pkg.version}\n`);
    assert.equal(stderr, '');
  });
});
