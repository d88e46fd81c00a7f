// Certificates made by the real ssh-keygen (no server needed), checked by our verifier.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCertificate, parseCertificate, verifyIssuedCertificate } from '../../../src/ssh/certificate.js';
import { formatCertificate } from '../../../src/ssh/certificate-view.js';
import { parseUserPublicKey, generateEd25519KeyPair } from '../../../src/ssh/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fv-cert-'));
// Holds private CA and user keys: gone when the file's tests are.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keygen = (...a: string[]) => execFileSync('ssh-keygen', ['-q', ...a], { stdio: 'pipe' });
let ca = '', otherCa = '', user = '';

function sign(name: string, o: { ca?: string; principals?: string; validity?: string | null; host?: boolean; ext?: string[]; keyId?: string } = {}): string {
  const args = ['-s', join(dir, o.ca ?? 'ca'), '-I', o.keyId ?? 'test-id'];
  // null: no -V at all, which is ssh-keygen's default validity ("forever").
  if (o.validity !== null) args.push('-V', o.validity ?? '-1m:+30m');
  if (o.principals !== undefined) args.push('-n', o.principals);
  if (o.host) args.push('-h');
  for (const e of o.ext ?? ['clear', 'permit-pty']) args.push('-O', e);
  execFileSync('cp', [join(dir, 'user.pub'), join(dir, `${name}.pub`)]);
  keygen(...args, join(dir, `${name}.pub`));
  return readFileSync(join(dir, `${name}-cert.pub`), 'utf8');
}

beforeAll(() => {
  keygen('-t', 'ed25519', '-N', '', '-f', join(dir, 'ca'));
  keygen('-t', 'ed25519', '-N', '', '-f', join(dir, 'other'));
  keygen('-t', 'ed25519', '-N', '', '-f', join(dir, 'user'));
  ca = readFileSync(join(dir, 'ca.pub'), 'utf8');
  otherCa = readFileSync(join(dir, 'other.pub'), 'utf8');
  user = readFileSync(join(dir, 'user.pub'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A genuine certificate with one bit of its signature flipped: everything else still names the CA. */
function forge(certLine: string): string {
  const [type, b64] = certLine.trim().split(/\s+/);
  const blob = Buffer.from(b64!, 'base64');
  blob[blob.length - 10]! ^= 0x01;
  return `${type} ${blob.toString('base64')}\n`;
}

/** An ed25519 certificate's signing-key field replaced by `caPub`'s key; the original signature kept. */
function renameSigner(certLine: string, caPub: string): string {
  const [type, b64] = certLine.trim().split(/\s+/);
  const blob = Buffer.from(b64!, 'base64');
  let at = 0;
  const str = () => { at += 4 + blob.readUInt32BE(at); };
  str(); str(); str(); // type, nonce, ed25519 key
  at += 8 + 4; // serial, user/host
  str(); str(); // key id, principals
  at += 16; // valid after, before
  str(); str(); str(); // critical options, extensions, reserved
  const keyStart = at;
  str();
  const newKey = Buffer.from(caPub.trim().split(/\s+/)[1]!, 'base64');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(newKey.length);
  return `${type} ${Buffer.concat([blob.subarray(0, keyStart), len, newKey, blob.subarray(at)]).toString('base64')}\n`;
}

const want = () => ({ caPublicKey: ca, subjectPublicKey: user, principals: ['root'], ttlSeconds: 1800, extensions: ['permit-pty'] });

describe('describeCertificate', () => {
  it('matches what ssh-keygen -L says', () => {
    const info = describeCertificate(parseCertificate(sign('d', { principals: 'root,ops', keyId: 'alice' })));
    expect(info).toMatchObject({ type: 'user', keyId: 'alice', principals: ['root', 'ops'], extensions: ['permit-pty'], criticalOptions: {} });
    const l = execFileSync('ssh-keygen', ['-L', '-f', join(dir, 'd-cert.pub')]).toString();
    expect(l).toContain(`Serial: ${info.serial}`);
    expect(l).toContain(info.signingKeyFingerprint);
  });
  it('reports critical options with their values', () => {
    const info = describeCertificate(parseCertificate(sign('c', { principals: 'root', ext: ['clear', 'force-command=/bin/true', 'source-address=10.0.0.0/8'] })));
    expect(info.criticalOptions).toEqual({ 'force-command': '/bin/true', 'source-address': '10.0.0.0/8' });
  });
});

describe('signature verification (issue 11 item 11: sshpk never checks it)', () => {
  it('a genuine certificate verifies, for ed25519, RSA (rsa-sha2-512) and ECDSA CAs made by ssh-keygen', () => {
    for (const [t, bits] of [['ed25519'], ['rsa', '3072'], ['ecdsa', '256'], ['ecdsa', '384'], ['ecdsa', '521']] as const) {
      const name = `ca-${t}${bits ?? ''}`;
      keygen('-t', t, ...(bits ? ['-b', bits] : []), '-N', '', '-f', join(dir, name));
      const cert = sign(`sig-${name}`, { ca: name, principals: 'root' });
      const info = describeCertificate(parseCertificate(cert));
      expect(info, name).toMatchObject({ signatureValid: true });
      expect(info.signatureError, name).toBeUndefined();
      const forged = describeCertificate(parseCertificate(forge(cert)));
      // What sshpk's isSignedByKey said (and cert inspect showed) before: issued by the fleet CA.
      expect(forged.signingKeyFingerprint, name).toBe(info.signingKeyFingerprint);
      expect(forged, name).toMatchObject({ signatureValid: false, signatureError: expect.stringMatching(/does not verify/) });
    }
  });
  it('an ssh-rsa (SHA-1) signature verifies but the view says devices refuse it', () => {
    keygen('-t', 'rsa', '-b', '3072', '-N', '', '-f', join(dir, 'ca-sha1'));
    execFileSync('cp', [join(dir, 'user.pub'), join(dir, 'sha1.pub')]);
    keygen('-s', join(dir, 'ca-sha1'), '-t', 'ssh-rsa', '-I', 'sha1', '-n', 'root', join(dir, 'sha1.pub'));
    const info = describeCertificate(parseCertificate(readFileSync(join(dir, 'sha1-cert.pub'), 'utf8')));
    expect(info).toMatchObject({ signatureValid: true, signatureAlgorithm: 'ssh-rsa' });
    expect(formatCertificate(info)).toMatch(/^Signature: +valid \(ssh-rsa, SHA-1: devices with OpenSSH ≥ 8.2 refuse it\)$/m);
  });
  it('a certificate signed by another key that names the fleet CA as its signer is invalid', () => {
    const cert = renameSigner(sign('renamed', { ca: 'other', principals: 'root' }), ca);
    const info = describeCertificate(parseCertificate(cert));
    expect(info.signingKeyFingerprint).toBe(describeCertificate(parseCertificate(sign('genuine', { principals: 'root' }))).signingKeyFingerprint);
    expect(info.signatureValid).toBe(false);
  });
  it('verifyIssuedCertificate refuses a forged certificate naming the right CA', () => {
    expect(() => verifyIssuedCertificate(forge(sign('f1', { principals: 'root' })), want())).toThrow(/not signed by the CA .*does not verify/);
  });
});

describe('validity times (issue 11 item 13)', () => {
  it('always:forever and the default validity read as forever, never "Invalid time value"', () => {
    for (const validity of ['always:forever', null]) {
      const info = describeCertificate(parseCertificate(sign(`forever-${validity ?? 'default'}`, { principals: 'root', validity })));
      expect(info).toMatchObject({ validAfter: '1970-01-01T00:00:00.000Z', validBefore: 'forever', expired: false, notYetValid: false, signatureValid: true });
    }
    const later = describeCertificate(parseCertificate(sign('from-forever', { principals: 'root', validity: '+1d:forever' })));
    expect(later).toMatchObject({ validBefore: 'forever', expired: false, notYetValid: true });
  });
  it('expired is computed against now', () => {
    const cert = parseCertificate(sign('exp', { principals: 'root', validity: '20200101:20200102' }));
    expect(describeCertificate(cert)).toMatchObject({ validBefore: '2020-01-02T00:00:00.000Z', expired: true });
    expect(describeCertificate(cert, new Date('2020-01-01T12:00:00Z')).expired).toBe(false);
  });
  it('verifyIssuedCertificate refuses a certificate that never expires', () => {
    expect(() => verifyIssuedCertificate(sign('f2', { principals: 'root', validity: 'always:forever' }), want())).toThrow(/never expires/);
  });
});

describe('verifyIssuedCertificate', () => {
  it('accepts a certificate that is exactly what was asked', () => {
    expect(verifyIssuedCertificate(sign('ok', { principals: 'root' }), want()).principals).toEqual(['root']);
  });
  it('refuses one signed by another CA', () => {
    expect(() => verifyIssuedCertificate(sign('x1', { ca: 'other', principals: 'root' }), want())).toThrow(/not signed by the CA/);
  });
  it('refuses extra or missing principals, and none at all', () => {
    expect(() => verifyIssuedCertificate(sign('x2', { principals: 'root,admin' }), want())).toThrow(/principals/);
    expect(() => verifyIssuedCertificate(sign('x3', { principals: 'admin' }), want())).toThrow(/principals/);
    expect(() => verifyIssuedCertificate(sign('x4', {}), want())).toThrow(/principals/);
  });
  it('refuses host certificates, longer validity, expired ones, unexpected extensions and critical options', () => {
    expect(() => verifyIssuedCertificate(sign('x5', { principals: 'root', host: true, ext: [] }), { ...want(), extensions: [] })).toThrow(/host certificate/);
    expect(() => verifyIssuedCertificate(sign('x6', { principals: 'root', validity: '-1m:+2h' }), want())).toThrow(/exceeds/);
    expect(() => verifyIssuedCertificate(sign('x7', { principals: 'root', validity: '-2h:-1h' }), want())).toThrow(/expired/);
    expect(() => verifyIssuedCertificate(sign('x8', { principals: 'root', ext: ['permit-port-forwarding', 'permit-pty'] }), want())).toThrow(/extensions/);
    expect(() => verifyIssuedCertificate(sign('x9', { principals: 'root', ext: ['clear', 'permit-pty', 'force-command=/bin/sh'] }), want())).toThrow(/critical/);
  });
  it('refuses a certificate for a different key', () => {
    const other = generateEd25519KeyPair().publicKey;
    expect(() => verifyIssuedCertificate(sign('x10', { principals: 'root' }), { ...want(), subjectPublicKey: other })).toThrow(/different public key/);
  });
  it('rejects garbage as not a certificate', () => {
    expect(() => verifyIssuedCertificate('ssh-ed25519 AAAA', want())).toThrow(/not an OpenSSH certificate/);
    expect(otherCa).not.toBe(ca);
  });
});

describe('user public keys', () => {
  it('generates ed25519 pairs ssh-keygen accepts', () => {
    const kp = generateEd25519KeyPair('t');
    expect(kp.publicKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(kp.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
  });
  it('refuses DSA, short RSA, certificates, private keys and junk', () => {
    keygen('-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'rsa2048'));
    keygen('-t', 'rsa', '-b', '3072', '-N', '', '-f', join(dir, 'rsa3072'));
    expect(() => parseUserPublicKey(readFileSync(join(dir, 'rsa2048.pub'), 'utf8'))).toThrow(/2048 bits refused/);
    expect(parseUserPublicKey(readFileSync(join(dir, 'rsa3072.pub'), 'utf8')).size).toBe(3072);
    expect(() => parseUserPublicKey(sign('x11', { principals: 'root' }))).toThrow(/certificate/);
    expect(() => parseUserPublicKey(readFileSync(join(dir, 'user'), 'utf8'))).toThrow(/private key/);
    expect(() => parseUserPublicKey('hello')).toThrow(/not an OpenSSH public key/);
    expect(() => parseUserPublicKey('ssh-dss AAAAB3NzaC1kc3MAAACBAP')).toThrow();
  });
});

describe('parseCertificate given a plain public key', () => {
  it('says it is a key and names the certificate file to use', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host';
    expect(() => parseCertificate(key, 'k.pub')).toThrow(expect.objectContaining({ message: 'k.pub is a public key, not a certificate', hint: 'use k-cert.pub' }));
    expect(() => parseCertificate('ecdsa-sha2-nistp256 AAAA x', '/home/a/.ssh/id')).toThrow(expect.objectContaining({ hint: 'use /home/a/.ssh/id-cert.pub' }));
  });
});
