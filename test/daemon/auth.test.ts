/** The token: sources, header forms, constant-time checks, and the token file followed in virtual time. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  TokenAuth,
  defaultTokenFile,
  presentedToken,
  sameToken,
} from '../../src/daemon/http/auth.js';
import { ManualClock } from '../../src/clock.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'credcache-auth-'));
}

describe('token auth', () => {
  it('compares tokens exactly, whatever differs or wherever (property)', () => {
    const token = 'test-token-0123456789abcdef';
    assert.equal(sameToken(token, token), true);
    for (const other of ['', token.slice(0, -1), `${token}x`, `x${token}`, token.toUpperCase()]) {
      assert.equal(sameToken(other, token), false, JSON.stringify(other));
    }
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary', minLength: 1 }),
        (a, b) => assert.equal(sameToken(a, b), a === b),
      ),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 0xffff }),
        (b, at, flip) => {
          const index = at % b.length;
          const a =
            b.slice(0, index) +
            String.fromCharCode(b.charCodeAt(index) ^ flip) +
            b.slice(index + 1);
          assert.equal(sameToken(a, b), false);
        },
      ),
    );
  });

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

  it('follows a changed file: a rotated token is accepted on the very next request', async () => {
    const dir = await tempDir();
    const path = join(dir, 'token');
    await writeFile(path, 'old-token-0123456789\n');
    const clock = new ManualClock();
    const reloads: { path: string; error?: string }[] = [];
    const auth = new TokenAuth({ clock, tokenFile: path, onReload: (e) => reloads.push(e) });
    assert.equal(auth.check('old-token-0123456789'), true, 'trimmed');
    // Rotated the way secret stores do it: a new file renamed over the old one.
    await writeFile(`${path}.new`, 'new-token-longer-0123');
    await rename(`${path}.new`, path);
    assert.equal(auth.check('new-token-longer-0123'), true, 'no wait, no clock step');
    assert.equal(auth.check('old-token-0123456789'), false);
    assert.equal(reloads.length, 1);
    // A wrong token costs a look at the file (a stat), not a read, while it has not changed.
    assert.equal(auth.check('wrong-token-0123456789'), false);
    assert.equal(reloads.length, 1);
  });

  describe('token file rules', () => {
    const refused = async (setup: (path: string) => Promise<void>, pattern: RegExp) => {
      const dir = await tempDir();
      const path = join(dir, 'token');
      await setup(path);
      assert.throws(
        () => new TokenAuth({ clock: new ManualClock(), tokenFile: path }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(
            error.message,
            new RegExp(`^auth\\.tokenFile: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `),
          );
          assert.match(error.message, pattern);
          return true;
        },
      );
    };

    it('refuses a FIFO at once (the read would block the daemon)', async function () {
      this.timeout(3_000);
      await refused(async (path) => {
        execFileSync('mkfifo', [path]);
      }, /is not a regular file \(a FIFO\)/);
    });

    it('refuses a directory, naming the field and the path', async () => {
      await refused(
        (path) => mkdir(path).then(() => undefined),
        /is not a regular file \(a directory\)/,
      );
    });

    it('refuses a token shorter than 16 characters, as an inline token', async () => {
      await refused(
        (path) => writeFile(path, 'x\n'),
        /holds 1 characters; a token needs at least 16/,
      );
    });

    it('refuses a file group or others can write (whoever writes it picks the token)', async () => {
      for (const mode of [0o666, 0o620, 0o602]) {
        await refused(async (path) => {
          await writeFile(path, 'a-token-of-sixteen-or-more');
          await chmod(path, mode);
        }, /is writable by group or others \(mode 0\d{3}\); chmod go-w it/);
      }
      const dir = await tempDir();
      const path = join(dir, 'token');
      await writeFile(path, 'a-token-of-sixteen-or-more');
      await chmod(path, 0o644); // readable by all: what a Kubernetes secret volume gives
      assert.equal(
        new TokenAuth({ clock: new ManualClock(), tokenFile: path }).check(
          'a-token-of-sixteen-or-more',
        ),
        true,
      );
    });

    it('a file that turns bad after start is refused and the last good token kept', async () => {
      const dir = await tempDir();
      const path = join(dir, 'token');
      await writeFile(path, 'a-token-of-sixteen-or-more');
      const reloads: { path: string; error?: string }[] = [];
      const auth = new TokenAuth({
        clock: new ManualClock(),
        tokenFile: path,
        onReload: (e) => reloads.push(e),
      });
      await writeFile(`${path}.new`, 'planted-token-0123456789');
      await chmod(`${path}.new`, 0o666);
      await rename(`${path}.new`, path);
      assert.equal(auth.check('planted-token-0123456789'), false);
      assert.equal(auth.check('a-token-of-sixteen-or-more'), true);
      assert.match(reloads.at(-1)?.error ?? '', /writable by group or others/);
    });
  });

  describe('the default token location', () => {
    const withTmp = async (run: (tmp: string) => void | Promise<void>) => {
      const tmp = await tempDir();
      const { TMPDIR, XDG_RUNTIME_DIR } = process.env;
      process.env.TMPDIR = tmp;
      delete process.env.XDG_RUNTIME_DIR;
      try {
        await run(tmp);
      } finally {
        if (TMPDIR === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = TMPDIR;
        if (XDG_RUNTIME_DIR !== undefined) process.env.XDG_RUNTIME_DIR = XDG_RUNTIME_DIR;
      }
    };
    const uid = process.getuid?.() ?? 0;

    it('is made private (0700) when missing', async () => {
      await withTmp(async (tmp) => {
        const auth = new TokenAuth({ clock: new ManualClock() });
        assert.equal(auth.mode.kind === 'file' && auth.mode.created, true);
        const base = join(tmp, `credcache-${uid}`);
        assert.equal((await stat(base)).mode & 0o777, 0o700);
        assert.equal((await stat(join(base, 'credcache'))).mode & 0o777, 0o700);
      });
    });

    it('refuses a folder group or others can enter, or (as root) one another user made, naming it', async () => {
      await withTmp(async (tmp) => {
        const base = join(tmp, `credcache-${uid}`);
        await mkdir(join(base, 'credcache'), { recursive: true, mode: 0o700 });
        await chmod(join(base, 'credcache'), 0o755);
        assert.throws(
          () => new TokenAuth({ clock: new ManualClock() }),
          new RegExp(`^Error: default token location: ${base}/credcache has mode 0755, not 0700`),
        );
        await chmod(join(base, 'credcache'), 0o700);
        await chmod(base, 0o777);
        assert.throws(() => new TokenAuth({ clock: new ManualClock() }), /has mode 0777, not 0700/);
        await chmod(base, 0o700);
        // Pre-created by user nobody: only root can make that here (CI runs as root).
        if (uid === 0) {
          await chown(base, 65534, 65534);
          assert.throws(
            () => new TokenAuth({ clock: new ManualClock() }),
            new RegExp(
              `^Error: default token location: ${base} is owned by uid 65534, not by this user`,
            ),
          );
        }
      });
    });
  });

  it('keeps the last good token while the file is missing or empty', async () => {
    const dir = await tempDir();
    const path = join(dir, 'token');
    await writeFile(path, 'kept-token-0123456789');
    const clock = new ManualClock();
    const reloads: { path: string; error?: string }[] = [];
    const auth = new TokenAuth({ clock, tokenFile: path, onReload: (e) => reloads.push(e) });
    await rm(path);
    clock.advance(1_000);
    assert.equal(auth.check('kept-token-0123456789'), true);
    await writeFile(path, '  \n');
    clock.advance(1_000);
    assert.equal(auth.check('kept-token-0123456789'), true);
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
