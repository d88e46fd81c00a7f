// Certificates made by the real ssh-keygen (no server needed), checked by our verifier.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCertificate, parseCertificate, verifyIssuedCertificate } from '../../../src/ssh/certificate.js';
import { parseUserPublicKey, generateEd25519KeyPair } from '../../../src/ssh/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fv-cert-'));
// Holds private CA and user keys: gone when the file's tests are.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keygen = (...a: string[]) => execFileSync('ssh-keygen', ['-q', ...a], { stdio: 'pipe' });
let ca = '', otherCa = '', user = '';

function sign(name: string, o: { ca?: string; principals?: string; validity?: string; host?: boolean; ext?: string[]; keyId?: string } = {}): string {
  const args = ['-s', join(dir, o.ca ?? 'ca'), '-I', o.keyId ?? 'test-id', '-V', o.validity ?? '-1m:+30m'];
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
