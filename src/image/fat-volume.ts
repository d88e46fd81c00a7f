// The FAT structures of a disk image's boot partition, read and patched directly, for what the
// `fatfs` module (under balena-image-fs) gets wrong. Found by running `fsck.fat -n` after its writes:
//
// - It keeps only the first FAT: every cluster it allocates or frees changes FAT #1 and never the
//   copies ("TODO: how should we handle redundant FATs?" in fatfs/vol.js), so after any write that
//   grows a file `fsck.fat -n` reports "FATs differ". → mirrorFats() copies FAT #1 over the others.
// - An empty file has no cluster (first cluster 0). fatfs treats cluster 0 as a real cluster,
//   whose "first sector" lies before the data region — inside the root directory on FAT12/16 — so
//   a write into a 0-byte config.json lands over root directory entries and reads back "fine".
//   → giveEmptyFileACluster() allocates one first, the way an empty file that fatfs created has one.
// - It marks freed clusters 0xFF00 (FAT16) instead of 0 (see boot-partition.ts, Trap 2).
// - On FAT32 it never updates FSInfo's free-cluster count ("Free cluster summary wrong"). → mirrorFats().
//
// verifyBootFile() is the independent read-back: it follows the file's cluster chain in the FAT
// itself (not through fatfs' caches), checks every FAT copy is the same and no entry is out of
// range, and compares the bytes. It is the part of `fsck.fat -n` that our writes can break.
import { closeSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';

const SECTOR = 512;

export interface FatGeometry {
  /** Byte offset of the partition in the image. */
  offset: number;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  fatSectors: number;
  rootEntries: number;
  firstDataSector: number;
  clusters: number;
  type: 'fat12' | 'fat16' | 'fat32';
  rootCluster: number;
  media: number;
}

export class FatStructureError extends Error {}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) throw new FatStructureError(`the image ends at byte ${pos + got}, inside the file system`);
    got += n;
  }
  return b;
}

function writeAt(fd: number, pos: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
}

/** Byte offset of partition `n` (MBR primary or GPT entry), as balena-image-fs numbers them. */
export function partitionOffset(fd: number, n: number): number {
  const mbr = readAt(fd, 0, SECTOR);
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) throw new FatStructureError('no partition table');
  if (mbr[0x1be + 4] === 0xee) {
    const gpt = readAt(fd, SECTOR, SECTOR);
    if (gpt.toString('latin1', 0, 8) !== 'EFI PART') throw new FatStructureError('protective MBR without a GPT header');
    const entries = Number(gpt.readBigUInt64LE(72));
    const size = gpt.readUInt32LE(84);
    const entry = readAt(fd, entries * SECTOR + (n - 1) * size, size);
    return Number(entry.readBigUInt64LE(32)) * SECTOR;
  }
  if (n < 1 || n > 4) throw new FatStructureError(`partition ${n} is not a primary partition`);
  const start = mbr.readUInt32LE(0x1be + (n - 1) * 16 + 8);
  if (start === 0) throw new FatStructureError(`partition ${n} does not exist`);
  return start * SECTOR;
}

export function readGeometry(fd: number, offset: number): FatGeometry {
  const bs = readAt(fd, offset, SECTOR);
  if (bs[510] !== 0x55 || bs[511] !== 0xaa) throw new FatStructureError('no FAT boot sector');
  const bytesPerSector = bs.readUInt16LE(11);
  const sectorsPerCluster = bs[13]!;
  const reservedSectors = bs.readUInt16LE(14);
  const numFats = bs[16]!;
  const rootEntries = bs.readUInt16LE(17);
  const totalSectors = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  const fatSectors = bs.readUInt16LE(22) || bs.readUInt32LE(36);
  if (!bytesPerSector || !sectorsPerCluster || !numFats || !fatSectors) throw new FatStructureError('not a FAT boot sector');
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + numFats * fatSectors + rootSectors;
  const clusters = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const type = clusters < 4085 ? 'fat12' : clusters < 65525 ? 'fat16' : 'fat32';
  return {
    offset, bytesPerSector, sectorsPerCluster, reservedSectors, numFats, fatSectors, rootEntries, firstDataSector, clusters, type,
    rootCluster: type === 'fat32' ? bs.readUInt32LE(44) : 0, media: bs[21]!,
  };
}

/** A FAT copy as a table: entry(n), set(n, v), the raw bytes. */
class FatTable {
  constructor(readonly g: FatGeometry, readonly bytes: Buffer) {}
  get(n: number): number {
    const b = this.bytes;
    if (this.g.type === 'fat16') return b.readUInt16LE(n * 2);
    if (this.g.type === 'fat32') return b.readUInt32LE(n * 4) & 0x0fffffff;
    const v = b.readUInt16LE(Math.floor(n * 1.5));
    return n % 2 ? v >> 4 : v & 0xfff;
  }
  set(n: number, value: number): void {
    const b = this.bytes;
    if (this.g.type === 'fat16') b.writeUInt16LE(value, n * 2);
    else if (this.g.type === 'fat32') b.writeUInt32LE(((b.readUInt32LE(n * 4) & 0xf0000000) | value) >>> 0, n * 4);
    else {
      const at = Math.floor(n * 1.5);
      const v = b.readUInt16LE(at);
      b.writeUInt16LE(n % 2 ? (v & 0x000f) | (value << 4) : (v & 0xf000) | value, at);
    }
  }
  /** End-of-chain marker for this FAT type. */
  get eof(): number { return this.g.type === 'fat12' ? 0xfff : this.g.type === 'fat16' ? 0xffff : 0x0fffffff; }
  isEof(v: number): boolean { return v >= (this.g.type === 'fat12' ? 0xff8 : this.g.type === 'fat16' ? 0xfff8 : 0x0ffffff8); }
  isBad(v: number): boolean { return v === (this.g.type === 'fat12' ? 0xff7 : this.g.type === 'fat16' ? 0xfff7 : 0x0ffffff7); }
}

function fatPos(g: FatGeometry, copy: number): number {
  return g.offset + (g.reservedSectors + copy * g.fatSectors) * g.bytesPerSector;
}

function readFat(fd: number, g: FatGeometry, copy: number): FatTable {
  return new FatTable(g, readAt(fd, fatPos(g, copy), g.fatSectors * g.bytesPerSector));
}

function clusterPos(g: FatGeometry, n: number): number {
  return g.offset + (g.firstDataSector + (n - 2) * g.sectorsPerCluster) * g.bytesPerSector;
}

function clusterBytes(g: FatGeometry): number {
  return g.sectorsPerCluster * g.bytesPerSector;
}

/** The clusters of a chain, checked: in range, no loop, ends in EOF. */
function chain(fat: FatTable, first: number, what: string): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (let c = first; ; ) {
    if (c < 2 || c > fat.g.clusters + 1) throw new FatStructureError(`${what}: cluster chain points outside the volume (${c})`);
    if (seen.has(c)) throw new FatStructureError(`${what}: cluster chain loops`);
    seen.add(c);
    out.push(c);
    const next = fat.get(c);
    if (fat.isEof(next)) return out;
    if (next === 0 || fat.isBad(next)) throw new FatStructureError(`${what}: cluster chain ends in a free or bad cluster`);
    c = next;
  }
}

interface DirEntry { name: string; shortName: string; pos: number; attr: number; firstCluster: number; size: number }

/** The entries of a directory: the fixed FAT12/16 root region, or a cluster chain. */
function readDirectory(fd: number, g: FatGeometry, fat: FatTable, firstCluster: number): DirEntry[] {
  const regions: { pos: number; len: number }[] = [];
  if (firstCluster === 0) {
    if (g.type === 'fat32') return readDirectory(fd, g, fat, g.rootCluster);
    regions.push({ pos: g.offset + (g.reservedSectors + g.numFats * g.fatSectors) * g.bytesPerSector, len: g.rootEntries * 32 });
  } else {
    for (const c of chain(fat, firstCluster, 'a directory')) regions.push({ pos: clusterPos(g, c), len: clusterBytes(g) });
  }
  const entries: DirEntry[] = [];
  let lfn: string[] = [];
  for (const r of regions) {
    const data = readAt(fd, r.pos, r.len);
    for (let o = 0; o < data.length; o += 32) {
      const first = data[o]!;
      if (first === 0x00) return entries;
      const attr = data[o + 11]!;
      if (first === 0xe5) { lfn = []; continue; }
      if (attr === 0x0f) {
        const part = Buffer.concat([data.subarray(o + 1, o + 11), data.subarray(o + 14, o + 26), data.subarray(o + 28, o + 32)]);
        const text = part.toString('utf16le').split('\u0000')[0]!;
        lfn[(first & 0x1f) - 1] = text;
        continue;
      }
      const base = data.toString('latin1', o, o + 8).trimEnd();
      const ext = data.toString('latin1', o + 8, o + 11).trimEnd();
      const shortName = ext ? `${base}.${ext}` : base;
      entries.push({
        name: lfn.length ? lfn.join('') : shortName, shortName, pos: r.pos + o, attr,
        firstCluster: (data.readUInt16LE(o + 20) << 16) | data.readUInt16LE(o + 26), size: data.readUInt32LE(o + 28),
      });
      lfn = [];
    }
  }
  return entries;
}

function findEntry(fd: number, g: FatGeometry, fat: FatTable, path: string): DirEntry | undefined {
  let dir = 0;
  const parts = path.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const want = parts[i]!.toUpperCase();
    const e = readDirectory(fd, g, fat, dir).find((x) => !(x.attr & 0x08) && (x.name.toUpperCase() === want || x.shortName.toUpperCase() === want));
    if (!e) return undefined;
    if (i === parts.length - 1) return e;
    if (!(e.attr & 0x10)) return undefined;
    dir = e.firstCluster;
  }
  return undefined;
}

function withImage<T>(image: string, write: boolean, fn: (fd: number, g: FatGeometry) => T, partition = 1): T {
  const fd = openSync(image, write ? 'r+' : 'r');
  try {
    const r = fn(fd, readGeometry(fd, partitionOffset(fd, partition)));
    if (write) fsyncSync(fd);
    return r;
  } finally {
    closeSync(fd);
  }
}

function freeClusters(fat: FatTable): number {
  let free = 0;
  for (let c = 2; c <= fat.g.clusters + 1; c++) if (fat.get(c) === 0) free++;
  return free;
}

/** FAT32's FSInfo sector (free-cluster count), or undefined when there is none / it is not valid. */
function fsInfoPos(fd: number, g: FatGeometry): number | undefined {
  if (g.type !== 'fat32') return undefined;
  const sector = readAt(fd, g.offset, SECTOR).readUInt16LE(48);
  if (!sector || sector === 0xffff) return undefined;
  const pos = g.offset + sector * g.bytesPerSector;
  const info = readAt(fd, pos, SECTOR);
  return info.readUInt32LE(0) === 0x41615252 && info.readUInt32LE(484) === 0x61417272 ? pos : undefined;
}

/**
 * Copy FAT #1 over the other copies where they differ (what fsck.fat does: "Using first FAT"), and
 * on FAT32 correct FSInfo's free-cluster count, which fatfs does not maintain either.
 */
export function mirrorFats(image: string): boolean {
  return withImage(image, true, (fd, g) => {
    const first = readFat(fd, g, 0);
    let changed = false;
    for (let i = 1; i < g.numFats; i++) {
      if (!readFat(fd, g, i).bytes.equals(first.bytes)) {
        writeAt(fd, fatPos(g, i), first.bytes);
        changed = true;
      }
    }
    const info = fsInfoPos(fd, g);
    if (info !== undefined) {
      const count = readAt(fd, info + 488, 4);
      const free = freeClusters(first);
      if (count.readUInt32LE(0) !== 0xffffffff && count.readUInt32LE(0) !== free) {
        count.writeUInt32LE(free);
        writeAt(fd, info + 488, count);
        changed = true;
      }
    }
    return changed;
  });
}

/**
 * An existing 0-byte file gets one zeroed cluster (marked end-of-chain in every FAT copy) so that
 * fatfs writes into the data region instead of over the root directory. No-op when it has one.
 */
export function giveEmptyFileACluster(image: string, path: string): void {
  withImage(image, true, (fd, g) => {
    const fat = readFat(fd, g, 0);
    const e = findEntry(fd, g, fat, path);
    if (!e || e.firstCluster !== 0) return;
    let free = 0;
    for (let c = 2; c <= g.clusters + 1; c++) if (fat.get(c) === 0) { free = c; break; }
    if (!free) throw new FatStructureError('no free cluster on the boot partition');
    writeAt(fd, clusterPos(g, free), Buffer.alloc(clusterBytes(g)));
    fat.set(free, fat.eof);
    for (let i = 0; i < g.numFats; i++) writeAt(fd, fatPos(g, i), fat.bytes);
    const field = Buffer.alloc(2);
    field.writeUInt16LE(free >>> 16);
    writeAt(fd, e.pos + 20, field);
    field.writeUInt16LE(free & 0xffff);
    writeAt(fd, e.pos + 26, field);
  });
}

/**
 * The independent read-back after a write: every FAT copy equal, every FAT entry a valid value, the
 * file's directory entry, size and cluster chain consistent, and its bytes equal to `expected`.
 * Throws FatStructureError naming what is wrong (never the content).
 */
export function verifyBootFile(image: string, path: string, expected: Buffer): void {
  withImage(image, false, (fd, g) => {
    const fat = readFat(fd, g, 0);
    for (let i = 1; i < g.numFats; i++) if (!readFat(fd, g, i).bytes.equals(fat.bytes)) throw new FatStructureError(`FAT copy ${i + 1} differs from the first`);
    if ((fat.get(0) & 0xff) !== g.media) throw new FatStructureError('the first FAT entry no longer holds the media descriptor');
    for (let c = 2; c <= g.clusters + 1; c++) {
      const v = fat.get(c);
      if (v !== 0 && !fat.isEof(v) && !fat.isBad(v) && (v < 2 || v > g.clusters + 1)) throw new FatStructureError(`FAT entry ${c} holds an invalid value`);
    }
    const info = fsInfoPos(fd, g);
    if (info !== undefined) {
      const count = readAt(fd, info + 488, 4).readUInt32LE(0);
      if (count !== 0xffffffff && count !== freeClusters(fat)) throw new FatStructureError('the FAT32 free-cluster count is wrong');
    }
    const e = findEntry(fd, g, fat, path);
    if (!e) throw new FatStructureError(`${path} is missing from its directory`);
    if (e.size !== expected.length) throw new FatStructureError(`${path} has size ${e.size}, expected ${expected.length}`);
    if (e.size === 0) return;
    const clusters = chain(fat, e.firstCluster, path);
    if (clusters.length !== Math.ceil(e.size / clusterBytes(g))) throw new FatStructureError(`${path}: ${clusters.length} clusters for ${e.size} bytes`);
    const data = Buffer.concat(clusters.map((c) => readAt(fd, clusterPos(g, c), clusterBytes(g)))).subarray(0, e.size);
    if (!data.equals(expected)) throw new FatStructureError(`${path} reads back different bytes`);
  });
}

/**
 * A sparse image (holes where the FAT, directories and free clusters are zeros) needs disk blocks
 * for the very sectors a write touches: on a full disk fatfs would fail halfway, leaving a directory
 * entry updated and its data not. So before the first write, every hole of the boot partition is
 * filled with the zeros it already reads as: on a full disk this fails with ENOSPC while nothing
 * has changed. Costs nothing for a non-sparse image (the usual case); returns the bytes rewritten.
 */
export function allocateBootPartition(image: string, partition = 1): number {
  const st = statSync(image);
  if (st.blocks * 512 >= st.size) return 0;
  return withImage(image, true, (fd, g) => {
    const bs = readAt(fd, g.offset, SECTOR);
    const total = (bs.readUInt16LE(19) || bs.readUInt32LE(32)) * g.bytesPerSector;
    const chunk = 1024 * 1024;
    let done = 0;
    for (let pos = 0; pos < total; pos += chunk) {
      const len = Math.min(chunk, total - pos);
      writeAt(fd, g.offset + pos, readAt(fd, g.offset + pos, len));
      done += len;
    }
    return done;
  }, partition);
}

/**
 * Free space for writing `bytes` to `path` (replacing the file there, which a write never shrinks):
 * the clusters still needed beyond the file's own, and the free clusters, both in bytes. A caller
 * about to spend something it cannot get back (a decrypt, a batch use) checks this first.
 */
export function bootFileRoom(image: string, path: string, bytes: number): { needBytes: number; freeBytes: number } {
  return withImage(image, false, (fd, g) => {
    const fat = readFat(fd, g, 0);
    const e = findEntry(fd, g, fat, path);
    const have = e && e.size > 0 ? chain(fat, e.firstCluster, path).length : 0;
    const need = Math.max(0, Math.ceil(bytes / clusterBytes(g)) - have);
    return { needBytes: need * clusterBytes(g), freeBytes: freeClusters(fat) * clusterBytes(g) };
  });
}
