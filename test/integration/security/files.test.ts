// Issue #11 "Files" (items 6–10, 16) through the built CLI, on real filesystems and real disk
// images: planted symlinks, backups that keep the provisioning key, 0-byte config.json in an image,
// invalid UTF-8 and duplicate keys, a full tmpfs and a read-only bind mount, and parse errors that
// must not echo the file.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { test, expect, describe } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { buildDiskImage, fsckBoot, mtoolsList, mtoolsRead, type DiskImage } from '../../support/disk-image.js';
import { mounts } from '../../support/mounts.js';
import { knownHostsFor } from '../../support/ssh.js';

const OP_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb operator';
const CONFIG = { uuid: 'u1', apiKey: 'provisioning-key-0123456789', deviceApiKey: 'device-key', os: { sshKeys: [OP_KEY] } };

const m = mounts();
afterEach(() => m.cleanup());
afterAll(() => m.cleanup());

function oneLine(r: CliResult, code = 1) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
  expect(r.stderr).not.toMatch(/unexpected error|copyfile|\bat \/|\.js:\d+/);
  expect(r.stdout).toBe('');
}

function fsckClean(img: DiskImage) {
  const f = fsckBoot(img);
  expect(f.output).not.toMatch(/differ|Truncating|chain|invalid|Dropping/i);
  expect(f.code, f.output).toBe(0);
}

describe('item 6: no write through a symlink', () => {
  test('ca add-to-config: a link planted at config.json.fleetvault.bak is replaced, its target untouched; the backup keeps 0600', async ({ vault, tmp }) => {
    const cfg = join(tmp, 'config.json');
    const text = JSON.stringify(CONFIG, null, 2) + '\n';
    writeFileSync(cfg, text, { mode: 0o600 });
    const victim = join(tmp, 'planter-readable');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    symlinkSync(victim, `${cfg}.fleetvault.bak`);
    const r = await runCli(['ca', 'add-to-config', cfg, '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    const bak = lstatSync(`${cfg}.fleetvault.bak`);
    expect(bak.isFile()).toBe(true);
    expect(bak.mode & 0o777).toBe(0o600);
    expect(readFileSync(`${cfg}.fleetvault.bak`, 'utf8')).toBe(text);
    expect(statSync(cfg).mode & 0o777).toBe(0o600);
  });

  test('ca add-to-config: a symlinked config.json is edited where it lives, the link stays a link', async ({ vault, tmp }) => {
    const realDir = join(tmp, 'boot');
    mkdirSync(realDir);
    const real = join(realDir, 'config.json');
    writeFileSync(real, JSON.stringify(CONFIG), { mode: 0o600 });
    const link = join(tmp, 'config.json');
    symlinkSync(real, link);
    const r = await runCli(['ca', 'add-to-config', link, '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(link)).toBe(real);
    expect(JSON.parse(readFileSync(real, 'utf8')).os.sshKeys).toHaveLength(2);
    expect(JSON.parse(r.stdout).backup).toBe(`${real}.fleetvault.bak`);
    expect(existsSync(`${link}.fleetvault.bak`)).toBe(false);
  });

  test('provision unseal --out onto a planted link is refused before Vault is asked', async ({ vault, tmp }) => {
    const victim = join(tmp, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(tmp, 'out.json'));
    const plain = join(tmp, 'plain.json');
    writeFileSync(plain, JSON.stringify(CONFIG));
    const sealed = join(tmp, 'c.sealed.json');
    const s = await runCli(['provision', 'seal', plain, '--fleet', 'acme/a', '--out', sealed], { env: vault.env });
    expect(s.code, s.stderr).toBe(0);
    const r = await runCli(['provision', 'unseal', sealed, '--out', join(tmp, 'out.json')], { env: vault.env });
    oneLine(r);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});

describe('item 7: provision strip cleans the backups it knows', () => {
  test('local: the apiKey leaves config.json and config.json.fleetvault.bak; an unreadable backup refuses, nothing changed', async ({ tmp }) => {
    const cfg = join(tmp, 'config.json');
    writeFileSync(cfg, JSON.stringify(CONFIG), { mode: 0o600 });
    writeFileSync(`${cfg}.fleetvault.bak`, JSON.stringify({ ...CONFIG, os: { sshKeys: [] } }), { mode: 0o600 });
    const r = await runCli(['provision', 'strip', cfg, '--json'], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ path: cfg, removed: true, backups: [{ path: `${cfg}.fleetvault.bak`, removed: true }] });
    for (const f of [cfg, `${cfg}.fleetvault.bak`]) {
      expect(readFileSync(f, 'utf8')).not.toContain('provisioning-key');
      expect(statSync(f).mode & 0o777).toBe(0o600);
    }
    expect(JSON.parse(readFileSync(cfg, 'utf8')).deviceApiKey).toBe('device-key');

    const cfg2 = join(tmp, 'two.json');
    writeFileSync(cfg2, JSON.stringify(CONFIG), { mode: 0o600 });
    writeFileSync(`${cfg2}.fleetvault.bak`, '{"apiKey": "provisioning-key-0123456789", ', { mode: 0o600 });
    const refused = await runCli(['provision', 'strip', cfg2], { cwd: tmp });
    oneLine(refused);
    expect(refused.stderr).toMatch(/backup is not valid JSON \(ends early\)/);
    expect(refused.stderr).not.toContain('provisioning-key');
    expect(JSON.parse(readFileSync(cfg2, 'utf8'))).toEqual(CONFIG);
  });

  test('local, symlinked config.json: backups next to the real file and next to the link are both stripped', async ({ tmp }) => {
    mkdirSync(join(tmp, 'boot'));
    const real = join(tmp, 'boot', 'config.json');
    const link = join(tmp, 'config.json');
    writeFileSync(real, JSON.stringify(CONFIG), { mode: 0o600 });
    symlinkSync(real, link);
    for (const b of [`${real}.fleetvault.bak`, `${link}.fleetvault.bak`]) writeFileSync(b, JSON.stringify(CONFIG), { mode: 0o600 });
    const r = await runCli(['provision', 'strip', link, '--json'], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).backups).toHaveLength(2);
    for (const f of [real, `${real}.fleetvault.bak`, `${link}.fleetvault.bak`]) expect(readFileSync(f, 'utf8')).not.toContain('provisioning-key');
    expect(readlinkSync(link)).toBe(real);
  });

  test('image: strip --image takes the apiKey out of /config.json and its backup, the image stays fsck clean', async ({ tmp }) => {
    const img = buildDiskImage(tmp, { files: { 'config.json': JSON.stringify(CONFIG), 'config.json.fleetvault.bak': JSON.stringify(CONFIG) } });
    const r = await runCli(['provision', 'strip', '/config.json', '--image', img.path, '--json'], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ removed: true, backups: [{ path: '/config.json.fleetvault.bak', removed: true }] });
    for (const f of ['config.json', 'config.json.fleetvault.bak']) expect(JSON.parse(mtoolsRead(img, f).toString()).apiKey).toBeUndefined();
    expect(readFileSync(img.path).includes('provisioning-key-0123456789')).toBe(false);
    fsckClean(img);
  });
});

describe('item 8: image writes', () => {
  test('provision unseal --image into a 0-byte config.json: the plaintext is in the file, the root directory intact, fsck clean', async ({ vault, tmp }) => {
    const plain = join(tmp, 'plain.json');
    writeFileSync(plain, JSON.stringify(CONFIG));
    const sealed = join(tmp, 'c.sealed.json');
    expect((await runCli(['provision', 'seal', plain, '--fleet', 'acme/a', '--out', sealed], { env: vault.env })).code).toBe(0);
    const img = buildDiskImage(tmp, { files: { 'config.json': '', 'cmdline.txt': 'console=tty1' } });
    const names = mtoolsList(img);
    const r = await runCli(['provision', 'unseal', sealed, '--image', img.path], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(mtoolsRead(img, 'config.json').toString())).toEqual(CONFIG);
    expect(mtoolsList(img)).toEqual(names);
    fsckClean(img);
  });

  test('ca add-to-config --image grows config.json and adds a backup: fsck clean (FAT copies equal)', async ({ vault, tmp }) => {
    const img = buildDiskImage(tmp, { files: { 'config.json': JSON.stringify({ ...CONFIG, pad: 'p'.repeat(1900) }) } });
    const r = await runCli(['ca', 'add-to-config', '/config.json', '--image', img.path], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(mtoolsRead(img, 'config.json').toString()).os.sshKeys).toHaveLength(2);
    fsckClean(img);
  });
});

describe('item 9: invalid UTF-8 and duplicate keys are refused, file untouched', () => {
  const cases: Record<string, Buffer> = {
    'invalid-utf8': Buffer.concat([Buffer.from('{"os":{"sshKeys":["'), Buffer.from(OP_KEY), Buffer.from([0xff, 0xfe]), Buffer.from('"]}}\n')]),
    'duplicate-os': Buffer.from(`{"os":{"sshKeys":["${OP_KEY}"]},"uuid":"u","os":{"sshKeys":[]}}\n`),
    'duplicate-sshKeys': Buffer.from(`{"os":{"sshKeys":["${OP_KEY}"],"sshKeys":[]}}\n`),
  };
  test.for(Object.entries(cases))('%s: ca add-to-config and provision seal refuse', async ([name, content], { vault, tmp }) => {
    const cfg = join(tmp, `${name}.json`);
    writeFileSync(cfg, content);
    const r = await runCli(['ca', 'add-to-config', cfg], { env: vault.env });
    oneLine(r);
    expect(r.stderr).toMatch(name === 'invalid-utf8' ? /not valid UTF-8 \(byte \d+\)/ : /has the key "os(\.sshKeys)?" twice/);
    expect(readFileSync(cfg).equals(content)).toBe(true);
    expect(existsSync(`${cfg}.fleetvault.bak`)).toBe(false);
    const s = await runCli(['provision', 'seal', cfg, '--fleet', 'acme/a', '--out', join(tmp, 'x.sealed.json')], { env: vault.env });
    oneLine(s);
    expect(existsSync(join(tmp, 'x.sealed.json'))).toBe(false);
  });
});

describe('item 10: full disk and read-only file system', () => {
  test('full tmpfs: ca add-to-config and provision strip fail in one line, nothing half-written, no temp file', async ({ vault, tmp }) => {
    const text = JSON.stringify(CONFIG, null, 2) + '\n';
    const full = m.full(join(tmp, 'full'), { 'config.json': text });
    const cfg = join(full, 'config.json');
    const r = await runCli(['ca', 'add-to-config', cfg], { env: vault.env });
    oneLine(r);
    expect(r.stderr).toMatch(/no space left on device \(ENOSPC\)/);
    const s = await runCli(['provision', 'strip', cfg], { cwd: tmp });
    oneLine(s);
    expect(s.stderr).toMatch(/ENOSPC/);
    expect(readFileSync(cfg, 'utf8')).toBe(text);
    expect(readdirSync(full).filter((n) => !n.startsWith('.filler')).sort()).toEqual(['config.json']);
  });

  test('read-only bind mount: one line naming EROFS, nothing changed', async ({ vault, tmp }) => {
    const src = join(tmp, 'boot');
    mkdirSync(src);
    const text = JSON.stringify(CONFIG) + '\n';
    writeFileSync(join(src, 'config.json'), text, { mode: 0o600 });
    const ro = m.readOnly(src);
    for (const args of [['ca', 'add-to-config', join(ro, 'config.json')], ['provision', 'strip', join(ro, 'config.json')]]) {
      const r = await runCli(args, { env: vault.env, cwd: tmp });
      oneLine(r);
      expect(r.stderr).toMatch(/read-only file system \(EROFS\)/);
    }
    expect(readFileSync(join(src, 'config.json'), 'utf8')).toBe(text);
    expect(readdirSync(src)).toEqual(['config.json']);
  });
});

describe('item 16: parse errors name a position, never the content', () => {
  test('config.json, envelope and strip input that is /etc/shadow-like', async ({ vault, tmp }) => {
    const shadow = join(tmp, 'shadow');
    writeFileSync(shadow, 'root:*:20251:0:99999:7:::\ndaemon:*:20251:0:99999:7:::\n');
    for (const args of [['ca', 'add-to-config', shadow], ['provision', 'strip', shadow], ['provision', 'seal', shadow, '--fleet', 'acme/a', '--out', join(tmp, 'o.json')], ['provision', 'unseal', shadow, '--out', join(tmp, 'o.json')]]) {
      const r = await runCli(args, { env: vault.env, cwd: tmp });
      oneLine(r);
      expect(r.stderr, args.join(' ')).toMatch(/not valid JSON \(line 1, column 1\)/);
      expect(r.stderr).not.toMatch(/root:|daemon|20251/);
    }
  });
});

describe('items 9 and 16 on real devices: ca rollout reports and journals', () => {
  test('a device config.json JSON.parse rejects (jq reads a stream of two) and one with two "os" keys: refused, untouched, no content in report or journal', { timeout: 120_000 }, async ({ vault, devices, tmp }) => {
    const opKey = join(tmp, 'operator');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
    const op = readFileSync(`${opKey}.pub`, 'utf8').trim();
    // The device (jq, like balenaOS' own tooling) reads both: the operator can log in.
    const texts = [
      `{"os":{"sshKeys":[${JSON.stringify(op)}]}}\n{"apiKey":"provisioning-key-0123456789"}\n`,
      `{"os":{"sshKeys":[]},"apiKey":"provisioning-key-0123456789","os":{"sshKeys":[${JSON.stringify(op)}]}}\n`,
    ];
    const started = [await devices.start({ name: 'stream', configText: texts[0] }), await devices.start({ name: 'dupos', configText: texts[1] })];
    const file = join(tmp, 'devices.txt');
    writeFileSync(file, started.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
    const journal = join(tmp, 'journal.jsonl');
    const r = await runCli(['ca', 'rollout', '--devices', file, '--identity', opKey, '--user-known-hosts-file', knownHostsFor(tmp, started), '--journal', journal, '--json'], { env: vault.env, timeoutMs: 90_000 });
    const report = JSON.parse(r.stdout);
    expect(report, r.stderr).toMatchObject({ failed: 2, changed: 0 });
    const reasons = JSON.stringify(report) + (existsSync(journal) ? readFileSync(journal, 'utf8') : '') + r.stderr;
    expect(reasons).toMatch(/is not valid JSON \(line 2, column 1\)/);
    expect(reasons).toMatch(/has the key \\?"os\\?" twice/);
    expect(reasons).not.toMatch(/apiKey|provisioning-key|sshKeys|position/);
    expect(started.map((d) => d.readConfig())).toEqual(texts);
  });
});

describe('item 6: journals are never appended through a link', () => {
  test('ca rollout --journal onto a planted link: exit 1 before any device is touched', { timeout: 60_000 }, async ({ vault, devices, tmp }) => {
    const opKey = join(tmp, 'operator');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
    const config = { ...CONFIG, os: { sshKeys: [readFileSync(`${opKey}.pub`, 'utf8').trim()] } };
    const d = await devices.start({ name: 'j', config });
    const before = d.readConfig();
    const file = join(tmp, 'devices.txt');
    writeFileSync(file, `${d.name} ${d.host} ${d.port} ${d.configPath}\n`);
    const victim = join(tmp, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(tmp, 'journal.jsonl'));
    const r = await runCli(['ca', 'rollout', '--devices', file, '--identity', opKey, '--user-known-hosts-file', knownHostsFor(tmp, [d]), '--journal', join(tmp, 'journal.jsonl')], { env: vault.env });
    oneLine(r);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(d.readConfig()).toBe(before);
  });
});
