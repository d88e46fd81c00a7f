// The boot partition of a real FAT-partitioned image, cross-checked with mtools (another FAT
// implementation) so balena-image-fs cannot agree with itself about a broken write.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildDiskImage, fsckBoot, mtoolsList, mtoolsRead, type DiskImage } from '../../support/disk-image.js';
import { readBootFile, readBootFileOptional, writeBootFile } from '../../../src/image/boot-partition.js';
import { UsageError } from '../../../src/errors.js';
import { mounts } from '../../support/mounts.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'fv-bootpart-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('boot partition files', () => {
  test('reads the config.json the image was built with', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '{"deviceType":"raspberrypi4-64"}' } });
    expect((await readBootFile(img.path, 'config.json')).toString()).toBe('{"deviceType":"raspberrypi4-64"}');
    expect(await readBootFileOptional(img.path, '/missing.json')).toBeUndefined();
  });

  test('shorter JSON is padded, not shrunk, and the FAT stays valid for mtools', async () => {
    const old = JSON.stringify({ apiKey: 'provisioning-secret', pad: 'x'.repeat(9000) });
    const img = buildDiskImage(dir, { files: { 'config.json': old } });
    await writeBootFile(img.path, 'config.json', '{"b":2}\n');
    const back = await readBootFile(img.path, '/config.json');
    expect(JSON.parse(back.toString())).toEqual({ b: 2 });
    expect(back.length).toBe(old.length);
    // mtools reads the FAT independently: a corrupted chain would make it fail here.
    expect(mtoolsRead(img, 'config.json').equals(back)).toBe(true);
    expect(mtoolsList(img).map((n) => n.toLowerCase())).toEqual(['config.json']);
    expect(readFileSync(img.path).includes('provisioning-secret')).toBe(false);
  });

  test('a longer file grows and reads back intact', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '{}' } });
    const big = JSON.stringify({ pad: 'y'.repeat(20000) });
    await writeBootFile(img.path, 'config.json', big);
    expect(mtoolsRead(img, 'config.json').toString()).toBe(big);
  });

  test('creates a file that did not exist', async () => {
    const img = buildDiskImage(dir);
    await writeBootFile(img.path, 'config.json', Buffer.from('{"c":3}'));
    expect(mtoolsRead(img, 'config.json').toString()).toBe('{"c":3}');
  });

  test('a file that is not a disk image is a usage error', async () => {
    await expect(readBootFile(join(dir, 'nope.img'), 'config.json')).rejects.toBeInstanceOf(UsageError);
    await expect(writeBootFile(join(dir, 'nope.img'), '../x', 'y')).rejects.toThrow(/invalid boot partition path/);
  });
});

describe('FAT integrity (issue #11 item 8): every write ends fsck.fat -n clean', () => {
  const clean = (img: DiskImage) => {
    const r = fsckBoot(img);
    expect(r.output).not.toMatch(/differ|Truncating|chain|invalid|Free cluster|Dropping/i);
    expect(r.code, r.output).toBe(0);
  };

  test('a 0-byte config.json: the plaintext goes into the file, not over the root directory', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '', 'splash.png': 'png', 'cmdline.txt': 'console=tty1' } });
    clean(img);
    const before = mtoolsList(img);
    const plaintext = JSON.stringify({ apiKey: 'provisioning-secret', deviceType: 'raspberrypi4-64' });
    await writeBootFile(img.path, 'config.json', plaintext);
    clean(img);
    expect(mtoolsRead(img, 'config.json').toString()).toBe(plaintext);
    expect(mtoolsList(img)).toEqual(before);
    expect(mtoolsRead(img, 'cmdline.txt').toString()).toBe('console=tty1');
    // Larger than a cluster too (the chain grows from the cluster we gave it).
    const img2 = buildDiskImage(dir, { name: 'big.img', files: { 'config.json': '' } });
    const big = JSON.stringify({ apiKey: 'k', pad: 'p'.repeat(9000) });
    await writeBootFile(img2.path, 'config.json', big);
    clean(img2);
    expect(mtoolsRead(img2, 'config.json').toString()).toBe(big);
  });

  test('growing a file by clusters keeps every FAT copy equal', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '{}', 'other.txt': 'hello' } });
    await writeBootFile(img.path, 'config.json', JSON.stringify({ pad: 'x'.repeat(3000) }));
    clean(img);
    await writeBootFile(img.path, 'config.json.fleetvault.bak', '{"backup":true}');
    clean(img);
    await writeBootFile(img.path, 'config.json', '{"b":1}');
    clean(img);
    expect(JSON.parse(mtoolsRead(img, 'config.json').toString())).toEqual({ b: 1 });
  });

  test('a read-back that finds a broken FAT fails the command and writes the old content back', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '{"old":true}' } });
    // What an older fatfs shrink leaves: a "free" cluster marked 0xFF00 (FAT16), far from our file.
    const fat1 = img.bootOffset + 512 * 4; // mkfs.vfat: 4 reserved sectors on this layout
    const fd = openSync(img.path, 'r+');
    const entry = Buffer.alloc(2);
    entry.writeUInt16LE(0xff00);
    writeSync(fd, entry, 0, 2, fat1 + 2 * 5000);
    closeSync(fd);
    await expect(writeBootFile(img.path, 'config.json', '{"new":1}')).rejects.toThrow(/read-back failed: FAT (entry 5000 holds an invalid value|copy 2 differs)/);
    expect(mtoolsRead(img, 'config.json').toString()).toBe('{"old":true}');
    // A write that grew the file: the old JSON comes back padded over the whole new length, so no
    // byte of the refused content (an apiKey) stays readable in the file.
    await expect(writeBootFile(img.path, 'config.json', JSON.stringify({ apiKey: 'refused-secret', pad: 'p'.repeat(4000) }))).rejects.toThrow(/read-back failed/);
    const back = mtoolsRead(img, 'config.json').toString();
    expect(JSON.parse(back)).toEqual({ old: true });
    expect(back).not.toContain('refused-secret');
  });
});

describe('full and read-only disks under the image (issue #11 item 10)', () => {
  const m = mounts();
  afterEach(() => m.cleanup());

  test('a sparse image on a full tmpfs: ENOSPC before any byte changes; read-only: EROFS', async () => {
    const img = buildDiskImage(dir, { files: { 'config.json': '{"uuid":"u"}' } });
    const full = join(dir, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', full]);
    try {
      const sparse = join(full, 'balena.img');
      execFileSync('cp', ['--sparse=always', img.path, sparse]);
      spawnSync('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=64k']);
      const before = readFileSync(sparse);
      const plaintext = JSON.stringify({ apiKey: 'provisioning-secret', pad: 'p'.repeat(5000) });
      await expect(writeBootFile(sparse, 'config.json', plaintext)).rejects.toThrow(`failed to write /config.json into ${sparse}: no space left on device (ENOSPC)`);
      expect(readFileSync(sparse).equals(before)).toBe(true);
      const ro = m.readOnly(full);
      await expect(writeBootFile(join(ro, 'balena.img'), 'config.json', plaintext)).rejects.toThrow(/: read-only file system \(EROFS\)$/);
      m.cleanup();
      rmSync(join(full, 'filler'));
      await writeBootFile(sparse, 'config.json', plaintext);
      expect(mtoolsRead({ path: sparse, bootOffset: img.bootOffset }, 'config.json').toString()).toBe(plaintext);
    } finally {
      m.cleanup();
      execFileSync('umount', [full]);
    }
  });
});

describe('every FAT type balenaOS boot partitions come in', () => {
  test.for([['12', 8, 8192], ['16', 64, 122880], ['32', 80, 163840]] as const)('FAT%s: empty config.json filled, grown, a backup added, shrunk: fsck.fat -n clean', async ([fat, mb, sectors]) => {
    const p = join(dir, `fat${fat}.img`);
    execFileSync('truncate', ['-s', `${mb + 2}M`, p]);
    execFileSync('sfdisk', ['--quiet', p], { input: `label: dos\n2048,${sectors},c,*\n` });
    execFileSync('mkfs.vfat', ['-F', fat, '-n', 'RESIN-BOOT', '--offset=2048', p, String(sectors / 2)], { stdio: 'ignore' });
    const img = { path: p, bootOffset: 2048 * 512 };
    writeFileSync(join(dir, 'seed'), '');
    for (const name of ['config.json', 'cmdline.txt']) execFileSync('mcopy', ['-o', '-i', `${p}@@${img.bootOffset}`, join(dir, 'seed'), `::/${name}`]);
    await writeBootFile(p, 'config.json', JSON.stringify({ apiKey: 'x', pad: 'p'.repeat(9000) }));
    await writeBootFile(p, 'config.json.fleetvault.bak', JSON.stringify({ apiKey: 'x' }));
    await writeBootFile(p, 'config.json', '{}');
    const part = join(dir, 'part');
    execFileSync('dd', [`if=${p}`, `of=${part}`, 'bs=512', 'skip=2048', `count=${sectors}`], { stdio: 'ignore' });
    const r = spawnSync('fsck.fat', ['-n', part], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/differ|wrong|Truncating|invalid/i);
    expect(r.status, r.stdout).toBe(0);
    expect(JSON.parse(mtoolsRead(img, 'config.json').toString())).toEqual({});
    expect(mtoolsList(img).map((n) => n.toLowerCase()).sort()).toEqual(['cmdline.txt', 'config.json', 'config.json.fleetvault.bak']);
  });
});

test('a GPT-partitioned image (newer device types): the boot partition is found and stays fsck clean', async () => {
  const p = join(dir, 'gpt.img');
  execFileSync('truncate', ['-s', '40M', p]);
  execFileSync('sfdisk', ['--quiet', p], { input: 'label: gpt\n2048,40960,EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' });
  execFileSync('mkfs.vfat', ['-n', 'RESIN-BOOT', '--offset=2048', p, '20480'], { stdio: 'ignore' });
  const img = { path: p, bootOffset: 2048 * 512 };
  writeFileSync(join(dir, 'seed'), '');
  execFileSync('mcopy', ['-o', '-i', `${p}@@${img.bootOffset}`, join(dir, 'seed'), '::/config.json']);
  await writeBootFile(p, 'config.json', JSON.stringify({ apiKey: 'x', pad: 'p'.repeat(5000) }));
  expect(fsckBoot(img).code, fsckBoot(img).output).toBe(0);
  expect(fsckBoot(img).output).not.toMatch(/differ/);
  expect(JSON.parse(mtoolsRead(img, 'config.json').toString()).apiKey).toBe('x');
});
