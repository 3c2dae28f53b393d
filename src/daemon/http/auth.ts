/**
 * The credential endpoints' token: from a file (re-read when it changes), an inline value or
 * the environment, or generated into a file when none is configured. Clients send it raw in
 * `Authorization`, as AWS container-credential clients do, or as `Bearer <token>`; it is
 * compared in constant time. The token itself is never logged: only the file's path.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Clock } from '../../clock.js';

/** How often the token file is checked for a change while requests arrive. */
export const TOKEN_FILE_CHECK_MS = 1_000;
/** A token, inline or in a file, has at least this many characters (16, as docs/configuration.md states). */
export const MIN_TOKEN_LENGTH = 16;
/** The most of a token file that is read. */
const MAX_TOKEN_FILE_BYTES = 4_096;

/** Where the daemon writes a token when none is configured, and where `credcache get` looks. */
export function defaultTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_RUNTIME_DIR ?? join(tmpdir(), `credcache-${process.getuid?.() ?? 'user'}`);
  return join(base, 'credcache', 'token');
}

/** A new random token: 256 bits, URL-safe, so it is one header-safe word. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Mode of a token file the daemon writes, unless configured (`auth.tokenFileMode`). */
export const DEFAULT_TOKEN_FILE_MODE = 0o600;

/**
 * Writes a new token file (no trailing newline: clients send the bytes as they are), with
 * `mode` exactly (0600 by default; 0640 lets an app in the file's group read it).
 */
export function writeTokenFile(
  path: string,
  token = newToken(),
  mode = DEFAULT_TOKEN_FILE_MODE,
): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, token, { mode, flag: 'wx' });
  chmodSync(path, mode); // the process umask may have taken bits off
  return token;
}

/**
 * A token file's content, trimmed (a file written by hand usually ends in a newline). The file
 * must be a regular file (opened without blocking, so a FIFO cannot freeze the daemon), not
 * writable by group or others (anyone who can write it chooses the token), and hold at least
 * 16 characters. `field` names where the path came from, for the message.
 */
export function readTokenFile(path: string, field = 'auth.tokenFile'): string {
  const problem = (what: string) => new Error(`${field}: ${path} ${what}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw error;
    throw problem(`cannot be read (${code ?? String(error)})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw problem(`is not a regular file (${kindOf(stats)})`);
    if ((stats.mode & 0o022) !== 0) {
      throw problem(
        `is writable by group or others (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); chmod go-w it`,
      );
    }
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const token = buffer.toString('utf8', 0, length).trim();
    if (token === '') throw problem('is empty');
    if (token.length < MIN_TOKEN_LENGTH) {
      throw problem(`holds ${token.length} characters; a token needs at least ${MIN_TOKEN_LENGTH}`);
    }
    return token;
  } finally {
    closeSync(fd);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a file';
}

/**
 * Checks the folders of the default token location: each must be a directory (not a link)
 * owned by this user with no access for group or others, else another local user could have
 * planted a token there or swap it later. Throws naming the folder.
 */
export function checkPrivateDirectory(dir: string): void {
  const stats = lstatSync(dir);
  const uid = process.getuid?.();
  const problem = (what: string) =>
    new Error(`default token location: ${dir} ${what}; set auth.tokenFile, or remove it`);
  if (!stats.isDirectory()) throw problem('is not a directory');
  if (uid !== undefined && stats.uid !== uid) {
    throw problem(`is owned by uid ${stats.uid}, not by this user (uid ${uid})`);
  }
  if ((stats.mode & 0o077) !== 0) {
    throw problem(`has mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}, not 0700`);
  }
}

/**
 * Whether `presented` is `token`, in time that depends on the token's length only (like Go's
 * `subtle.ConstantTimeCompare`): every code unit of the token is compared, with no early exit,
 * so a wrong guess learns nothing of the token's characters. It allocates nothing: it runs on
 * every credential request (`crypto.timingSafeEqual` needs a Buffer of the header made first).
 * Past the end of a shorter `presented`, `charCodeAt` is NaN, which `^` reads as 0; the lengths
 * differing is itself a difference.
 */
export function sameToken(presented: string, token: string): boolean {
  let difference = presented.length ^ token.length;
  for (let index = 0; index < token.length; index += 1) {
    difference |= presented.charCodeAt(index) ^ token.charCodeAt(index);
  }
  return difference === 0;
}

/** The presented token of an `Authorization` header: raw, or after `Bearer `. */
export function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  return /^bearer /i.test(header) ? header.slice(7).trim() : header;
}

export type AuthMode =
  | { readonly kind: 'disabled' }
  | { readonly kind: 'token'; readonly origin: 'config' | 'environment' }
  | { readonly kind: 'file'; readonly path: string; readonly created: boolean };

export interface TokenAuthOptions {
  readonly clock: Clock;
  readonly disabled?: boolean;
  readonly token?: string | undefined;
  /** Where the token came from when `token` is set (for the start-up line). */
  readonly tokenOrigin?: 'config' | 'environment';
  readonly tokenFile?: string | undefined;
  /** Mode of a token file the daemon creates. */
  readonly tokenFileMode?: number | undefined;
  /** Told when the token file changed and was re-read, or could not be. */
  readonly onReload?: (event: { path: string; error?: string }) => void;
}

export class TokenAuth {
  readonly mode: AuthMode;
  readonly #clock: Clock;
  readonly #onReload: TokenAuthOptions['onReload'];
  #token: string | undefined;
  #fileStamp = '';
  #checkedAt = 0;
  #field = 'auth.tokenFile';

  constructor(options: TokenAuthOptions) {
    this.#clock = options.clock;
    this.#onReload = options.onReload;
    if (options.disabled) {
      this.mode = { kind: 'disabled' };
    } else if (options.token !== undefined) {
      this.mode = { kind: 'token', origin: options.tokenOrigin ?? 'config' };
      this.#token = options.token;
    } else {
      const configured = options.tokenFile !== undefined;
      const path = options.tokenFile ?? defaultTokenFile();
      const field = configured ? 'auth.tokenFile' : 'default token location';
      this.#field = field;
      if (!configured) {
        // Folders made here get 0700; any that already exist must be this user's alone.
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        for (const dir of privateFolders(path)) checkPrivateDirectory(dir);
      }
      let created = false;
      let token: string;
      try {
        token = readTokenFile(path, field);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        token = writeTokenFile(path, newToken(), options.tokenFileMode);
        created = true;
      }
      this.mode = { kind: 'file', path, created };
      this.#token = token;
      this.#fileStamp = stamp(path);
      this.#checkedAt = this.#clock.now();
    }
  }

  /** Whether an `Authorization` header value carries the token. */
  check(header: string | undefined): boolean {
    if (this.mode.kind === 'disabled') return true;
    return this.matches(presentedToken(header));
  }

  /**
   * Whether `presented` is the token itself, as it is (a proxy client's password: no `Bearer `,
   * nothing trimmed). False when authentication is disabled: there is no token to match.
   */
  matches(presented: string | undefined): boolean {
    if (this.mode.kind === 'disabled') return false;
    this.#maybeReload(TOKEN_FILE_CHECK_MS);
    if (presented === undefined) return false;
    if (this.#token && sameToken(presented, this.#token)) return true;
    // The file may have just been rotated: look again (a stat; the file is read only when it
    // changed), so a rotated token is accepted on the very next request.
    if (!this.#maybeReload(0)) return false;
    return this.#token !== undefined && sameToken(presented, this.#token);
  }

  /** Re-reads the token file when it changed; true when the token was replaced. */
  #maybeReload(minIntervalMs: number): boolean {
    if (this.mode.kind !== 'file') return false;
    const now = this.#clock.now();
    if (minIntervalMs > 0 && now - this.#checkedAt < minIntervalMs) return false;
    this.#checkedAt = now;
    const { path } = this.mode;
    const current = stamp(path);
    if (current === this.#fileStamp) return false;
    this.#fileStamp = current;
    try {
      this.#token = readTokenFile(path, this.#field);
      this.#onReload?.({ path });
      return true;
    } catch (error) {
      // Keep the last good token while the file is missing or being replaced.
      this.#onReload?.({ path, error: error instanceof Error ? error.message : String(error) });
      return false;
    }
  }
}

/** What identifies a version of the file: inode, size and modification time. */
function stamp(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The folders of the default location that must be private: the `credcache` folder, and the
 * per-user folder under the temporary directory when there is no XDG_RUNTIME_DIR (XDG_RUNTIME_DIR
 * itself is the system's, private by its own rules).
 */
export function privateFolders(path: string): string[] {
  const folder = dirname(path);
  const parent = dirname(folder);
  return parent.startsWith(join(tmpdir(), 'credcache-')) ? [parent, folder] : [folder];
}
