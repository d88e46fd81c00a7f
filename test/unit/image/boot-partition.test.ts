// The boot partition of a real FAT-partitioned image, cross-checked with mtools (another FAT
// implementation) so balena-image-fs cannot agree with itself about a broken write.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildDiskImage, mtoolsList, mtoolsRead } from '../../support/disk-image.js';
import { readBootFile, readBootFileOptional, writeBootFile } from '../../../src/image/boot-partition.js';
import { UsageError } from '../../../src/errors.js';

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
