// libnss-ato on balenaOS maps every login name to root. The simulated device gets the same from an
// LD_PRELOAD shim (files/nss-ato.c) loaded only into its own sshd, built with gcc once per
// directory (the dev state dir; a test run's dir) and reused by every device there.
// It only helps when sshd runs as root: an unprivileged sshd cannot switch to uid 0 for anyone.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { deviceFiles } from './paths.js';

/** 'require': build it or throw (tests). 'auto': build it when running as root and gcc exists (dev). */
export type NssAtoMode = 'require' | 'auto' | 'off';

export interface NssAto {
  /** The shared object for LD_PRELOAD, or undefined when the device logs in only its own user. */
  so?: string;
  /** Why there is none (one line for `fleetvault dev` to print). */
  missing?: string;
}

const built = new Map<string, string>();

export function nssAtoShim(dir: string, mode: NssAtoMode): NssAto {
  if (mode === 'off') return { missing: 'turned off' };
  const cached = built.get(dir);
  if (cached && existsSync(cached)) return { so: cached };
  if (mode === 'auto') {
    if (process.geteuid?.() !== 0) return { missing: 'not run as root' };
    if (!onPath('gcc')) return { missing: 'no gcc to build the libnss-ato shim' };
  }
  const so = join(dir, 'nss-ato.so');
  if (!existsSync(so)) {
    // Built under another name and renamed: devices started at once never load a half-written file.
    const tmp = `${so}.${process.pid}.tmp`;
    try {
      execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', tmp, deviceFiles().nssAtoSource, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      rmSync(tmp, { force: true });
      if (mode === 'require') throw e;
      return { missing: 'gcc could not build the libnss-ato shim' };
    }
    renameSync(tmp, so);
  }
  built.set(dir, so);
  return { so };
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((d) => d.startsWith('/') && existsSync(join(d, bin)));
}
