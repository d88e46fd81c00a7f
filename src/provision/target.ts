// Where a plaintext config.json goes: a local file (atomic, 0600 — it holds a device or
// provisioning key) or the boot partition of a disk image, so no plaintext ever lands on the
// flasher's disk outside the image.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/** Fail before Vault is asked (and a batch use spent) when the file or image cannot be written. */
export async function preflightTarget(t: ConfigTarget, defaultOut = 'config.json', bytes = 0): Promise<void> {
  if (t.image === undefined) {
    const out = t.out ?? defaultOut;
    writeTarget(out); // a link planted at --out is refused now, not after the decrypt
    const dir = dirname(resolve(out));
    let st;
    try {
      st = statSync(dir);
    } catch {
      throw new UsageError(`cannot write ${out}: directory ${dir} does not exist`, { hint: 'create it first; nothing was decrypted and no batch use was spent' });
    }
    if (!st.isDirectory()) throw new UsageError(`cannot write ${out}: ${dir} is not a directory`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UsageError(`cannot write ${out}: directory ${dir} is not writable`, { hint: 'pick another --out; nothing was decrypted and no batch use was spent' });
    }
    if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`cannot write ${out}: it is a directory`, { hint: 'name a file with --out' });
    return;
  }
  // `bytes`: the size about to be written, when known (an envelope's plaintext): a full boot
  // partition is found now, not after the decrypt.
  const { preflightBootWrite } = await import('../image/boot-partition.js');
  await preflightBootWrite(t.image, 'config.json', bytes);
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
