// The simulated device's fatrw takes what balena-os/fatrw's CLI (clap, src/bin/fatrw/cli.rs) takes:
// the top-level -d/--debug and -u/--unsafe before the subcommand, and any octal mode clap's
// u32::from_str_radix(s, 8) parses for -m ("0", "00600", as `stat -c %a` can print "0") (review #16 finding 7).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceFiles } from '../../../src/dev/balenaos/paths.js';

let dir = '';
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
const fatrw = (args: string[], input?: string) => spawnSync(join(deviceFiles().fatrw, 'fatrw'), args, { encoding: 'utf8', input: input ?? '' });

describe('fatrw stand-in CLI', () => {
  it('accepts the top-level -d/--debug and -u/--unsafe flags before the subcommand', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-fatrw-'));
    const f = join(dir, 'config.json');
    writeFileSync(f, '{"a":1}\n');
    for (const flags of [['-d'], ['--debug'], ['-u'], ['--unsafe'], ['-d', '-u']]) {
      const r = fatrw([...flags, 'read', f]);
      expect(r.status, `${flags.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe('{"a":1}\n');
    }
    const w = fatrw(['-u', 'write', f, '-m', '640'], '{"b":2}\n');
    expect(w.status, w.stderr).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('{"b":2}\n');
  });

  it('takes any octal mode clap parses: 0, 00600', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-fatrw-'));
    const f = join(dir, 'config.json');
    for (const [mode, want] of [['00600', 0o600], ['0', 0o000], ['644', 0o644]] as const) {
      const r = fatrw(['write', f, '-m', mode], 'x\n');
      expect(r.status, `${mode}: ${r.stderr}`).toBe(0);
      expect(statSync(f).mode & 0o7777).toBe(want);
    }
    expect(fatrw(['write', f, '-m', '9'], 'x\n').status).not.toBe(0);
  });

  // fatrw opens its checksum file with OpenOptions::mode(MODE): open(2) applies the umask, and
  // std::fs::copy carries that mode to the target. A caller that runs under umask 077 (fleetvault's
  // write script) gets 0600 for -m 640 from the real fatrw, so the stand-in must do the same.
  it('creates the file with MODE & ~umask, as open(2) does', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-fatrw-'));
    const f = join(dir, 'config.json');
    for (const [umask, want] of [['077', 0o600], ['022', 0o640], ['000', 0o640]] as const) {
      const r = spawnSync('sh', ['-c', `umask ${umask}; exec "$0" write "$1" -m 640`, join(deviceFiles().fatrw, 'fatrw'), f], { encoding: 'utf8', input: 'x\n' });
      expect(r.status, r.stderr).toBe(0);
      expect(statSync(f).mode & 0o7777, `umask ${umask}`).toBe(want);
    }
  });

  // The file never exists at another mode: a write killed right after creating it leaves a complete
  // checksum file that the next read commits, and that must not turn a 0640 config.json into 0600
  // (CI: a supervisor write-back raced a read and left config.json 0600 for good).
  it('a write killed right after creating its file: the next read commits it at the requested mode', () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-fatrw-'));
    const f = join(dir, 'config.json');
    writeFileSync(f, '{"a":1}\n', { mode: 0o640 });
    const shims = join(dir, 'shims');
    mkdirSync(shims);
    // Any chmod or sync after the create kills the writer there (the window between the two).
    for (const tool of ['chmod', 'sync']) writeFileSync(join(shims, tool), '#!/bin/sh\nkill -9 $PPID\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${shims}:${process.env.PATH}` };
    const w = spawnSync('sh', ['-c', 'umask 022; exec "$0" write "$1" -m 640', join(deviceFiles().fatrw, 'fatrw'), f], { encoding: 'utf8', input: '{"b":2}\n', env });
    expect(w.signal).toBe('SIGKILL');
    const r = fatrw(['read', f]);
    expect(r.stdout).toBe('{"b":2}\n');
    expect(statSync(f).mode & 0o7777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'shims']);
  });
});
