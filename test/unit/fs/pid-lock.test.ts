// src/fs/pid-lock.ts: one holder at a time; a holder that died (or whose pid now belongs to
// another process) does not keep the lock.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { takePidLock } from '../../../src/fs/pid-lock.js';

let dir = '';
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
const busy = (h: { pid: number }) => new Error(`busy: ${h.pid}`);

describe('takePidLock', () => {
  it('refuses a second taker while held, names the holder, and is free again after release', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-lock-'));
    const f = join(dir, 'j.lock');
    const release = takePidLock(f, busy);
    expect(readFileSync(f, 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+\\n$`));
    expect(() => takePidLock(f, busy)).toThrow(`busy: ${process.pid}`);
    release();
    expect(existsSync(f)).toBe(false);
    takePidLock(f, busy)();
  });

  it('replaces the lock of a process that is gone, or whose pid now runs something started later', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-lock-'));
    const f = join(dir, 'j.lock');
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(f, `${dead} 12345\n`);
    takePidLock(f, busy)();
    // Our own pid, but another start time: the recorded holder is not this process.
    writeFileSync(f, `${process.pid} 1\n`);
    const release = takePidLock(f, busy);
    expect(readFileSync(f, 'utf8')).not.toBe(`${process.pid} 1\n`);
    release();
  });

  it('release leaves a lock that is no longer its own', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-lock-'));
    const f = join(dir, 'j.lock');
    const release = takePidLock(f, busy);
    writeFileSync(f, 'someone else\n');
    release();
    expect(readFileSync(f, 'utf8')).toBe('someone else\n');
  });
});
