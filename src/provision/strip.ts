// Remove the provisioning `apiKey` a registered device no longer needs. Once config.json holds a
// deviceApiKey the device authenticates with that alone; a leftover provisioning key is what lets
// anyone who copies the image register (paid) devices into the fleet.
import { lstatSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { readInputFile, writeFileAtomic, writeTarget } from '../fs/atomic.js';
import { readJson } from '../fs/json.js';
import { parseConfigObject } from './envelope.js';

export interface StripResult {
  config: Record<string, unknown>;
  removed: boolean;
}

export function stripProvisioningKey(config: Record<string, unknown>, source = 'config.json'): StripResult {
  const deviceKey = config.deviceApiKey;
  if (typeof deviceKey !== 'string' || deviceKey === '') {
    throw new UsageError(`failed to strip ${source}: it has no deviceApiKey yet`, {
      hint: 'the provisioning apiKey is still needed to register this device; strip after it registered',
    });
  }
  if (!('apiKey' in config)) return { config, removed: false };
  const { apiKey: _drop, ...rest } = config;
  return { config: rest, removed: true };
}

/** The backups fleetvault itself leaves next to a config.json (ca add-to-config). */
export const KNOWN_BACKUP_SUFFIXES = ['.fleetvault.bak'];

export interface StripFileResult {
  path: string;
  image?: string;
  removed: boolean;
  /** Known backups found next to it; `removed` when the apiKey was taken out of one. */
  backups: { path: string; removed: boolean }[];
}

function render(config: Record<string, unknown>): string {
  return JSON.stringify(config, null, 2) + '\n';
}

/** A backup's apiKey goes too: a stripped config.json next to a backup holding the key is no strip. */
function stripBackup(data: Buffer, source: string): StripResult {
  const read = readJson(data, { refuseDuplicateKeys: true });
  const refuse = (why: string) => new UsageError(`refusing to strip ${source}: its backup ${why} and may still hold the provisioning apiKey`, {
    hint: 'inspect and remove that backup, then run strip again; nothing was changed',
  });
  if (!read.ok) throw refuse(read.why);
  if (!read.value || typeof read.value !== 'object' || Array.isArray(read.value)) throw refuse('is not a JSON object');
  const config = read.value as Record<string, unknown>;
  if (!('apiKey' in config)) return { config, removed: false };
  const { apiKey: _drop, ...rest } = config;
  return { config: rest, removed: true };
}

/**
 * Strip a local config.json and the backups fleetvault knows next to it. Everything is read and
 * checked before anything is written, so a refusal changes nothing. A symlinked config.json is
 * edited where it lives; a link at a backup's name is not a fleetvault backup and is refused.
 */
export function stripConfigFile(path: string): StripFileResult {
  const real = writeTarget(path, 'resolve');
  const main = stripProvisioningKey(parseConfigObject(readInputFile(real, 'config'), path), path);
  const backups: { path: string; strip: StripResult; mode: number }[] = [];
  // Next to the real file (where fleetvault writes backups) and next to a link to it (older ones).
  const candidates = [...new Set(KNOWN_BACKUP_SUFFIXES.flatMap((suffix) => [real + suffix, path + suffix]))];
  for (const b of candidates) {
    let st;
    try { st = lstatSync(b); } catch { continue; }
    if (st.isSymbolicLink() || !st.isFile()) {
      throw new UsageError(`refusing to strip ${path}: ${b} is not a regular file`, { hint: 'fleetvault never writes a link there: remove it, then run strip again; nothing was changed' });
    }
    backups.push({ path: b, strip: stripBackup(readInputFile(b, 'backup'), path), mode: st.mode & 0o600 });
  }
  // Keep the file's mode, but never wider than 0600: it holds the device key.
  if (main.removed) writeFileAtomic(real, render(main.config), { mode: statSync(real).mode & 0o600, verify: true });
  for (const b of backups) if (b.strip.removed) writeFileAtomic(b.path, render(b.strip.config), { mode: b.mode, symlink: 'refuse', verify: true });
  return { path, removed: main.removed, backups: backups.map((b) => ({ path: b.path, removed: b.strip.removed })) };
}

/** The same inside a disk image's boot partition (FAT writes pad, so the old key bytes are overwritten). */
export async function stripImageConfig(image: string, path = '/config.json'): Promise<StripFileResult> {
  const { readBootFile, readBootFileOptional, writeBootFile } = await import('../image/boot-partition.js');
  const inImage = path.startsWith('/') ? path : `/${path}`;
  const source = `${image}:${inImage}`;
  const main = stripProvisioningKey(parseConfigObject(await readBootFile(image, inImage), source), source);
  const backups: { path: string; strip: StripResult }[] = [];
  for (const suffix of KNOWN_BACKUP_SUFFIXES) {
    const data = await readBootFileOptional(image, inImage + suffix);
    if (data !== undefined) backups.push({ path: inImage + suffix, strip: stripBackup(data, source) });
  }
  if (main.removed) await writeBootFile(image, inImage, render(main.config));
  for (const b of backups) if (b.strip.removed) await writeBootFile(image, b.path, render(b.strip.config));
  return { path: inImage, image, removed: main.removed, backups: backups.map((b) => ({ path: b.path, removed: b.strip.removed })) };
}
