// A private dev state dir per test, for the `fleetvault dev` tests that start servers and devices
// the way a user does: whatever a test leaves running (server, device host, supervisor, sessions)
// is stopped with `dev stop`, then killed by name, and the dir removed.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { runCli } from './cli.js';

/** Processes (not this one) whose command line or environment names `needle`, e.g. a state dir. */
export function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    for (const f of ['cmdline', 'environ']) {
      try { if (readFileSync(`/proc/${e}/${f}`, 'utf8').includes(needle)) { out.push(Number(e)); break; } } catch { /* gone */ }
    }
  }
  return out;
}

/** Call at module level; `make()` in a test gives a fresh dir and its `state` (FLEETVAULT_DEV_DIR). */
export function devStateDirs(prefix: string): { make(): { dir: string; state: string } } {
  let dir = '';
  afterEach(async () => {
    if (!dir) return;
    const state = join(dir, 'state');
    await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: state } });
    for (const p of processesNaming(state)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
    dir = '';
  });
  return {
    make: () => {
      dir = mkdtempSync(join(tmpdir(), prefix));
      return { dir, state: join(dir, 'state') };
    },
  };
}
