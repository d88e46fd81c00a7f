// The dev state directory is the user's choice (FLEETVAULT_DEV_DIR; the device's own errors tell
// them to set it), and the pids in state.json outlive the processes (a reboot keeps
// ~/.local/state): clearing it removes only what `fleetvault dev` wrote, and `dev stop` signals only
// processes that are still the ones it started (review #16).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearDevState, devStateDir, processAlive } from '../../../src/dev/state.js';
import { stopEmbedded } from '../../../src/dev/embedded.js';

let dir = '';
const pids: number[] = [];
afterEach(() => {
  for (const p of pids.splice(0)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dev state directory', () => {
  it('clearing it removes what fleetvault dev wrote there, never the user\'s own files', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-devstate-'));
    writeFileSync(join(dir, 'important.txt'), 'precious\n');
    mkdirSync(join(dir, 'project'));
    for (const f of ['state.json', 'server.hcl', 'server.log', 'audit.log', 'known_hosts', 'nss-ato.so']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'device', 'boot'), { recursive: true });
    writeFileSync(join(dir, 'device', 'boot', 'config.json'), '{}');
    clearDevState(dir);
    expect(readdirSync(dir).sort()).toEqual(['important.txt', 'project']);
  });

  it('clearing a directory that holds only fleetvault\'s files removes the directory too', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-devstate-'));
    const state = join(dir, 'state');
    mkdirSync(join(state, 'device'), { recursive: true });
    writeFileSync(join(state, 'state.json'), '{}');
    clearDevState(state);
    expect(existsSync(state)).toBe(false);
  });

  it('a relative FLEETVAULT_DEV_DIR is taken from the current directory: sshd_config, the device\'s SetEnv and the pids\' command lines need absolute paths', () => {
    // sshd reads a relative AuthorizedKeysFile from the login's home: the device refused the CA (exit 2, "does not trust the CA").
    const d = devStateDir({ FLEETVAULT_DEV_DIR: 'relstate' });
    expect(isAbsolute(d)).toBe(true);
    expect(d).toBe(resolve('relstate'));
  });

  it('dev stop does not signal a process that merely reuses a recorded pid (after a reboot, a SIGKILL)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-devstate-'));
    const state = join(dir, 'state');
    mkdirSync(join(state, 'device'), { recursive: true });
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    const ownGroup = spawn('sleep', ['61'], { stdio: 'ignore', detached: true });
    pids.push(unrelated.pid!, ownGroup.pid!);
    writeFileSync(join(state, 'device', 'supervisor.pid'), `${ownGroup.pid}\n`);
    writeFileSync(join(state, 'state.json'), JSON.stringify({
      address: 'http://127.0.0.1:1', rootToken: 'x', serverPid: unrelated.pid, devicePid: unrelated.pid,
      auditLog: join(state, 'audit.log'), dir: state, startedAt: new Date().toISOString(),
    }));
    const r = await stopEmbedded({ dir: state });
    expect(r.stopped).toEqual([]);
    expect(processAlive(unrelated.pid)).toBe(true);
    expect(processAlive(ownGroup.pid)).toBe(true);
  });
});
