// The node:crypto path (no sshpk) against the real ssh-keygen: key files it reads, fingerprints
// it prints, certificates it signs — and a flipped bit in the signature is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, checkUserPublicKey } from '../../../src/ssh/keys.js';
import { parseCertificateLine, parsePublicKeyLine, verifyCertificateSignature } from '../../../src/ssh/openssh-wire.js';
import { verifyIssuedCertificate } from '../../../src/ssh/certificate.js';

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
      expect(verifyCertificateSignature(cert, parsePublicKeyLine(caLine).blob)).toBe(true);

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
