// A real, small balenaOS-shaped disk image: MBR with a FAT boot partition first (resin-boot) and a
// second Linux partition, built with sfdisk + mkfs.vfat --offset + mtools. No loop devices, no root.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools } from './tools.js';

export const BOOT_START_SECTOR = 2048;
const BOOT_SECTORS = 40960; // 20 MiB FAT16: what mkfs.vfat picks for a balena-boot-sized partition

export interface DiskImage { path: string; bootOffset: number }

/** Build `<dir>/<name>` with partition 1 = FAT labelled resin-boot holding `files` (path → content). */
export function buildDiskImage(dir: string, o: { name?: string; files?: Record<string, string | Buffer> } = {}): DiskImage {
  requireTools(['sfdisk', 'mkfs.vfat', 'mcopy', 'truncate']);
  const path = join(dir, o.name ?? 'balena.img');
  execFileSync('truncate', ['-s', '32M', path]);
  const layout = `label: dos\n${BOOT_START_SECTOR},${BOOT_SECTORS},c,*\n${BOOT_START_SECTOR + BOOT_SECTORS},,83\n`;
  execFileSync('sfdisk', ['--quiet', path], { input: layout });
  execFileSync('mkfs.vfat', ['-n', 'RESIN-BOOT', `--offset=${BOOT_START_SECTOR}`, path, String(BOOT_SECTORS / 2)], { stdio: 'ignore' });
  const bootOffset = BOOT_START_SECTOR * 512;
  for (const [name, content] of Object.entries(o.files ?? {})) {
    const src = join(dir, `.seed-${name.replace(/\W/g, '_')}`);
    writeFileSync(src, content, { mode: 0o600 });
    execFileSync('mcopy', ['-o', '-i', `${path}@@${bootOffset}`, src, `::/${name.replace(/^\/+/, '')}`]);
  }
  return { path, bootOffset };
}

/** Read a boot-partition file with mtools (an independent FAT implementation from balena-image-fs). */
export function mtoolsRead(img: DiskImage, name: string): Buffer {
  return execFileSync('mtype', ['-i', `${img.path}@@${img.bootOffset}`, `::/${name.replace(/^\/+/, '')}`]);
}

/** Names in the boot partition's root directory, per mtools. */
export function mtoolsList(img: DiskImage): string[] {
  const out = execFileSync('mdir', ['-b', '-i', `${img.path}@@${img.bootOffset}`, '::/']).toString('utf8');
  return out.split('\n').map((l) => l.trim().replace(/^::\//, '')).filter(Boolean);
}

/**
 * `fsck.fat -n` on the boot partition (dosfstools 4.2 has no --offset: the partition is copied to a
 * temp dir and removed again). Returns the exit code and output; 0 and no "differ" is clean.
 */
export function fsckBoot(img: DiskImage): { code: number; output: string } {
  requireTools(['fsck.fat']);
  const tmp = mkdtempSync(join(tmpdir(), 'fv-fsck-'));
  const part = join(tmp, 'boot-partition');
  const fd = openSync(img.path, 'r');
  try {
    const buf = Buffer.alloc(BOOT_SECTORS * 512);
    readSync(fd, buf, 0, buf.length, img.bootOffset);
    writeFileSync(part, buf, { mode: 0o600 });
  } finally {
    closeSync(fd);
  }
  try {
    const r = spawnSync('fsck.fat', ['-n', part], { encoding: 'utf8' });
    return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}`.replaceAll(part, '<boot>') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
