// Pieces of the faithful balenaOS device that need no sshd: os-sshkeys' reading of config.json,
// finding what a session started (so `dev stop` ends it), and a stopped process that is a zombie.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sshKeysOf } from '../../../src/dev/balenaos/os-sshkeys.js';
import { descendants } from '../../../src/dev/balenaos/sshd-socket.js';
import { processAlive } from '../../../src/dev/state.js';

describe('balenaOS device', () => {
  it('os-sshkeys takes string entries without line breaks, none from a file it cannot parse', () => {
    expect(sshKeysOf('{"os":{"sshKeys":["a b","c\\nd",3,"e"]}}')).toEqual(['a b', 'e']);
    expect(sshKeysOf('{"os":{}}')).toEqual([]);
    expect(sshKeysOf('{"os":{"sshKeys":"x"}}')).toEqual([]);
    expect(sshKeysOf('{"os":')).toBeUndefined(); // the keys applied last stay
  });

  it('finds every process below a session, also one in a session of its own', async () => {
    const c = spawn('sh', ['-c', 'setsid sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const below = Number(await new Promise<string>((r) => c.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(descendants([c.pid!])).toContain(below);
      expect(descendants([])).toEqual([]);
    } finally {
      for (const p of [below, c.pid!]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    }
  });

  it('a process that exited but is not reaped yet (a zombie) is not alive', async () => {
    // Its parent execs into a sleep that never reaps it: a zombie for as long as that sleep runs.
    const c = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const child = Number(await new Promise<string>((r) => c.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
    try {
      await new Promise((r) => setTimeout(r, 300));
      let zombie = true;
      try { process.kill(child, 0); } catch { zombie = false; }
      expect(zombie).toBe(true); // signal 0 still reaches it…
      expect(processAlive(child)).toBe(false); // …but it has exited
      expect(processAlive(c.pid)).toBe(true);
      expect(processAlive(undefined)).toBe(false);
    } finally {
      c.kill('SIGKILL');
    }
  });
});
