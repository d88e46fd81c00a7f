// Real filesystems that fail writes the way users' disks do: a tiny tmpfs that is full (ENOSPC)
// and a read-only bind mount (EROFS). Needs root (mount(2)); fails loudly, never skips.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools } from './tools.js';

export interface Mounts {
  /** A tmpfs of `sizeKiB` holding `files`, then filled to the last byte. */
  full(dir: string, files: Record<string, string | Buffer>, sizeKiB?: number): string;
  /** `dir` mounted read-only at `<dir>-ro`; returns the read-only path. */
  readOnly(dir: string): string;
  /** Unmount everything this instance mounted (afterAll / afterEach). */
  cleanup(): void;
}

export function mounts(): Mounts {
  requireTools(['mount', 'umount']);
  if (process.getuid?.() !== 0) throw new Error('these tests mount a tmpfs and a read-only bind mount: run them as root');
  const mounted: string[] = [];
  return {
    full(dir, files, sizeKiB = 64) {
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir]);
      mounted.push(dir);
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
      // Fill every remaining block: the next write of any size fails with ENOSPC.
      try { execFileSync('dd', ['if=/dev/zero', `of=${join(dir, '.filler')}`, 'bs=4k'], { stdio: 'ignore' }); } catch { /* dd ends with ENOSPC: that is the point */ }
      try { execFileSync('dd', ['if=/dev/zero', `of=${join(dir, '.filler2')}`, 'bs=1'], { stdio: 'ignore' }); } catch { /* same */ }
      return dir;
    },
    readOnly(dir) {
      const ro = `${dir}-ro`;
      mkdirSync(ro, { recursive: true });
      execFileSync('mount', ['--bind', dir, ro]);
      mounted.push(ro);
      execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
      return ro;
    },
    cleanup() {
      for (const m of mounted.splice(0).reverse()) {
        try { execFileSync('umount', [m]); } catch { execFileSync('umount', ['-l', m]); }
      }
    },
  };
}
