// Files that matter are written whole or not at all: temp file in the same directory, fsync,
// rename over the target, fsync the directory. A crash leaves the old file or the new one.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, chmodSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

export interface AtomicWriteOptions {
  mode?: number;
  /** Read the file back after the rename and compare (config.json on FAT). */
  verify?: boolean;
}

export function writeFileAtomic(path: string, data: string | Buffer, o: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let fd: number | undefined;
  try {
    // 'wx': never follow or reuse an existing file at the temp name.
    fd = openSync(tmp, 'wx', o.mode ?? 0o644);
    if (o.mode !== undefined) chmodSync(tmp, o.mode); // umask must not widen or narrow it
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* may not exist */ }
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`failed to write ${path}: ${code}`);
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems cannot fsync a directory; the rename is still atomic */ }
  if (o.verify && !readFileSync(path).equals(buf)) {
    throw new UsageError(`failed to write ${path}: read-back differs from what was written`);
  }
}

/** Read a user-named input file, or fail with exit 1 and a one-line reason. */
export function readInputFile(path: string, what: string, maxBytes = 8 * 1024 * 1024): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code ?? String(e);
    throw new UsageError(`failed to read ${what} ${path}: ${why}`);
  }
  if (data.length > maxBytes) throw new UsageError(`failed to read ${what} ${path}: larger than ${maxBytes} bytes`);
  return data;
}
