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

export interface ManyFile { path: string; data: string | Buffer; mode?: number }

/**
 * Many files written atomically (`provision rewrap` rewrites every envelope of a fleet), cheaper
 * than writeFileAtomic in a loop: all temp files are written first (in parallel), flushed with one
 * syncfs per filesystem (`sync -f`, Linux) instead of one fsync each, then renamed, then each
 * directory is fsync'd once. Crash-safe like the single-file version (data is durable before any
 * rename), and all-or-nothing up to the rename phase: if any temp file cannot be written, no
 * target is replaced. Where `sync -f` is unavailable, each temp file is fsync'd instead.
 */
export async function writeFilesAtomic(files: ManyFile[], parallel = 16): Promise<void> {
  const { open, rename, unlink } = await import('node:fs/promises');
  const { spawnSync } = await import('node:child_process');
  const temps = files.map((f) => join(dirname(f.path), `.${basename(f.path)}.${randomBytes(6).toString('hex')}.tmp`));
  let next = 0;
  let failure: { path: string; err: unknown } | undefined;
  const writeTemp = async (i: number, fsync: boolean) => {
    const f = files[i]!;
    const fh = await open(temps[i]!, fsync ? 'r+' : 'wx', f.mode ?? 0o644);
    try {
      if (!fsync) {
        if (f.mode !== undefined) await fh.chmod(f.mode);
        await fh.writeFile(f.data);
      } else await fh.sync();
    } finally {
      await fh.close();
    }
  };
  const pool = async (fsync: boolean) => {
    next = 0;
    await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, async () => {
      while (next < files.length && !failure) {
        const i = next++;
        try { await writeTemp(i, fsync); } catch (err) { failure ??= { path: files[i]!.path, err }; }
      }
    }));
  };
  const cleanup = () => Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
  await pool(false);
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  if (!failure) {
    // One syncfs per directory's filesystem; fall back to per-file fsync if that is not possible.
    const synced = dirs.every((d) => spawnSync('sync', ['-f', d], { stdio: 'ignore' }).status === 0);
    if (!synced) await pool(true);
  }
  if (failure) {
    await cleanup();
    const code = (failure.err as NodeJS.ErrnoException).code ?? (failure.err as Error).message;
    throw new UsageError(`failed to write ${failure.path}: ${code}`);
  }
  for (let i = 0; i < files.length; i++) {
    try {
      await rename(temps[i]!, files[i]!.path);
    } catch (e) {
      await cleanup();
      throw new UsageError(`failed to write ${files[i]!.path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  for (const dir of dirs) {
    try {
      const fd = openSync(dir, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    } catch { /* some filesystems cannot fsync a directory; the renames are still atomic */ }
  }
}
