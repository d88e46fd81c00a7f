import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  defaultRotationJournal, findRotationByNewMount, nextStage, readRotation, rolloutJournalFor, writeRotation, type RotationState,
} from '../../../src/ca/rotate-journal.js';
import { plannedIssuerName } from '../../../src/ca/rotate-vault.js';
import { UsageError } from '../../../src/errors.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tmp(): string { const d = mkdtempSync(join(tmpdir(), 'fv-rotate-unit-')); dirs.push(d); return d; }

function state(over: Partial<RotationState> = {}): RotationState {
  return {
    version: 1, mount: 'ssh-a', role: 'engineer', strategy: 'mount', startedAt: '2026-01-01T00:00:00.000Z',
    old: { mount: 'ssh-a', publicKey: 'ssh-ed25519 AAAA', fingerprint: 'SHA256:old' },
    next: { mount: 'ssh-a-20260101', publicKey: 'ssh-ed25519 BBBB', fingerprint: 'SHA256:new' },
    stages: { prepare: { status: 'done' }, distribute: { status: 'failed' }, switch: { status: 'pending' }, retire: { status: 'pending' } },
    ...over,
  };
}

describe('rotation journal', () => {
  test('round-trips atomically with mode 0600 and names the next stage', () => {
    const p = join(tmp(), 'sub', 'rotate-ssh-a.json');
    writeRotation(p, state());
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const s = readRotation(p)!;
    expect(s).toEqual(state());
    expect(nextStage(s)).toBe('distribute');
    expect(nextStage(state({ stages: { prepare: { status: 'done' }, distribute: { status: 'done' }, switch: { status: 'done' }, retire: { status: 'done' } } }))).toBeUndefined();
  });

  test('absent is undefined; malformed or foreign files are refused with exit 1 and left unchanged', () => {
    const d = tmp();
    expect(readRotation(join(d, 'none.json'))).toBeUndefined();
    for (const text of ['{"version":1', '{"version":2}', '[]', 'null']) {
      const p = join(d, 'bad.json');
      writeFileSync(p, text);
      expect(() => readRotation(p)).toThrow(UsageError);
      expect(readFileSync(p, 'utf8')).toBe(text);
    }
  });

  test('default paths: per server and mount under the state dir; fleet-stage journals next to it', () => {
    expect(defaultRotationJournal('ssh-a', 'c1', { XDG_STATE_HOME: '/s' })).toBe('/s/fleetvault/rotate-ssh-a@c1.json');
    expect(defaultRotationJournal('ssh-a', 'c1', { HOME: '/h' })).toBe('/h/.local/state/fleetvault/rotate-ssh-a@c1.json');
    // Two servers, one mount name: two journals.
    expect(defaultRotationJournal('ssh-a', 'c2', { HOME: '/h' })).not.toBe(defaultRotationJournal('ssh-a', 'c1', { HOME: '/h' }));
    // A nested mount or an odd cluster id never makes a subdirectory or escapes the state dir.
    expect(defaultRotationJournal('team/ssh', '../x', { HOME: '/h' })).toBe('/h/.local/state/fleetvault/rotate-team_ssh@.._x.json');
    expect(rolloutJournalFor('/s/rotate-ssh-a.json', 'distribute')).toBe('/s/rotate-ssh-a.distribute.jsonl');
    expect(rolloutJournalFor('/s/custom', 'retire')).toBe('/s/custom.retire.jsonl');
  });

  test('after a mount switch, the unfinished rotation of this server is found by its new mount', () => {
    const d = tmp();
    const env = { XDG_STATE_HOME: d };
    const server = { clusterId: 'c1', address: 'http://a' };
    writeRotation(defaultRotationJournal('ssh-a', 'c1', env), state({ server }));
    writeRotation(defaultRotationJournal('ssh-b', 'c1', env), state({ server, mount: 'ssh-b', next: { ...state().next, mount: 'ssh-b-x' }, completedAt: '2026-01-02T00:00:00Z' }));
    writeFileSync(join(d, 'fleetvault', 'rotate-junk.json'), 'not json');
    expect(findRotationByNewMount('ssh-a-20260101', 'c1', env)).toBe(defaultRotationJournal('ssh-a', 'c1', env));
    expect(findRotationByNewMount('ssh-a-20260101', 'c2', env)).toBeUndefined(); // another server's
    expect(findRotationByNewMount('ssh-b-x', 'c1', env)).toBeUndefined(); // completed
    expect(findRotationByNewMount('ssh-zzz', 'c1', env)).toBeUndefined();
    expect(findRotationByNewMount('x', 'c1', { XDG_STATE_HOME: join(d, 'missing') })).toBeUndefined();
  });

  test('planned issuer names are valid OpenBao issuer names and sort by time', () => {
    const a = plannedIssuerName(new Date('2026-03-04T05:06:07Z'));
    expect(a).toBe('fleetvault-20260304-050607');
    expect(a).toMatch(/^\w([\w.-]*\w)?$/);
    expect(plannedIssuerName(new Date('2026-03-04T05:06:08Z')) > a).toBe(true);
  });
});
