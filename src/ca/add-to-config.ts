// `fleetvault ca add-to-config`: the config.json edit for one file, local or inside a balenaOS
// image's boot partition. Written atomically, with a backup, and read back before reporting success.
import { statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { readInputFile, writeFileAtomic, writeTarget } from '../fs/atomic.js';
import { editSshKeys, MAX_CONFIG_BYTES, type SshKeysEdit } from './config-json.js';

export interface AddToConfigOptions extends SshKeysEdit {
  /** config.json on disk, or the path inside the image's boot partition when `image` is set. */
  path: string;
  image?: string;
  dryRun?: boolean;
}

export interface AddToConfigResult {
  path: string;
  image?: string;
  changed: boolean;
  added: string[];
  removed: string[];
  backup?: string;
  sshKeys: string[];
}

export const BACKUP_SUFFIX = '.fleetvault.bak';

export async function addToConfig(o: AddToConfigOptions): Promise<AddToConfigResult> {
  if (o.image) return addToImageConfig(o);
  const before = readInputFile(o.path, 'config.json', MAX_CONFIG_BYTES + 1);
  const r = editSshKeys(before, o, o.path);
  const result: AddToConfigResult = { path: o.path, changed: r.changed, added: r.added, removed: r.removed, sshKeys: r.sshKeys };
  if (!r.changed || o.dryRun) return result;
  const { real, mode } = localTarget(o.path);
  // The backup first: if we die between the two writes, the original is still in both places.
  // Same mode as the original (0600 stays 0600), and a link planted at the backup's name is
  // replaced, never written through (it would carry the apiKey wherever the planter chose).
  const backup = real + BACKUP_SUFFIX;
  writeFileAtomic(backup, before, { mode, symlink: 'replace' });
  writeFileAtomic(real, r.text, { mode, verify: true });
  return { ...result, backup };
}

/** A symlinked config.json is edited where it really lives, never replaced by a copy. */
export function localTarget(path: string): { real: string; mode: number } {
  const real = writeTarget(path, 'resolve');
  return { real, mode: statSync(real).mode & 0o777 };
}

async function addToImageConfig(o: AddToConfigOptions): Promise<AddToConfigResult> {
  const { readBootFile, writeBootFile } = await import('../image/boot-partition.js');
  const inImage = o.path.startsWith('/') ? o.path : `/${o.path}`;
  const before = await readBootFile(o.image!, inImage);
  const r = editSshKeys(before, o, `${o.image}:${inImage}`);
  const result: AddToConfigResult = { path: inImage, image: o.image, changed: r.changed, added: r.added, removed: r.removed, sshKeys: r.sshKeys };
  if (!r.changed || o.dryRun) return result;
  await writeBootFile(o.image!, inImage + BACKUP_SUFFIX, before);
  await writeBootFile(o.image!, inImage, r.text);
  const back = await readBootFile(o.image!, inImage);
  if (back.toString('utf8') !== r.text) throw new UsageError(`failed to write ${o.image}:${inImage}: read-back differs`);
  return { ...result, backup: inImage + BACKUP_SUFFIX };
}
