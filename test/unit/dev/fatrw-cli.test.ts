// The simulated device's fatrw takes what balena-os/fatrw's CLI (clap, src/bin/fatrw/cli.rs) takes:
// the top-level -d/--debug and -u/--unsafe before the subcommand, and any octal mode clap's
// u32::from_str_radix(s, 8) parses for -m ("0", "00600", as `stat -c %a` can print "0") (review #16 finding 7).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
});
