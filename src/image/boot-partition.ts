// Files on the boot partition of a balenaOS disk image (partition 1, FAT: /mnt/boot on the
// device), edited in place through balena-image-fs — no loop devices, no root, no mount, and so
// no plaintext config.json ever written anywhere outside the image.
//
// Trap: balena-image-fs drives the `fatfs` module, which implements neither rename nor unlink, so
// the usual "write a temp file, rename over the target" cannot be done inside the image. Instead
// the previous content is kept in memory, the new content is written, the file is read back
// through a fresh mount (re-reading the FAT from the image file), and on any difference the old
// content is written back and the call fails. A crash mid-write can still leave a torn file: flash
// from a pristine image in that case.
//
// Trap 2: when a file shrinks by a cluster or more, fatfs marks the freed clusters 0xFF00 (FAT16)
// instead of 0 — it adds the EOF prefix to the "free" value — and mtools/fsck then reject the
// whole FAT. So a file is never shrunk: shorter JSON is padded with trailing whitespace (valid
// JSON, and it also overwrites the old bytes, e.g. a provisioning apiKey, instead of leaving them
// in freed clusters). Shrinking any other kind of file is refused.
//
// Trap 3 and 4 (fat-volume.ts): fatfs writes a 0-byte file's data over the root directory, and it
// never updates the second FAT. Both are worked around there, and every write is verified by an
// independent reader of the FAT structures, so an image edit ends `fsck.fat -n` clean or fails.
import { closeSync, lstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DeviceError, UsageError } from '../errors.js';
import { describeFsError } from '../fs/atomic.js';
import { readJson } from '../fs/json.js';
import { allocateBootPartition, bootFileRoom, FatStructureError, giveEmptyFileACluster, mirrorFats, verifyBootFile } from './fat-volume.js';

const require = createRequire(import.meta.url);

/** balenaOS images: partition 1 is resin-boot / balena-boot (FAT), mounted at /mnt/boot. */
export const BOOT_PARTITION = 1;

type FatFs = {
  readFile(p: string, cb: (e: NodeJS.ErrnoException | null, d: Buffer) => void): void;
  writeFile(p: string, d: Buffer, o: { flag: string }, cb: (e: NodeJS.ErrnoException | null) => void): void;
};
type ImageFs = { interact<T>(disk: string, partition: number, fn: (fs: FatFs) => Promise<T>): Promise<T> };

function imageFs(): ImageFs {
  return require('balena-image-fs') as ImageFs;
}

function normalise(path: string): string {
  const p = '/' + path.replace(/^\/+/, '');
  if (p.split('/').some((s) => s === '..')) throw new UsageError(`invalid boot partition path "${path}"`);
  return p;
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ?? err?.message ?? String(e);
}

async function withBoot<T>(image: string, verb: string, fn: (fs: FatFs) => Promise<T>): Promise<T> {
  // Every read and write of an image starts here: a planted link would redirect the edit.
  refuseLinkedImage(image);
  try {
    return await imageFs().interact(image, BOOT_PARTITION, fn);
  } catch (e) {
    if (e instanceof UsageError || e instanceof DeviceError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    // fatfs's own codes drop the E: NOSPC is the boot partition (not the disk) being full.
    if (code === 'NOSPC') throw new UsageError(`failed to ${verb}: the boot partition (partition ${BOOT_PARTITION}) is full`, { hint: 'remove files from the boot partition or use a pristine image' });
    if (code === 'ENOENT' && !(e as { fatfs?: boolean }).fatfs) throw new UsageError(`failed to ${verb}: ${image}: no such file`);
    // The image's own file system refused (full, read-only, permissions): say that, not "is it FAT?".
    if (code && ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EISDIR', 'EFBIG'].includes(code)) {
      throw new UsageError(`failed to ${verb}: ${describeFsError(e)}`, { hint: code === 'ENOSPC' ? 'free some space next to the image and run it again' : undefined });
    }
    throw new UsageError(`failed to ${verb}: ${describe(e)}`, { hint: `is ${image} a disk image whose partition ${BOOT_PARTITION} is FAT?` });
  }
}

function fatRead(fs: FatFs, path: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => fs.readFile(path, (e, d) => {
    if (e && (e.code === 'ENOENT' || e.code === 'NOENT')) resolve(undefined);
    else if (e) reject(Object.assign(e, { fatfs: true }));
    else resolve(d);
  }));
}

/** 'r+' over an existing file: 'w' would truncate to 0 first and hit the free-cluster bug. */
function fatWrite(fs: FatFs, path: string, data: Buffer, exists: boolean): Promise<void> {
  return new Promise((resolve, reject) => fs.writeFile(path, data, { flag: exists ? 'r+' : 'w' }, (e) => (e ? reject(Object.assign(e, { fatfs: true })) : resolve())));
}

/** A file of the image's boot partition, or undefined when it does not exist. */
export async function readBootFileOptional(image: string, path: string): Promise<Buffer | undefined> {
  const p = normalise(path);
  return withBoot(image, `read ${p} from ${image}`, (fs) => fatRead(fs, p));
}

export async function readBootFile(image: string, path: string): Promise<Buffer> {
  const data = await readBootFileOptional(image, path);
  if (data === undefined) throw new UsageError(`failed to read ${normalise(path)} from ${image}: no such file on the boot partition`);
  return data;
}

/** JSON text padded with trailing spaces and a newline to exactly `length` bytes (still valid JSON). */
function padJson(json: Buffer, length: number): Buffer {
  const body = Buffer.from(json.toString('utf8').replace(/\s+$/, ''));
  return Buffer.concat([body, Buffer.alloc(length - body.length - 1, ' '), Buffer.from('\n')]);
}

/**
 * Before anything irreversible (a decrypt that spends a batch use): the image is a regular file
 * (not a symlink: a link planted as the image would have the write land in its target), writable,
 * its boot partition FAT, and `bytes` fit in `path` there. Throws one UsageError line otherwise.
 */
export async function preflightBootWrite(image: string, path: string, bytes: number): Promise<void> {
  const p = normalise(path);
  const verb = `write ${p} into ${image}`;
  refuseLinkedImage(image);
  try {
    closeSync(openSync(image, 'r+'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`failed to ${verb}: ${image}: no such file`);
    throw new UsageError(`failed to ${verb}: ${describeFsError(e)}`, { hint: 'nothing was decrypted and no batch use was spent' });
  }
  await withBoot(image, verb, (fs) => fatRead(fs, p)); // not FAT / not an image: the usual message
  const room = raw(verb, () => bootFileRoom(image, p, bytes));
  if (room.needBytes > room.freeBytes) {
    throw new UsageError(`cannot ${verb}: the boot partition has ${room.freeBytes} bytes free, ${room.needBytes} needed`, {
      hint: 'remove files from the boot partition or use a pristine image; nothing was decrypted and no batch use was spent',
    });
  }
}

/** --image naming a symbolic link is refused (every command taking --image). */
export function refuseLinkedImage(image: string): void {
  let st;
  try {
    st = lstatSync(image, { throwIfNoEntry: false });
  } catch (e) {
    throw new UsageError(`cannot use image ${image}: ${describeFsError(e)}`);
  }
  if (st?.isSymbolicLink()) throw new UsageError(`refusing to use image ${image}: it is a symbolic link`, { hint: 'name the real image file' });
}

/** Raw FAT work (fat-volume.ts) with this module's one-line errors. */
function raw<T>(verb: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FatStructureError) throw new UsageError(`failed to ${verb}: ${e.message}`, { hint: 'check the image with fsck.fat -n; flash from a pristine image if it is damaged' });
    throw new UsageError(`failed to ${verb}: ${describeFsError(e)}`);
  }
}

/**
 * Replace (or create) a file on the boot partition and verify it by reading it back. A JSON
 * file shorter than the one it replaces is padded with trailing spaces and a newline (see Trap 2).
 * Every write ends with the FAT copies mirrored and an independent read-back (fat-volume.ts): the
 * partition is `fsck.fat -n` clean, or the command fails.
 */
export async function writeBootFile(image: string, path: string, data: Buffer | string): Promise<void> {
  const p = normalise(path);
  const wanted = typeof data === 'string' ? Buffer.from(data) : data;
  const verb = `write ${p} into ${image}`;
  let buf = wanted;
  const previous = await withBoot(image, verb, (fs) => fatRead(fs, p));
  if (previous && previous.length > wanted.length) {
    // JSON by content, not name: config.json.fleetvault.bak is JSON too, and trailing whitespace keeps JSON valid.
    if (!readJson(wanted).ok) {
      throw new UsageError(`failed to ${verb}: cannot shrink a non-JSON file on FAT with balena-image-fs`);
    }
    buf = padJson(wanted, previous.length);
  }
  // Sparse image on a full disk: fail here, before the first byte changes (fat-volume.ts).
  raw(verb, () => allocateBootPartition(image));
  // Trap 3: a 0-byte file has no cluster, and fatfs would write "cluster 0" — over the root directory.
  if (previous?.length === 0) raw(verb, () => giveEmptyFileACluster(image, p));
  await withBoot(image, verb, (fs) => fatWrite(fs, p, buf, previous !== undefined));
  let failure: unknown;
  try {
    raw(verb, () => { mirrorFats(image); verifyBootFile(image, p, buf); });
    return;
  } catch (e) {
    failure = e;
  }
  // Writing back over a file that grew must cover the new tail too (r+ never shrinks the file):
  // JSON is padded to the new length; anything else cannot be restored safely.
  const restore = previous === undefined || previous.length === 0 ? undefined
    : previous.length >= buf.length ? previous : readJson(previous).ok ? padJson(previous, buf.length) : undefined;
  let restored = false;
  if (restore) {
    restored = await withBoot(image, verb, (fs) => fatWrite(fs, p, restore, true)).then(() => { mirrorFats(image); return true; }).catch(() => false);
  }
  const why = (failure as Error).message.replace(/^failed to [^:]*: /, '');
  throw new UsageError(`failed to ${verb}: read-back failed: ${why}`, {
    hint: restored ? 'the previous content was written back; check the image with fsck.fat -n' : 'the image may be damaged: flash from a pristine image',
  });
}
