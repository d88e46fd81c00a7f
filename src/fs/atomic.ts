// Files that matter are written whole or not at all: temp file in the same directory, fsync,
// rename over the target, fsync the directory. A crash leaves the old file or the new one.
//
// Symlinks: nothing is ever written *through* an existing link. The temp file is created with
// O_CREAT|O_EXCL|O_NOFOLLOW (a link planted at its random name makes the open fail), and rename()
// replaces a link at the target rather than following it. What happens when the target itself is a
// link is the caller's choice (`symlink`): 'refuse' (the default: a planted link is refused, one
// line), 'resolve' (the user's own config.json may be a link: the file it points to is replaced in
// its own directory and the link stays, never replaced by a copy) or 'replace' (files we derive
// the name of, like backups: the link itself is replaced by a regular file, so a link planted next
// to config.json cannot redirect the backup — and the apiKey in it — anywhere).
import { closeSync, constants, fsyncSync, lstatSync, openSync, realpathSync, renameSync, unlinkSync, writeSync, fchmodSync, readFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

export type SymlinkPolicy = 'refuse' | 'resolve' | 'replace';

export interface AtomicWriteOptions {
  mode?: number;
  /** Read the file back after the rename and compare (config.json on FAT). */
  verify?: boolean;
  /** What to do when `path` is a symbolic link (see above). Default 'refuse'. */
  symlink?: SymlinkPolicy;
}

const WHY: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'a file appeared at the temporary name',
  ELOOP: 'a symbolic link was planted at the temporary name',
  EIO: 'I/O error',
  EFBIG: 'file too large for this file system',
  ENAMETOOLONG: 'name too long',
};

/** "no space left on device (ENOSPC)": a filesystem error as words, for one-line messages. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code) return WHY[code] ? `${WHY[code]} (${code})` : code;
  return e instanceof UsageError ? e.message : String((e as Error)?.message ?? e);
}

function writeFailed(path: string, e: unknown): UsageError {
  if (e instanceof UsageError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const hint = code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space and run it again; the file was left as it was'
    : code === 'EROFS' ? 'remount it read-write or write somewhere else; the file was left as it was'
      : 'the file was left as it was';
  return new UsageError(`failed to write ${path}: ${describeFsError(e)}`, { hint });
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The path a write really replaces, after applying the symlink policy: `path` itself, or the real
 * path of the file a link points to ('resolve'). Throws a one-line UsageError for a refused link.
 */
export function writeTarget(path: string, policy: SymlinkPolicy = 'refuse'): string {
  let st: Stats | undefined;
  try {
    st = lstatOrUndefined(path);
  } catch (e) {
    throw writeFailed(path, e);
  }
  if (!st?.isSymbolicLink() || policy === 'replace') return path;
  if (policy === 'refuse') {
    throw new UsageError(`refusing to write ${path}: it is a symbolic link`, { hint: 'remove the link or name the real file' });
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new UsageError(`refusing to write ${path}: it is a symbolic link that does not resolve to a file (missing or a loop)`, { hint: 'remove the link or name the real file' });
  }
  if (!lstatSync(real).isFile()) throw new UsageError(`refusing to write ${path}: it links to something that is not a regular file`);
  return real;
}

function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

// O_EXCL already refuses an existing name (link or not); O_NOFOLLOW says so explicitly.
const CREATE_EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/**
 * Open an append-only log (journals) for writing, mode 0600 when created. Appends cannot be temp +
 * rename, so the one rule left is the link rule: O_NOFOLLOW refuses a symlink planted at the name.
 */
export function openAppendLog(path: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new UsageError(`refusing to write ${path}: it is a symbolic link`, { hint: 'remove the link or name the real file' });
    throw writeFailed(path, e);
  }
}

/** Returns the path actually written (the real file when a link was resolved). */
export function writeFileAtomic(path: string, data: string | Buffer, o: AtomicWriteOptions = {}): string {
  const target = writeTarget(path, o.symlink);
  const dir = dirname(target);
  const tmp = tempNameFor(target);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, CREATE_EXCL, o.mode ?? 0o644);
    if (o.mode !== undefined) fchmodSync(fd, o.mode); // umask must not widen or narrow it
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* may not exist */ }
    throw writeFailed(path, e);
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems cannot fsync a directory; the rename is still atomic */ }
  if (o.verify) {
    let back: Buffer;
    try { back = readFileSync(target); } catch (e) { throw new UsageError(`failed to read back ${path}: ${describeFsError(e)}`); }
    if (!back.equals(buf)) throw new UsageError(`failed to write ${path}: read-back differs from what was written`);
  }
  return target;
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

export interface ManyFile { path: string; data: string | Buffer; mode?: number; symlink?: SymlinkPolicy }

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
  // Symlink policy checked for every target before anything is written: all or nothing.
  const targets = files.map((f) => writeTarget(f.path, f.symlink));
  const temps = targets.map(tempNameFor);
  let next = 0;
  let failure: { path: string; err: unknown } | undefined;
  const writeTemp = async (i: number, fsync: boolean) => {
    const f = files[i]!;
    const fh = await open(temps[i]!, fsync ? constants.O_RDWR | (constants.O_NOFOLLOW ?? 0) : CREATE_EXCL, f.mode ?? 0o644);
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
  const dirs = [...new Set(targets.map((t) => dirname(t)))];
  if (!failure) {
    // One syncfs per directory's filesystem; fall back to per-file fsync if that is not possible.
    const synced = dirs.every((d) => spawnSync('sync', ['-f', d], { stdio: 'ignore' }).status === 0);
    if (!synced) await pool(true);
  }
  if (failure) {
    await cleanup();
    throw writeFailed(failure.path, failure.err);
  }
  for (let i = 0; i < files.length; i++) {
    try {
      await rename(temps[i]!, targets[i]!);
    } catch (e) {
      await cleanup();
      throw writeFailed(files[i]!.path, e);
    }
  }
  for (const dir of dirs) {
    try {
      const fd = openSync(dir, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    } catch { /* some filesystems cannot fsync a directory; the renames are still atomic */ }
  }
}
