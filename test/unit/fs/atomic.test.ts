// The one local writer (src/fs/atomic.ts) on real filesystems: planted symlinks (issue #11 item 6),
// mode kept, and a full tmpfs / read-only bind mount (item 10): one-line errors, nothing half-written.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { writeFileAtomic, writeFilesAtomic } from '../../../src/fs/atomic.js';
import { UsageError } from '../../../src/errors.js';
import { mounts } from '../../support/mounts.js';

let dir: string;
const m = mounts();
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'fv-atomic-')); });
afterEach(() => { m.cleanup(); rmSync(dir, { recursive: true, force: true }); });
afterAll(() => m.cleanup());

function thrown(fn: () => unknown): UsageError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(UsageError); return e as UsageError; }
  throw new Error('expected a UsageError');
}

describe('symlinks', () => {
  test('a link at the target is refused by default; the file it points to is untouched', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, 'out.json'));
    const e = thrown(() => writeFileAtomic(join(dir, 'out.json'), 'x', { mode: 0o600 }));
    expect(e.message).toMatch(/symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(join(dir, 'out.json')).isSymbolicLink()).toBe(true);
  });

  test("'replace' replaces the link itself with a regular file, never writes through it", () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious', { mode: 0o644 });
    symlinkSync(victim, join(dir, 'config.json.fleetvault.bak'));
    writeFileAtomic(join(dir, 'config.json.fleetvault.bak'), '{"apiKey":"secret"}', { mode: 0o600, symlink: 'replace' });
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    const st = lstatSync(join(dir, 'config.json.fleetvault.bak'));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  test("'resolve' replaces the real file in its own directory; the link stays a link", () => {
    const realDir = mkdtempSync(join(dir, 'real-'));
    writeFileSync(join(realDir, 'config.json'), '{}', { mode: 0o600 });
    symlinkSync(join(realDir, 'config.json'), join(dir, 'config.json'));
    const written = writeFileAtomic(join(dir, 'config.json'), '{"a":1}', { mode: 0o600, symlink: 'resolve', verify: true });
    expect(written).toBe(join(realDir, 'config.json'));
    expect(readlinkSync(join(dir, 'config.json'))).toBe(join(realDir, 'config.json'));
    expect(readFileSync(join(realDir, 'config.json'), 'utf8')).toBe('{"a":1}');
    // A dangling link is refused, not created.
    symlinkSync(join(dir, 'missing'), join(dir, 'dangling.json'));
    expect(thrown(() => writeFileAtomic(join(dir, 'dangling.json'), 'x', { symlink: 'resolve' })).message).toMatch(/does not resolve/);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  test('the mode asked for is the mode written, whatever the umask', () => {
    const old = process.umask(0o077);
    try {
      writeFileAtomic(join(dir, 'a'), 'x', { mode: 0o644 });
      expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o644);
    } finally { process.umask(old); }
  });

  test("many files, 'resolve': a linked file is rewritten where it lives, the link stays", async () => {
    writeFileSync(join(dir, 'real.json'), 'old');
    symlinkSync(join(dir, 'real.json'), join(dir, 'link.json'));
    await writeFilesAtomic([{ path: join(dir, 'link.json'), data: 'new', symlink: 'resolve' }]);
    expect(readFileSync(join(dir, 'real.json'), 'utf8')).toBe('new');
    expect(lstatSync(join(dir, 'link.json')).isSymbolicLink()).toBe(true);
  });

  test('many files: one planted link refuses the whole set, nothing written', async () => {
    writeFileSync(join(dir, 'victim'), 'precious');
    symlinkSync(join(dir, 'victim'), join(dir, 'b.json'));
    await expect(writeFilesAtomic([{ path: join(dir, 'a.json'), data: 'a' }, { path: join(dir, 'b.json'), data: 'b' }])).rejects.toThrow(/symbolic link/);
    expect(existsSync(join(dir, 'a.json'))).toBe(false);
    expect(readFileSync(join(dir, 'victim'), 'utf8')).toBe('precious');
  });
});

describe('full and read-only filesystems', () => {
  test('full tmpfs: one line naming ENOSPC, old content kept, no temp file left', async () => {
    const full = m.full(join(dir, 'full'), { 'config.json': '{"old":true}' });
    const e = thrown(() => writeFileAtomic(join(full, 'config.json'), JSON.stringify({ pad: 'x'.repeat(64 * 1024) }), { mode: 0o600 }));
    expect(e.message).toBe(`failed to write ${join(full, 'config.json')}: no space left on device (ENOSPC)`);
    expect(e.message).not.toMatch(/\n/);
    expect(readFileSync(join(full, 'config.json'), 'utf8')).toBe('{"old":true}');
    expect(readdirSync(full).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await expect(writeFilesAtomic([{ path: join(full, 'x.json'), data: 'x'.repeat(8192) }])).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(full).filter((n) => n.endsWith('.tmp') || n === 'x.json')).toEqual([]);
  });

  test('read-only bind mount: one line naming EROFS, nothing changed', () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'config.json'), '{"old":true}');
    const ro = m.readOnly(src);
    const e = thrown(() => writeFileAtomic(join(ro, 'config.json'), '{}'));
    expect(e.message).toBe(`failed to write ${join(ro, 'config.json')}: read-only file system (EROFS)`);
    expect(readFileSync(join(src, 'config.json'), 'utf8')).toBe('{"old":true}');
  });
});

describe('append-only logs (journals)', () => {
  test('a link planted at a journal name is refused; a new journal is 0600', async () => {
    const { openAppendLog } = await import('../../../src/fs/atomic.js');
    writeFileSync(join(dir, 'victim'), 'precious');
    symlinkSync(join(dir, 'victim'), join(dir, 'journal.jsonl'));
    expect(thrown(() => openAppendLog(join(dir, 'journal.jsonl'))).message).toMatch(/symbolic link/);
    expect(readFileSync(join(dir, 'victim'), 'utf8')).toBe('precious');
    const { closeSync } = await import('node:fs');
    closeSync(openAppendLog(join(dir, 'new.jsonl')));
    expect(statSync(join(dir, 'new.jsonl')).mode & 0o777).toBe(0o600);
  });
});
