// After adding a scoped certificate, fleetvault keeps at most it plus the most recent other scoped
// certificate of its own in the agent (sshd's MaxAuthTries 6 with a couple of the user's keys):
// only fleetvault-… comments with scoped principals, only the current CA's or expired ones.
import { describe, expect, it } from 'vitest';
import { KEEP_OTHER_SCOPED_CERTIFICATES, scopedCertificatesToPrune, type AgentCertificate } from '../../../src/ssh/agent.js';
import type { CertificateInfo } from '../../../src/ssh/certificate.js';

const now = Date.now();
let n = 0;
const entry = (principals: string[], o: { comment?: string; ca?: string; validBefore?: number; blob?: string } = {}): AgentCertificate => {
  const blob = o.blob ?? `KEY${n++}`;
  const info: CertificateInfo = {
    type: 'user', keyId: 'k', serial: String(n), principals, validAfter: new Date(now - 60_000).toISOString(), validBefore: new Date(o.validBefore ?? now + 1_800_000).toISOString(),
    extensions: [], criticalOptions: {}, signingKeyFingerprint: o.ca ?? 'SHA256:ca', publicKeyFingerprint: 'SHA256:k', signatureValid: true, signatureAlgorithm: 'ssh-ed25519',
    expired: false, notYetValid: false,
  };
  const comment = o.comment ?? `fleetvault-${principals[0]}`;
  return { info, comment, line: `ssh-ed25519-cert-v01@openssh.com CERT${blob} ${comment}`, subjectKeyLine: `ssh-ed25519 ${blob}` };
};
const added = 'ssh-ed25519 NEW fleetvault-device-new';
const prune = (certs: AgentCertificate[], keep?: number) => scopedCertificatesToPrune(certs, { addedPublicKey: added, caFingerprint: 'SHA256:ca', keep, now });

describe('scopedCertificatesToPrune', () => {
  const dev = (i: number) => entry([`device-${String(i).padStart(32, '0')}`]);
  it('keeps one other by default: the most recently added', () => {
    expect(KEEP_OTHER_SCOPED_CERTIFICATES).toBe(1);
    const [a, b, c] = [dev(1), dev(2), dev(3)];
    const fresh = entry(['device-new'], { blob: 'NEW' });
    expect(prune([a!, b!, c!, fresh])).toEqual([a, b]);
    expect(prune([a!, fresh])).toEqual([]);
    expect(prune([a!, b!, fresh], 0)).toEqual([a, b]);
  });
  it('never touches the user\'s own certificates or unscoped fleetvault ones', () => {
    const own = entry(['device-x', 'fleet-a.b'], { comment: 'alice@laptop' });
    const ownNoComment = entry(['fleet-a.b'], { comment: '' });
    const root = entry(['root']);
    const mixed = entry(['root', 'fleet-a.b']);
    const [a, b] = [dev(1), dev(2)];
    expect(prune([own, ownNoComment, root, mixed, a!, b!])).toEqual([a]);
  });
  it('fleet and break-glass certificates count as scoped', () => {
    const f = entry(['fleet-acme.a']);
    const g = entry(['break-glass']);
    const d = dev(9);
    expect(prune([f, g, d!])).toEqual([f, g]);
  });
  it('removes expired ones always; leaves another CA\'s unexpired ones (mid-rotation) alone', () => {
    const expired = entry(['device-e'], { validBefore: now - 1000, ca: 'SHA256:old' });
    const otherCa = entry(['device-o'], { ca: 'SHA256:old' });
    const [a, b] = [dev(1), dev(2)];
    expect(prune([expired, otherCa, a!, b!])).toEqual([expired, a]);
    expect(prune([otherCa, a!])).toEqual([]);
  });
});
