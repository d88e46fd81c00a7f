// Scoped access in anomalies: every break-glass certificate is reported with its reason; scoped
// device/fleet principals are what grants hand out, so they are not "unusual principals".
import { describe, expect, it } from 'vitest';
import { findAnomalies } from '../../../src/audit/anomalies.js';
import type { AuditEvent } from '../../../src/audit/events.js';

async function* replay(list: AuditEvent[]) { yield* list; }

const sign = (principals: string[], ok = true, reason?: string): AuditEvent => ({
  time: '2026-12-01T00:00:00.000Z', kind: 'ssh-sign', ok, actor: 'oidc-alice', remoteAddress: '198.51.100.7',
  path: `ssh-client-signer/sign/${principals[0]}`, details: { principals, reason },
});

describe('anomalies and scoped principals', () => {
  it('reports break-glass with its reason, and only issued ones', async () => {
    const found = await findAnomalies(replay([
      sign(['break-glass'], true, 'INC-42 fleet offline'),
      sign(['break-glass'], false),
      sign(['fleet-acme.sensors']),
      sign(['device-0123456789abcdef0123456789abcdef']),
    ]), { maxPerMinute: 1000 });
    expect(found.filter((a) => a.type === 'break-glass')).toEqual([
      expect.objectContaining({ actor: 'oidc-alice', message: 'break-glass certificate (reason: INC-42 fleet offline)' }),
    ]);
    expect(found.filter((a) => a.type === 'unusual-principals')).toEqual([]);
    // The refused break-glass request is counted with the refusals of its source.
    expect(found.filter((a) => a.type === 'refusals')).toEqual([expect.objectContaining({ remoteAddress: '198.51.100.7', count: 1 })]);
  });

  it('still flags principals that are neither expected nor scoped', async () => {
    const found = await findAnomalies(replay([sign(['admin']), sign(['fleet-Not,Scoped'])]), { maxPerMinute: 1000 });
    expect(found.filter((a) => a.type === 'unusual-principals')).toHaveLength(2);
  });
});
