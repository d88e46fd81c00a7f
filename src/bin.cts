#!/usr/bin/env node
// The `fleetvault` executable. It loads the whole CLI, bundled into one CommonJS file
// (dist/cli.cjs), with V8's code cache: compiling that file was the largest part of every short
// command's start-up, and Node 20 has no compile cache of its own (module.enableCompileCache
// arrived in 22.1, where it is used instead). CommonJS also skips Node's ESM loader and the
// modules it loads for itself (fs/promises, streams, readline).
//
// The cache is V8 bytecode of fleetvault's own source, nothing the user typed: it sits where Node
// 22+ keeps its compile cache ($NODE_COMPILE_CACHE or $TMPDIR/node-compile-cache), in a directory
// this user owns that nobody else can write, is read without following symlinks, written
// temp + rename (0600), and keyed by Node version, architecture and the bundle's size, mtime,
// device, inode and ctime.
// V8 itself rejects a cache that does not match the source; any cache problem just means a
// normal compile. Nothing here may make the CLI fail. It runs before the bundle is loaded, so it
// uses node: built-ins only (not src/fs/atomic.ts, which lives inside the bundle).
import * as nodeModule from 'node:module';
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CLI = join(__dirname, 'cli.cjs');

type ModuleCtor = typeof nodeModule.Module & {
  new (id: string, parent?: unknown): NodeJS.Module & { paths: string[]; filename: string; loaded: boolean };
  _nodeModulePaths(dir: string): string[];
};

/** A cache directory only this user can write, or undefined (then no cache is used). */
function cacheDir(): string | undefined {
  const explicit = process.env.NODE_COMPILE_CACHE;
  const dir = explicit || join(tmpdir(), 'node-compile-cache');
  try {
    // Only the cache directory itself: a TMPDIR that does not exist means no cache, never a
    // directory tree made where TMPDIR pointed (as root, anywhere). NODE_COMPILE_CACHE is the
    // user's explicit choice and is created whole, as Node does.
    try { mkdirSync(dir, { recursive: Boolean(explicit), mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    // Every directory above it: ours or root's, and not writable by others unless sticky (/tmp).
    // Else whoever may write there can move our directory away and put theirs in its place.
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

function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const uid = process.getuid?.();
    if (uid !== undefined && fstatSync(fd).uid !== uid) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    try { unlinkSync(tmp); } catch { /* never created */ }
  }
}

function runWithCodeCache(): void {
  const st = statSync(CLI);
  const dir = cacheDir();
  // V8 checks only the source's length: the key must tell apart two bundles of the same size and
  // mtime (Nix stores every file with mtime 1, reproducible builds clamp mtimes, two installs side
  // by side). Device, inode and ctime name this file as written: no packager sets a ctime.
  const file = dir && join(dir, `fleetvault-${process.version}-${process.arch}-${st.size}-${Math.floor(st.mtimeMs)}-${st.dev}-${st.ino}-${Math.floor(st.ctimeMs)}.v8`);
  const cachedData = file ? readCache(file) : undefined;
  // The shebang line is not JavaScript inside a function wrapper; keep the line count for stacks.
  const source = readFileSync(CLI, 'utf8').replace(/^#!.*/, '');
  const Module = nodeModule.Module as ModuleCtor;
  // Required here, not at the top: `--help` (fastHelp below) never gets this far.
  const { Script, constants: vmConstants } = require('node:vm') as typeof import('node:vm');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: CLI,
    cachedData,
    importModuleDynamically: vmConstants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  } as ConstructorParameters<typeof Script>[1]);
  if (file && (!cachedData || script.cachedDataRejected)) {
    // After the command ran, so the cache holds the functions it compiled too.
    process.once('exit', () => writeCache(file, script.createCachedData()));
  }
  const m = new Module(CLI, module);
  m.filename = CLI;
  m.paths = Module._nodeModulePaths(dirname(CLI));
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: unknown, f: string, d: string) => void;
  fn.call(m.exports, m.exports, nodeModule.createRequire(CLI), m, CLI, dirname(CLI));
  m.loaded = true;
}

/** `fleetvault … --help` from the table the build rendered with yargs (src/fast-help.cts), if it can. */
function fastHelp(): boolean {
  const last = process.argv[process.argv.length - 1];
  if (last !== '--help' && last !== '-h') return false;
  try {
    return (require('./fast-help.cjs') as typeof import('./fast-help.cjs')).printFastHelp(__dirname, process.argv.slice(2));
  } catch {
    return false; // a copy of bin.cjs without it: yargs answers
  }
}

const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
if (fastHelp()) {
  // `fleetvault … --help`, printed from the table the build rendered with yargs (src/fast-help.cts).
} else if (enable) {
  // Node's own default ($TMPDIR/node-compile-cache/<version-arch-hash-uid>) is shared by every
  // user of /tmp and Node checks neither owner nor mode: whoever creates those directories first
  // can swap an entry for bytecode of any same-length source (V8 checks only the length), which
  // would then run as us. Only the directory cacheDir() vouches for is handed to Node; Node
  // creates its tag directory inside it, where nobody else can write. (With NODE_COMPILE_CACHE set,
  // Node enabled it at start-up already: the user's choice, and this call is a no-op.)
  const dir = process.env.NODE_COMPILE_CACHE ? undefined : cacheDir();
  if (dir) enable(dir);
  require(CLI);
} else {
  runWithCodeCache();
}
