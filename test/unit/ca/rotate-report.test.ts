import { expect, test } from 'vitest';
import { renderRotateReport, type RotateReport } from '../../../src/ca/rotate.js';

const base: RotateReport = {
  journal: '/s/rotate-ssh.json', strategy: 'issuer', signingMount: 'ssh', dryRun: false, complete: false, pending: 'switch', notes: [],
  old: { mount: 'ssh', publicKey: 'ssh-ed25519 A', fingerprint: 'SHA256:old', issuerId: 'id-old' },
  next: { mount: 'ssh', publicKey: 'ssh-ed25519 B', fingerprint: 'SHA256:new', issuerId: 'id-new', issuerName: 'fleetvault-20260101-000000' },
  stages: [{ stage: 'distribute', status: 'failed', detail: '4/5 devices trust the new CA SHA256:new; missing: dev2' }],
};

test('human report: one line per stage, both CAs, where to resume', () => {
  const text = renderRotateReport({ ...base, notes: ['re-run fleetvault ca rotate to resume at stage distribute'] });
  expect(text.split('\n')[0]).toMatch(/^distribute +failed +4\/5 devices trust/);
  expect(text).toContain('old CA SHA256:old (issuer id-old) on ssh');
  expect(text).toContain('new CA SHA256:new (issuer fleetvault-20260101-000000) on ssh');
  expect(text).toContain('next stage: switch');
  expect(text).toContain('note: re-run fleetvault ca rotate');
});

test('human report: nothing to do, complete; dry run says nothing was written', () => {
  expect(renderRotateReport({ ...base, stages: [], complete: true, pending: undefined })).toMatch(/^nothing to do[\s\S]*rotation complete/);
  expect(renderRotateReport({ ...base, dryRun: true, stages: [{ stage: 'prepare', status: 'planned', detail: 'would create' }] })).toContain('dry run: nothing written');
});
