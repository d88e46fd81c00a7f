// The node:crypto path (no sshpk) against the real ssh-keygen: key files it reads, fingerprints
// it prints, certificates it signs — and a flipped bit in the signature is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, checkUserPublicKey } from '../../../src/ssh/keys.js';
import { parseCertificateLine, parsePublicKeyLine, verifyCertificateSignature } from '../../../src/ssh/openssh-wire.js';
import { parseCertificate, verifyIssuedCertificate } from '../../../src/ssh/certificate.js';

const dir = mkdtempSync(join(tmpdir(), 'fv-wire-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keygen = (...a: string[]) => execFileSync('ssh-keygen', a, { stdio: 'pipe' }).toString();

describe('generateEd25519KeyPair', () => {
  it('writes a private key ssh-keygen reads back to the same public key', () => {
    const pair = generateEd25519KeyPair('fleetvault-root@host');
    writeFileSync(join(dir, 'k'), pair.privateKey, { mode: 0o600 });
    expect(keygen('-y', '-f', join(dir, 'k')).trim().split(' ').slice(0, 2)).toEqual(pair.publicKey.split(' ').slice(0, 2));
    expect(pair.publicKey).toMatch(/^ssh-ed25519 \S+ fleetvault-root@host$/);
    writeFileSync(join(dir, 'k.pub'), pair.publicKey + '\n');
    expect(keygen('-l', '-f', join(dir, 'k.pub'))).toContain(parsePublicKeyLine(pair.publicKey).fingerprint);
  });
});

describe('certificates', () => {
  for (const caType of ['ed25519', 'rsa', 'ecdsa'] as const) {
    it(`parses and verifies what ssh-keygen signs with an ${caType} CA`, () => {
      const ca = join(dir, `ca-${caType}`);
      keygen('-q', '-t', caType, ...(caType === 'rsa' ? ['-b', '3072'] : caType === 'ecdsa' ? ['-b', '384'] : []), '-N', '', '-f', ca);
      const pair = generateEd25519KeyPair('u');
      writeFileSync(join(dir, `u-${caType}.pub`), pair.publicKey + '\n');
      keygen('-q', '-s', ca, '-I', 'alice', '-n', 'root,ops', '-V', '-1m:+30m', '-O', 'clear', '-O', 'permit-pty', join(dir, `u-${caType}.pub`));
      const text = readFileSync(join(dir, `u-${caType}-cert.pub`), 'utf8');
      const cert = parseCertificateLine(text);
      const listing = keygen('-L', '-f', join(dir, `u-${caType}-cert.pub`));
      expect(listing).toContain(`Serial: ${cert.serial}`);
      expect(listing).toContain(cert.signatureKeyFingerprint);
      expect(cert).toMatchObject({ type: 'user', keyId: 'alice', principals: ['root', 'ops'], extensions: ['permit-pty'], criticalOptions: {} });
      expect(cert.subjectFingerprint).toBe(parsePublicKeyLine(pair.publicKey).fingerprint);
      const caLine = readFileSync(`${ca}.pub`, 'utf8');
      const want = { caPublicKey: caLine, subjectPublicKey: pair.publicKey, principals: ['ops', 'root'], ttlSeconds: 1800, extensions: ['permit-pty'] };
      expect(verifyIssuedCertificate(text, want).principals).toEqual(['root', 'ops']);
      expect(cert.signatureKey.equals(parsePublicKeyLine(caLine).blob)).toBe(true);
      expect(verifyCertificateSignature(cert)).toMatchObject({ valid: true });

      // One flipped bit in the signature: refused, whichever verifier judged it.
      const blob = Buffer.from(text.split(' ')[1]!, 'base64');
      blob[blob.length - 5]! ^= 0x01;
      const forged = `${text.split(' ')[0]} ${blob.toString('base64')}`;
      expect(() => verifyIssuedCertificate(forged, want)).toThrow(/not signed by the CA/);
    });
  }
});

describe('checkUserPublicKey', () => {
  it('refuses DSA, short RSA, certificates, private keys and junk; accepts ed25519 and long RSA', () => {
    keygen('-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'rsa2048'));
    keygen('-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', join(dir, 'rsa3072'));
    expect(() => checkUserPublicKey(readFileSync(join(dir, 'rsa2048.pub'), 'utf8'))).toThrow(/RSA key of 2048 bits refused/);
    expect(checkUserPublicKey(readFileSync(join(dir, 'rsa3072.pub'), 'utf8')).type).toBe('ssh-rsa');
    expect(() => checkUserPublicKey('ssh-dss AAAAB3NzaC1kc3MAAACBAP')).toThrow(/DSA keys are refused/);
    expect(() => checkUserPublicKey('ssh-ed25519 AAAAC3NzaC1yc2EAAAA')).toThrow(/not an OpenSSH public key/);
    expect(() => checkUserPublicKey('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb')).toThrow(/does not match/);
    expect(() => checkUserPublicKey('-----BEGIN OPENSSH PRIVATE KEY-----')).toThrow(/private key/);
  });
});

describe('one parser, one verifier (cert inspect and the sign path agree)', () => {
  it('an ssh-rsa (SHA-1) CA signature verifies for inspect, but an issued certificate with it is refused', () => {
    const ca = join(dir, 'ca-sha1');
    keygen('-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', ca);
    const pair = generateEd25519KeyPair('u');
    writeFileSync(join(dir, 'sha1.pub'), pair.publicKey + '\n');
    keygen('-q', '-s', ca, '-t', 'ssh-rsa', '-I', 'x', '-n', 'root', '-V', '-1m:+30m', '-O', 'clear', '-O', 'permit-pty', join(dir, 'sha1.pub'));
    const text = readFileSync(join(dir, 'sha1-cert.pub'), 'utf8');
    expect(verifyCertificateSignature(parseCertificateLine(text))).toEqual({ valid: true, algorithm: 'ssh-rsa' });
    const want = { caPublicKey: readFileSync(`${ca}.pub`, 'utf8'), subjectPublicKey: pair.publicKey, principals: ['root'], ttlSeconds: 1800, extensions: ['permit-pty'] };
    expect(() => verifyIssuedCertificate(text, want)).toThrow(/ssh-rsa \(SHA-1\), which OpenSSH 8.2 and later refuse/);
  });
  it('refuses bytes after the signature and inside the signature blob, as OpenSSH does', () => {
    const ca = join(dir, 'ca-trail');
    keygen('-q', '-t', 'ed25519', '-N', '', '-f', ca);
    const pair = generateEd25519KeyPair('u');
    writeFileSync(join(dir, 'trail.pub'), pair.publicKey + '\n');
    keygen('-q', '-s', ca, '-I', 'x', '-n', 'root', join(dir, 'trail.pub'));
    const [type, b64] = readFileSync(join(dir, 'trail-cert.pub'), 'utf8').trim().split(/\s+/);
    const blob = Buffer.from(b64!, 'base64');
    const after = Buffer.concat([blob, Buffer.from([0, 0, 0, 0])]);
    expect(() => parseCertificate(`${type} ${after.toString('base64')}`, 'c.pub')).toThrow(/c\.pub is not an OpenSSH certificate \(trailing data after the signature\)/);
    // Grow the signature blob by 4 bytes (its length field is the 4 bytes before its 4+4+11+4+64 bytes).
    const sigAt = blob.length - (4 + 4 + 11 + 4 + 64);
    const sig = blob.subarray(sigAt + 4);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(sig.length + 4);
    const inside = Buffer.concat([blob.subarray(0, sigAt), len, sig, Buffer.from([0, 0, 0, 0])]);
    expect(() => parseCertificate(`${type} ${inside.toString('base64')}`)).toThrow(/trailing data in the signature/);
  });
});

