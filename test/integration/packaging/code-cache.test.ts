// The executable's code cache (src/bin.cts): on Node 20 fleetvault keeps V8's code cache of its own
// bundle in $NODE_COMPILE_CACHE (default $TMPDIR/node-compile-cache). It is only a speed-up: a
// corrupt, foreign, symlinked or shared-writable cache is never used or followed, and the CLI
// works either way. On Node ≥ 22.1 Node's own compile cache does the job (module.enableCompileCache).
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { CLI, runCli } from '../../support/cli.js';
import { test, expect } from '../../support/context.js';

const nodeHasCompileCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
const version = JSON.parse(readFileSync(join(CLI, '..', '..', 'package.json'), 'utf8')).version as string;

async function fv(cacheDir: string) {
  const r = await runCli(['--version'], { env: { NODE_COMPILE_CACHE: cacheDir } });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe(version);
}

const ours = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('fleetvault-')) : []);

test('a fresh cache is 0600 in a 0700 dir, then reused; a corrupt one is replaced', { skip: nodeHasCompileCache }, async ({ tmp }) => {
  const dir = join(tmp, 'cc');
  await fv(dir);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  const [file] = ours(dir);
  expect(file).toMatch(/^fleetvault-v20\.[\d.]+-x64(-\d+){5}\.v8$/);
  expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);
  const bytes = readFileSync(join(dir, file!));
  await fv(dir);
  expect(readFileSync(join(dir, file!)).equals(bytes)).toBe(true); // accepted, not rewritten
  writeFileSync(join(dir, file!), 'garbage', { mode: 0o600 });
  await fv(dir); // V8 rejects it; the CLI compiles normally and writes a good one
  expect(readFileSync(join(dir, file!)).length).toBeGreaterThan(1000);
  expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
});

test('a cache dir others can write is not used; a symlinked cache file is not followed', { skip: nodeHasCompileCache }, async ({ tmp }) => {
  const shared = join(tmp, 'shared');
  mkdirSync(shared, { mode: 0o777 });
  chmodSync(shared, 0o777);
  await fv(shared);
  expect(ours(shared)).toEqual([]);

  const dir = join(tmp, 'cc');
  await fv(dir);
  const [file] = ours(dir);
  const target = join(tmp, 'victim');
  writeFileSync(target, 'do not touch', { mode: 0o600 });
  const link = join(dir, file!);
  // Replace the cache with a link: it is neither read through nor written through.
  unlinkSync(link);
  symlinkSync(target, link);
  await fv(dir);
  expect(readFileSync(target, 'utf8')).toBe('do not touch');
  // The rename replaced the link itself with a real file.
  expect(lstatSync(link).isSymbolicLink()).toBe(false);
});

test('on Node with its own compile cache the CLI uses that one', { skip: !nodeHasCompileCache }, async ({ tmp }) => {
  const dir = join(tmp, 'cc');
  await fv(dir);
  await fv(dir);
  expect(ours(dir)).toEqual([]);
});

