/** The token: sources, header forms, constant-time checks, and the token file followed in virtual time. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenAuth, defaultTokenFile, presentedToken } from '../../src/daemon/auth.js';
import { ManualClock } from '../../src/clock.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'credcache-auth-'));
}

describe('token auth', () => {
  it('reads the raw header value or a Bearer token', () => {
    assert.equal(presentedToken('abc'), 'abc');
    assert.equal(presentedToken('Bearer abc'), 'abc');
    assert.equal(presentedToken('bearer  abc '), 'abc');
    assert.equal(presentedToken(''), undefined);
    assert.equal(presentedToken(undefined), undefined);
  });

  it('checks an inline token; disabled accepts anything', () => {
    const auth = new TokenAuth({ clock: new ManualClock(), token: 'sixteen-chars-token' });
    assert.equal(auth.check('sixteen-chars-token'), true);
    assert.equal(auth.check('Bearer sixteen-chars-token'), true);
    assert.equal(auth.check('sixteen-chars-tokem'), false);
    assert.equal(auth.check('sixteen'), false);
    assert.equal(auth.check(undefined), false);
    const open = new TokenAuth({ clock: new ManualClock(), disabled: true });
    assert.equal(open.check(undefined), true);
    assert.deepEqual(open.mode, { kind: 'disabled' });
  });

  it('creates a missing token file: random, 0600, no trailing newline', async () => {
    const dir = await tempDir();
    const path = join(dir, 'nested', 'token');
    const auth = new TokenAuth({ clock: new ManualClock(), tokenFile: path });
    assert.deepEqual(auth.mode, { kind: 'file', path, created: true });
    const token = await readFile(path, 'utf8');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(auth.check(token), true);
    const again = new TokenAuth({ clock: new ManualClock(), tokenFile: path });
    assert.equal(again.mode.kind === 'file' && again.mode.created, false, 'reused, not rewritten');
    assert.equal(again.check(token), true);
  });

  it('creates the file group-readable when told to (0640), whatever the umask', async () => {
    const dir = await tempDir();
    const path = join(dir, 'token');
    const previous = process.umask(0o077);
    try {
      new TokenAuth({ clock: new ManualClock(), tokenFile: path, tokenFileMode: 0o640 });
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(path)).mode & 0o777, 0o640);
  });

  it('follows a changed file: the new token at once, the old one within a second', async () => {
    const dir = await tempDir();
    const path = join(dir, 'token');
    await writeFile(path, 'old-token\n');
    const clock = new ManualClock();
    const reloads: { path: string; error?: string }[] = [];
    const auth = new TokenAuth({ clock, tokenFile: path, onReload: (e) => reloads.push(e) });
    assert.equal(auth.check('old-token'), true, 'trimmed');
    await writeFile(path, 'new-token-longer');
    clock.advance(50);
    assert.equal(auth.check('new-token-longer'), false, 'at most one look per 100 ms');
    clock.advance(50);
    assert.equal(auth.check('new-token-longer'), true, 'a mismatch looks again');
    assert.equal(auth.check('old-token'), false);
    assert.equal(reloads.length, 1);
  });

  it('keeps the last good token while the file is missing or empty', async () => {
    const dir = await tempDir();
    const path = join(dir, 'token');
    await writeFile(path, 'kept-token');
    const clock = new ManualClock();
    const reloads: { path: string; error?: string }[] = [];
    const auth = new TokenAuth({ clock, tokenFile: path, onReload: (e) => reloads.push(e) });
    await rm(path);
    clock.advance(1_000);
    assert.equal(auth.check('kept-token'), true);
    await writeFile(path, '  \n');
    clock.advance(1_000);
    assert.equal(auth.check('kept-token'), true);
    assert.match(reloads.at(-1)?.error ?? '', /is empty/);
  });

  it('puts the default token file under XDG_RUNTIME_DIR when set', () => {
    assert.equal(
      defaultTokenFile({ XDG_RUNTIME_DIR: '/run/user/1000' }),
      '/run/user/1000/credcache/token',
    );
    assert.match(defaultTokenFile({}), /credcache-.*\/credcache\/token$/);
  });
});
