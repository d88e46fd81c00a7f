// Which devices `ca rotate abort` must clean, from distribute's per-device journal: those it wrote
// to or may have (a write in flight when the run was killed), never those it failed to reach.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { devicesDistributeMayHaveWritten } from '../../../src/ca/rotate-abort.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function journal(lines: object[]): string {
  const d = mkdtempSync(join(tmpdir(), 'fv-abort-unit-'));
  dirs.push(d);
  const p = join(d, 'rotate.distribute.jsonl');
  writeFileSync(p, lines.map((l) => JSON.stringify({ caFingerprint: 'SHA256:new', host: 'h', at: 'x', ...l })).join('\n') + '\n{"torn');
  return p;
}

test('a failure before the write is skipped; a write in flight, a write failure, changed and already are cleaned', () => {
  const p = journal([
    { device: 'unreachable', status: 'failed', wrote: false, reason: 'access denied' },
    { device: 'killed', status: 'writing' },
    { device: 'write-failed', status: 'writing' }, { device: 'write-failed', status: 'failed', reason: 'write failed: x' },
    { device: 'ok', status: 'writing' }, { device: 'ok', status: 'changed' },
    { device: 'had-it', status: 'already' },
    { device: 'other-ca', status: 'changed', caFingerprint: 'SHA256:other' },
    // An earlier run wrote, a later one could not even read: still possibly written.
    { device: 'flaky', status: 'writing' }, { device: 'flaky', status: 'failed', wrote: false },
  ]);
  expect([...(devicesDistributeMayHaveWritten(p, 'SHA256:new', undefined) as Set<string>)].sort())
    .toEqual(['flaky', 'had-it', 'killed', 'ok', 'write-failed']);
  expect([...(devicesDistributeMayHaveWritten(p, 'SHA256:new', ['covered']) as Set<string>)]).toContain('covered');
});

test('a journal from before writes were recorded cannot tell: every device', () => {
  expect(devicesDistributeMayHaveWritten(journal([{ device: 'a', status: 'failed', reason: 'x' }]), 'SHA256:new', undefined)).toBe('all');
  expect(devicesDistributeMayHaveWritten('/nonexistent/j.jsonl', 'SHA256:new', undefined)).toEqual(new Set());
});
