// --agent reuse: only a certificate whose one principal is exactly the one asked for, from the CA
// that signs now, valid long enough. A fleet or break-glass certificate opens more than a
// device-scoped login asked for, so it is never reused for one (and the reverse).
import { describe, expect, it } from 'vitest';
import { pickReusable } from '../../../src/ssh/agent.js';
import type { CertificateInfo } from '../../../src/ssh/certificate.js';

const now = Date.now();
const cert = (principals: string[], o: Partial<CertificateInfo> = {}): CertificateInfo => ({
  type: 'user', keyId: 'k', serial: '1', principals, validAfter: new Date(now - 60_000).toISOString(), validBefore: new Date(now + 1_800_000).toISOString(),
  extensions: [], criticalOptions: {}, signingKeyFingerprint: 'SHA256:ca', publicKeyFingerprint: 'SHA256:k', signatureValid: true, signatureAlgorithm: 'ssh-ed25519',
  expired: false, notYetValid: false, ...o,
});
const pick = (certs: CertificateInfo[], user: string) => pickReusable(certs, { user, caFingerprint: 'SHA256:ca' });

describe('pickReusable', () => {
  const fleet = cert(['fleet-acme.a']);
  const device = cert(['device-0123456789abcdef0123456789abcdef']);
  const glass = cert(['break-glass']);
  const root = cert(['root']);
  it('reuses only the exact principal', () => {
    expect(pick([fleet, glass, root], 'device-0123456789abcdef0123456789abcdef')).toBeUndefined();
    expect(pick([fleet, glass, root, device], 'device-0123456789abcdef0123456789abcdef')).toBe(device);
    expect(pick([glass, device, fleet], 'fleet-acme.a')).toBe(fleet);
    expect(pick([fleet, device, glass], 'root')).toBeUndefined();
    expect(pick([fleet, root], 'root')).toBe(root);
  });
  it('never reuses one device\'s certificate for another device', () => {
    const other = 'device-fedcba9876543210fedcba9876543210';
    expect(pick([device, fleet], other)).toBeUndefined();
    expect(pick([device, cert([other])], other)?.principals).toEqual([other]);
  });
  it('never reuses a certificate that also names other principals', () => {
    expect(pick([cert(['fleet-acme.a', 'break-glass'])], 'fleet-acme.a')).toBeUndefined();
    expect(pick([cert(['root', 'fleet-acme.a'])], 'root')).toBeUndefined();
  });
  it('still requires the current CA and enough validity left', () => {
    expect(pick([cert(['root'], { signingKeyFingerprint: 'SHA256:old' })], 'root')).toBeUndefined();
    expect(pick([cert(['root'], { validBefore: new Date(now + 10_000).toISOString() })], 'root')).toBeUndefined();
    expect(pick([cert(['root'], { type: 'host' })], 'root')).toBeUndefined();
  });
});
