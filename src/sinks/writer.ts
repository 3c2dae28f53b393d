/**
 * Writes a file so that a reader finds the previous content or the new one, whole, and never an
 * empty or half-written file: a temporary file in the same folder, created with the final mode
 * (then set again with fchmod, which the umask does not narrow), written, flushed to disk, and
 * renamed over the path. A write that fails anywhere leaves the previous file as it was and
 * removes its temporary file. Synchronous on purpose: the caller (a cache listener) must see the
 * file in place before the credential it holds is served.
 */
import * as nodeFs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** The file-system calls a write makes (node:fs by default; tests hand in failing ones). */
export type WriterFs = Pick<
  typeof nodeFs,
  'openSync' | 'writeSync' | 'fchmodSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'unlinkSync'
>;

/** A write of nothing, refused: a sink is never left empty. */
export class EmptyWrite extends Error {
  override readonly name = 'EmptyWrite';
  constructor() {
    super('refusing to write an empty file');
  }
}

/** Replaces the file at `path` with `text`, mode `mode`, atomically; throws when it cannot. */
export function writeAtomically(
  path: string,
  text: string,
  mode: number,
  fs: WriterFs = nodeFs,
): void {
  if (text.length === 0) throw new EmptyWrite();
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = fs.openSync(temporary, 'wx', mode);
  let renamed = false;
  try {
    try {
      fs.fchmodSync(fd, mode);
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < bytes.length) {
        written += fs.writeSync(fd, bytes, written, bytes.length - written);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        fs.unlinkSync(temporary);
      } catch {
        // Already gone, or the folder refuses: nothing more to do.
      }
    }
  }
}
