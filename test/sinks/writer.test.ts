/** The atomic write: the final mode at creation, the previous file kept when a step fails. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WriterFs, writeAtomically } from '../../src/sinks/writer.js';

describe('sink writer', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), 'credcache-writer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the file with exactly the mode asked for, whatever the umask', () => {
    const path = join(dir, 'creds');
    const previous = process.umask(0o077);
    try {
      writeAtomically(path, 'one\n', 0o640);
    } finally {
      process.umask(previous);
    }
    assert.equal(fs.readFileSync(path, 'utf8'), 'one\n');
    assert.equal(fs.statSync(path).mode & 0o777, 0o640);
    writeAtomically(path, 'two\n', 0o400);
    assert.equal(fs.readFileSync(path, 'utf8'), 'two\n');
    assert.equal(fs.statSync(path).mode & 0o777, 0o400);
    assert.deepEqual(fs.readdirSync(dir), ['creds'], 'no temporary file left');
  });

  for (const step of ['writeSync', 'fsyncSync', 'renameSync', 'fchmodSync'] as const) {
    it(`keeps the previous file, and leaves no temporary one, when ${step} fails`, () => {
      const path = join(dir, 'creds');
      writeAtomically(path, 'old\n', 0o600);
      const failing: WriterFs = {
        ...fs,
        [step]: () => {
          throw Object.assign(new Error(`${step} failed`), { code: 'EIO' });
        },
      };
      assert.throws(() => writeAtomically(path, 'new\n', 0o600, failing), { code: 'EIO' });
      assert.equal(fs.readFileSync(path, 'utf8'), 'old\n');
      assert.deepEqual(fs.readdirSync(dir), ['creds']);
    });
  }

  it('refuses to write an empty file, and fails with ENOTDIR when the folder is a file', () => {
    const path = join(dir, 'creds');
    writeAtomically(path, 'old\n', 0o600);
    assert.throws(() => writeAtomically(path, '', 0o600), { name: 'EmptyWrite' });
    assert.equal(fs.readFileSync(path, 'utf8'), 'old\n');
    assert.throws(() => writeAtomically(join(path, 'below'), 'x', 0o600), { code: 'ENOTDIR' });
  });
});
