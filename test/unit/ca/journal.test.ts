// The rollout journal counts a device as done only for the same edit (review #14 R1): an unscoped
// run's "changed" must not make a --scoped run skip the device.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, editKey } from '../../../src/ca/journal.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function path(): string {
  const d = mkdtempSync(join(tmpdir(), 'fv-journal-'));
  dirs.push(d);
  return join(d, 'rollout.jsonl');
}

describe('Journal.doneFor', () => {
  const unscoped = editKey({ scoped: false, principals: 'root' });
  const scoped = editKey({ scoped: true, principals: 'device-a,fleet-b,break-glass' });
  const d1 = { name: 'd1', host: 'h' };

  it('keys differ by scope, principals and removals', () => {
    expect(new Set([unscoped, scoped, editKey({ scoped: false, principals: 'admin' }), editKey({ scoped: false, principals: 'root', removeFingerprints: ['SHA256:x'] })]).size).toBe(4);
    expect(editKey({ scoped: false, principals: 'root', removeFingerprints: ['b', 'a'] })).toBe(editKey({ scoped: false, principals: 'root', removeFingerprints: ['a', 'b'] }));
  });

  it('an entry is done only for the same edit', () => {
    const p = path();
    const j = new Journal(p, 'SHA256:ca');
    j.record({ device: 'd1', host: 'h', status: 'changed', edit: unscoped });
    j.close();
    const again = new Journal(p, 'SHA256:ca');
    expect(again.doneFor(d1, unscoped)).toMatchObject({ status: 'changed' });
    expect(again.doneFor(d1, scoped)).toBeUndefined();
    expect(new Journal(p, 'SHA256:other').doneFor(d1, unscoped)).toBeUndefined();
  });

  it('entries from before the field count for unscoped runs only', () => {
    const p = path();
    writeFileSync(p, JSON.stringify({ device: 'd1', host: 'h', status: 'changed', caFingerprint: 'SHA256:ca', at: 'x' }) + '\n');
    const j = new Journal(p, 'SHA256:ca');
    expect(j.doneFor(d1, unscoped)).toBeDefined();
    expect(j.doneFor(d1, scoped)).toBeUndefined();
  });

  it('review #14b: entries from before the field count only for the plain default edit (root, nothing removed)', () => {
    const p = path();
    writeFileSync(p, JSON.stringify({ device: 'd1', host: 'h', status: 'changed', caFingerprint: 'SHA256:ca', at: 'x' }) + '\n');
    const j = new Journal(p, 'SHA256:ca');
    expect(j.doneFor(d1, editKey({ scoped: false, principals: 'root' }))).toBeDefined();
    expect(j.doneFor(d1, editKey({ scoped: false, principals: 'root', removeFingerprints: ['SHA256:old'] }))).toBeUndefined();
    expect(j.doneFor(d1, editKey({ scoped: false, principals: 'operator' }))).toBeUndefined();
  });

  it('review #14b: an entry is the same device only with the same host, and the same uuid when both know it', () => {
    const p = path();
    const j = new Journal(p, 'SHA256:ca');
    j.record({ device: 'd1', host: '10.9.9.9', status: 'changed', edit: unscoped });
    j.record({ device: 'd2', host: 'h', status: 'changed', edit: unscoped, uuid: 'a'.repeat(32) });
    j.close();
    const again = new Journal(p, 'SHA256:ca');
    expect(again.doneFor({ name: 'd1', host: '10.9.9.9' }, unscoped)).toBeDefined();
    expect(again.doneFor({ name: 'd1', host: '10.0.0.1' }, unscoped)).toBeUndefined();
    expect(again.doneFor({ name: 'd2', host: 'h', uuid: 'A'.repeat(32) }, unscoped)).toBeDefined();
    expect(again.doneFor({ name: 'd2', host: 'h' }, unscoped)).toBeDefined();
    expect(again.doneFor({ name: 'd2', host: 'h', uuid: 'b'.repeat(32) }, unscoped)).toBeUndefined();
  });
});

describe('Journal.holdOwner', () => {
  it('is the same for a re-run on the same journal, different per device and per journal; its key line is no entry', () => {
    const p = path();
    const a = new Journal(p, 'SHA256:ca');
    const d1 = a.holdOwner({ name: 'd1', host: 'h' });
    expect(d1).toMatch(/^[0-9a-f]{32}$/);
    expect(a.holdOwner({ name: 'd2', host: 'h' })).not.toBe(d1);
    expect(a.holdOwner({ name: 'd1', host: 'other' })).not.toBe(d1);
    a.record({ device: 'd1', host: 'h', status: 'changed', edit: editKey({ scoped: false, principals: 'root' }) });
    a.close();
    // The killed run's re-run (another CA too: the key belongs to the file).
    const again = new Journal(p, 'SHA256:other');
    expect(again.holdOwner({ name: 'd1', host: 'h' })).toBe(d1);
    again.close();
    expect(new Journal(p, 'SHA256:ca').malformedLines).toBe(0);
    expect(new Journal(p, 'SHA256:ca').done.size).toBe(1);
    // Another journal (another operator, another run): another owner.
    const b = new Journal(path(), 'SHA256:ca');
    expect(b.holdOwner({ name: 'd1', host: 'h' })).not.toBe(d1);
    b.close();
  });
});

describe('Journal.holdOwner (review: runs started together on one new journal)', () => {
  it('two runs that opened the journal before either wrote its key agree on the owner, and so does their re-run', () => {
    const p = path();
    const a = new Journal(p, 'SHA256:ca');
    const b = new Journal(p, 'SHA256:ca');
    const oa = a.holdOwner({ name: 'd1', host: 'h' });
    const ob = b.holdOwner({ name: 'd1', host: 'h' });
    a.close(); b.close();
    // Otherwise the re-run (first key in the file) cannot take over b's leftover holds: refused
    // with exit 88 for the whole lease.
    expect(ob).toBe(oa);
    expect(new Journal(p, 'SHA256:ca').holdOwner({ name: 'd1', host: 'h' })).toBe(oa);
  });
});
