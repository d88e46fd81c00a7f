// Ctrl-C while `fleetvault dev --with-device` is still starting (the device is up, the login probe
// runs): the terminal's SIGINT reaches the CLI and OpenBao, not the device's host (a session of its
// own, so that it outlives `dev --detach`), and no state.json is written yet, so `dev stop` cannot
// find it either. Nothing may stay: host, supervisor, listener (review #16 finding 3).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { CLI } from '../../support/cli.js';
import { requireTools } from '../../support/tools.js';
import { processesNaming } from '../../support/dev-state.js';

let dir = '';
afterEach(() => {
  if (!dir) return;
  for (const p of processesNaming(dir)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
});

test('Ctrl-C while dev --with-device starts leaves no device host, supervisor or listener', { timeout: 90_000 }, async () => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-ctrlc-'));
  const state = join(dir, 'state');
  // Its own process group, like a shell job: Ctrl-C is SIGINT to the whole group.
  const cli = spawn(process.execPath, [CLI, 'dev', '--with-device'], {
    env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: dir, LANG: 'C.UTF-8', FLEETVAULT_DEV_DIR: state, FLEETVAULT_SIGNING_CACHE: '0' },
    stdio: 'ignore', detached: true,
  });
  const exited = new Promise<void>((r) => cli.once('exit', () => r()));
  // The device is up (its supervisor runs) and `dev` has not finished: the login probe is next.
  for (const end = Date.now() + 45_000; Date.now() < end && !existsSync(join(state, 'device', 'supervisor.pid')); ) await new Promise((r) => setTimeout(r, 20));
  expect(existsSync(join(state, 'device', 'supervisor.pid'))).toBe(true);
  process.kill(-cli.pid!, 'SIGINT');
  await exited;
  let left = processesNaming(state);
  for (const end = Date.now() + 20_000; left.length && Date.now() < end; left = processesNaming(state)) await new Promise((r) => setTimeout(r, 200));
  expect(left.map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return String(p); } })).toEqual([]);
});

// The terminal closed (SIGHUP) on a foreground `dev --with-device` that is up: OpenBao takes SIGHUP
// as "reload its config" and the device's host is in a session of its own, so both ran on with
// nobody to stop them but `dev stop` (review #16 finding 11).
test.each(['SIGINT', 'SIGHUP'] as const)('%s to a foreground dev --with-device that is up stops everything', { timeout: 90_000 }, async (signal) => {
  requireTools(['sshd', 'ssh', 'ssh-keygen', 'jq']);
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-fg-'));
  const state = join(dir, 'state');
  const cli = spawn(process.execPath, [CLI, 'dev', '--with-device'], {
    env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: dir, LANG: 'C.UTF-8', FLEETVAULT_DEV_DIR: state, FLEETVAULT_SIGNING_CACHE: '0' },
    stdio: ['ignore', 'ignore', 'pipe'], detached: true,
  });
  const exited = new Promise<void>((r) => cli.once('exit', () => r()));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    cli.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('press Ctrl-C')) resolve(); });
    cli.once('exit', () => reject(new Error(`dev exited before it was up: ${err}`)));
  });
  process.kill(-cli.pid!, signal);
  await exited;
  let left = processesNaming(state);
  for (const end = Date.now() + 20_000; left.length && Date.now() < end; left = processesNaming(state)) await new Promise((r) => setTimeout(r, 200));
  expect(left.map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return String(p); } })).toEqual([]);
});
