// Node ≥ 22.1's compile cache, only in a directory this user owns that nobody else can write (the
// same rule as src/bin.cts, which cannot import this: it runs before the bundle is loaded).
// Node's default, $TMPDIR/node-compile-cache/<version-arch-hash-uid>, is shared by every user of
// /tmp and Node checks neither owner nor mode there: whoever creates those directories first can
// swap an entry for bytecode of any same-length source, which would then run as us.
import * as nodeModule from 'node:module';
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** $NODE_COMPILE_CACHE or $TMPDIR/node-compile-cache if it is private to this user, else undefined. */
export function privateCompileCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.NODE_COMPILE_CACHE;
  const dir = explicit || join(tmpdir(), 'node-compile-cache');
  try {
    // Only the cache directory itself: a TMPDIR that does not exist means no cache, never a
    // directory tree made where TMPDIR pointed (as root, anywhere). NODE_COMPILE_CACHE is the
    // user's explicit choice and is created whole, as Node does.
    try { mkdirSync(dir, { recursive: Boolean(explicit), mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    for (let d = dirname(resolve(dir)), prev = ''; d !== prev; prev = d, d = dirname(d)) {
      const a = statSync(d);
      if (uid !== undefined && a.uid !== uid && a.uid !== 0) return undefined;
      if ((a.mode & 0o022) !== 0 && (a.mode & 0o1000) === 0) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}

/** Turn Node's compile cache on in a private directory (no-op on Node 20 or when none qualifies). */
export function enablePrivateCompileCache(): void {
  const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  // With NODE_COMPILE_CACHE set Node enabled it at start-up itself (the user's choice).
  if (!enable || process.env.NODE_COMPILE_CACHE) return;
  const dir = privateCompileCacheDir();
  if (dir) enable(dir);
}
