// Where a plaintext config.json goes: a local file (atomic, 0600 — it holds a device or
// provisioning key) or the boot partition of a disk image, so no plaintext ever lands on the
// flasher's disk outside the image.
import { writeFileAtomic, writeTarget } from '../fs/atomic.js';
import { UsageError } from '../errors.js';

export interface ConfigTarget {
  out?: string;
  image?: string;
}

export function checkTarget(t: ConfigTarget): void {
  if (t.out !== undefined && t.image !== undefined) throw new UsageError('--out and --image cannot be used together');
  if (t.out === '') throw new UsageError('--out must name a file');
}

/** Fail before Vault is asked (and a batch use spent) when the image cannot take the file. */
export async function preflightTarget(t: ConfigTarget): Promise<void> {
  // A link planted at --out is refused now, not after the decrypt (which may spend a batch use).
  if (t.image === undefined) { writeTarget(t.out ?? 'config.json'); return; }
  const { readBootFileOptional } = await import('../image/boot-partition.js');
  await readBootFileOptional(t.image, 'config.json');
}

export async function writeConfigTarget(t: ConfigTarget, data: Buffer, defaultOut = 'config.json'): Promise<{ written: string }> {
  if (t.image !== undefined) {
    const { writeBootFile } = await import('../image/boot-partition.js');
    await writeBootFile(t.image, 'config.json', data);
    return { written: `${t.image}:/config.json` };
  }
  const out = t.out ?? defaultOut;
  writeFileAtomic(out, data, { mode: 0o600 });
  return { written: out };
}
