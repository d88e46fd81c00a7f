// Review of issue 11, items 5 and 6: an unseal whose target cannot take the result must fail
// before Vault is asked (a login spends a batch use, a decrypt cannot be undone), in one line; and
// --image must not follow a symlink (the write would land in the link's target).
// "Before Vault is asked" is proven by pointing VAULT_ADDR at a closed port: only the preflight's
// own message can come back.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { buildDiskImage, fsckBoot, mtoolsRead } from '../../support/disk-image.js';

const CONFIG = { uuid: 'u1', deviceApiKey: 'device-key', apiKey: 'provisioning-key', os: { sshKeys: [] }, pad: 'p'.repeat(5000) };
const NOWHERE = { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: 'unused' };

function oneLine(r: CliResult, code = 1) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
  expect(r.stderr).not.toMatch(/ECONNREFUSED|unreachable|is .* a disk image/);
}

async function sealed(env: Record<string, string>, tmp: string, name = 'c'): Promise<string> {
  const plain = join(tmp, `${name}.plain.json`);
  writeFileSync(plain, JSON.stringify(CONFIG));
  const out = join(tmp, `${name}.sealed.json`);
  const s = await runCli(['provision', 'seal', plain, '--fleet', 'acme/a', '--out', out], { env });
  expect(s.code, s.stderr).toBe(0);
  return out;
}

describe('preflight before the decrypt (item 5)', () => {
  test('provision unseal --image into a full boot partition: one line naming the free space, Vault never asked; with room it works', async ({ vault, tmp }) => {
    const envelope = await sealed(vault.env, tmp);
    const img = buildDiskImage(tmp, { name: 't2.img' });
    // Fill the boot partition but for 2 KiB (less than the 5 KiB config needs).
    const free = Number(/([\d ]+) bytes free/.exec(execFileSync('mdir', ['-i', `${img.path}@@${img.bootOffset}`, '::/']).toString())![1]!.replace(/\s/g, ''));
    const filler = join(tmp, 'filler');
    writeFileSync(filler, Buffer.alloc(free - 2048));
    execFileSync('mcopy', ['-i', `${img.path}@@${img.bootOffset}`, filler, '::/filler']);
    const before = readFileSync(img.path);
    const r = await runCli(['provision', 'unseal', envelope, '--image', img.path], { env: { ...vault.env, ...NOWHERE } });
    oneLine(r);
    expect(r.stderr).toMatch(/cannot write \/config\.json into .*t2\.img: the boot partition has 2048 bytes free, \d+ needed.*no batch use was spent/);
    expect(readFileSync(img.path).equals(before)).toBe(true);

    const roomy = buildDiskImage(tmp, { name: 'ok.img' });
    const ok = await runCli(['provision', 'unseal', envelope, '--image', roomy.path], { env: vault.env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(mtoolsRead(roomy, 'config.json').toString())).toEqual(CONFIG);
    expect(fsckBoot(roomy).code).toBe(0);
  });

  test('provision unseal-batch --out-dir where x.config.json is a directory: one line before any login', async ({ vault, tmp }) => {
    const dir = join(tmp, 'sealed');
    mkdirSync(dir);
    await sealed(vault.env, dir, 'x');
    execFileSync('sh', ['-c', `rm -f '${dir}'/*.plain.json`]);
    const out = join(tmp, 'out');
    mkdirSync(join(out, 'x.config.json'), { recursive: true });
    const r = await runCli(['provision', 'unseal-batch', dir, '--out-dir', out], { env: { ...vault.env, ...NOWHERE } });
    oneLine(r);
    expect(r.stderr).toMatch(/cannot write the output of x\.sealed\.json: .*x\.config\.json is a directory.*no batch use was spent/);
  });
});

describe('--image never follows a symlink (item 6)', () => {
  test('provision unseal, ca add-to-config and provision strip refuse link.img; victim.img is untouched', async ({ vault, tmp }) => {
    const envelope = await sealed(vault.env, tmp);
    const victim = buildDiskImage(tmp, { name: 'victim.img', files: { 'config.json': JSON.stringify(CONFIG) } });
    const link = join(tmp, 'link.img');
    symlinkSync(victim.path, link);
    const before = readFileSync(victim.path);
    for (const args of [
      ['provision', 'unseal', envelope, '--image', link],
      ['ca', 'add-to-config', '/config.json', '--image', link],
      ['provision', 'strip', '/config.json', '--image', link],
    ]) {
      const r = await runCli(args, { env: vault.env, cwd: tmp });
      oneLine(r);
      expect(r.stderr, args.join(' ')).toMatch(/refusing to use image .*link\.img: it is a symbolic link/);
    }
    expect(readFileSync(victim.path).equals(before)).toBe(true);
  });
});
