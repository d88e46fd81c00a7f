// src/bin.cts on Node >= 22.1 (module.enableCompileCache): the compile cache of fleetvault's own
// bundle must be as safe there as the Node 20 loader's. Node's default location,
// $TMPDIR/node-compile-cache/<version-arch-hash-uid>, is shared by every user of /tmp, and Node
// neither checks who owns that directory nor who may write it. Another local user who creates it
// (and the victim's per-uid tag dir inside, 0777) before the victim's first run can swap a cache
// entry for bytecode compiled from any source of the same length (V8 checks only the length; Node's
// CRC of the source is copied from the genuine entry): the victim then runs the attacker's code.
// Here one uid plays both parts: the attacker's directories are simply world-writable.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'dist', 'bin.cjs');
const CLI_CJS = join(root, 'dist', 'cli.cjs');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const nodes = ['node-22', 'node-24'].map((n) => [n, join(root, '.tools', n, 'bin', 'node')] as const).filter(([, p]) => existsSync(p));

const work = mkdtempSync(join(tmpdir(), 'fv-bin-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(node: string, env: Record<string, string>): string {
  // No NODE_COMPILE_CACHE: the default location, as a user who never heard of it runs fleetvault.
  return execFileSync(node, [BIN, '--version'], { env: { PATH: process.env.PATH ?? '', HOME: work, ...env }, encoding: 'utf8' }).trim();
}

describe.skipIf(!nodes.length)('bin.cjs with Node\'s own compile cache', () => {
  for (const [name, node] of nodes) {
    it(`${name}: a world-writable $TMPDIR/node-compile-cache planted by someone else is not used (no foreign bytecode runs)`, () => {
      // 1. Learn the victim's tag dir and the entry name of dist/cli.cjs from a private run.
      const priv = join(work, `${name}-private`);
      mkdirSync(priv);
      expect(run(node, { TMPDIR: priv })).toBe(version);
      const [tag] = readdirSync(join(priv, 'node-compile-cache'));
      const tagDir = join(priv, 'node-compile-cache', tag!);
      // The bundle's entry is the big one.
      const [entry] = readdirSync(tagDir).sort((a, b) => statSync(join(tagDir, b)).size - statSync(join(tagDir, a)).size);
      const genuine = readFileSync(join(tagDir, entry!));

      // 2. The attacker: bytecode of a same-length source that drops a marker file.
      const marker = join(work, `${name}-pwned`);
      const src = readFileSync(CLI_CJS, 'utf8');
      const payload = `require("fs").writeFileSync(${JSON.stringify(marker)},"x");`;
      const evil = payload + '/*' + 'x'.repeat(src.length - payload.length - 4) + '*/';
      expect(evil.length).toBe(src.length);
      const atk = join(work, `${name}-atk`);
      mkdirSync(atk);
      writeFileSync(join(atk, 'cli.cjs'), evil);
      execFileSync(node, [join(atk, 'cli.cjs')], { env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: join(atk, 'cc') } });
      rmSync(marker, { force: true });
      const [atkTag] = readdirSync(join(atk, 'cc'));
      const [atkEntry] = readdirSync(join(atk, 'cc', atkTag!));
      const forged = readFileSync(join(atk, 'cc', atkTag!, atkEntry!));
      forged.writeUInt32LE(genuine.readUInt32LE(12), 12); // Node's CRC32 of the genuine source

      // 3. The shared TMPDIR, prepared before the victim's first run.
      const shared = join(work, `${name}-shared`);
      const planted = join(shared, 'node-compile-cache', tag!);
      mkdirSync(planted, { recursive: true });
      chmodSync(join(shared, 'node-compile-cache'), 0o777);
      chmodSync(planted, 0o777);
      writeFileSync(join(planted, entry!), forged);

      // 4. The victim runs fleetvault.
      expect(run(node, { TMPDIR: shared })).toBe(version);
      expect(existsSync(marker), 'the attacker\'s bytecode ran inside fleetvault').toBe(false);
      // …and nothing else it loads later (dist/vendor/node-vault.cjs on any Vault command; the
      // bundle itself calls enableCompileCache too) goes through that directory either.
      const key = join(work, `${name}-id`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const signed = spawnSync(node, [BIN, 'cert', 'sign', '--public-key', `${key}.pub`], {
        env: { PATH: process.env.PATH ?? '', HOME: work, TMPDIR: shared, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'x', FLEETVAULT_SIGNING_CACHE: '0' }, encoding: 'utf8',
      });
      expect(signed.stderr).toMatch(/cannot reach Vault/); // node-vault was loaded
      expect(readdirSync(planted).sort()).toEqual([entry!]);
    });
  }
});

// The Node 20 loader keys its V8 cache by Node version, arch and the bundle's size and mtime — not its
// path or content — and V8 itself checks only the source's length. Two installs whose bundles have
// the same size and mtime (Nix sets every mtime to 1, reproducible builds clamp them, an upgrade
// whose fix changed `<` to `>`) share one entry: the second runs the first one's bytecode.
const node20 = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache !== 'function';
describe.skipIf(!node20)('bin.cjs on Node 20', () => {
  it('a different bundle of the same size and mtime never runs the other one\'s cached bytecode', () => {
    const cc = join(work, 'n20-cc');
    const dirs = ['a', 'b'].map((n) => join(work, `n20-${n}`));
    const marker = 'start a local OpenBao dev server';
    for (const [i, d] of dirs.entries()) {
      mkdirSync(join(d, 'dist'), { recursive: true });
      writeFileSync(join(d, 'package.json'), readFileSync(join(root, 'package.json')));
      symlinkSync(join(root, 'node_modules'), join(d, 'node_modules'));
      writeFileSync(join(d, 'dist', 'bin.cjs'), readFileSync(BIN));
      const src = readFileSync(CLI_CJS, 'utf8');
      expect(src).toContain(marker);
      // Same length, different text: what a one-character fix looks like.
      writeFileSync(join(d, 'dist', 'cli.cjs'), i === 0 ? src : src.replace(marker, marker.replace('local', 'LOCAL')));
      utimesSync(join(d, 'dist', 'cli.cjs'), 1, 1);
    }
    const help = (d: string) => execFileSync(process.execPath, [join(d, 'dist', 'bin.cjs'), '--help'], {
      env: { PATH: process.env.PATH ?? '', HOME: work, NODE_COMPILE_CACHE: cc, COLUMNS: '100' }, encoding: 'utf8',
    });
    expect(help(dirs[0]!)).toContain('start a local OpenBao');
    expect(help(dirs[1]!)).toContain('start a LOCAL OpenBao');
    expect(help(dirs[0]!)).toContain('start a local OpenBao');
  });
});

describe('bin.cjs compile cache directory', () => {
  const all = [...nodes, ['node', process.execPath] as const];
  it.runIf(process.env.CI === 'true')('CI has Node 22 and 24 (.tools/node-22, .tools/node-24: bash scripts/install-tools.sh)', () => {
    expect(nodes.map(([n]) => n)).toEqual(['node-22', 'node-24']);
  });
  for (const [name, node] of all) {
    it(`${name}: a TMPDIR that does not exist gets no cache and no directory made for it`, () => {
      const missing = join(work, `${name}-missing`, 'deeper');
      expect(run(node, { TMPDIR: missing })).toBe(version);
      expect(existsSync(join(work, `${name}-missing`))).toBe(false);
    });
    it(`${name}: no cache under a TMPDIR others can write without the sticky bit (they could swap the cache dir)`, () => {
      const open = join(work, `${name}-open`);
      mkdirSync(open);
      chmodSync(open, 0o777);
      expect(run(node, { TMPDIR: open })).toBe(version);
      const cc = join(open, 'node-compile-cache');
      const used = existsSync(cc) && readdirSync(cc).length > 0;
      expect(used, 'a cache was written below a world-writable, non-sticky directory').toBe(false);
    });
  }
});

