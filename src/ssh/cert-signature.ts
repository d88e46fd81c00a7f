// Verify an OpenSSH certificate's signature with node:crypto, the way sshd does before it looks at
// anything else: the signature over the signed bytes must verify under the CA key the certificate
// names, with an algorithm that matches that key. See cert-wire.ts for why sshpk is not enough.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { SshReader, type CertificateWire } from './cert-wire.js';

export interface SignatureCheck {
  valid: boolean;
  /** As the certificate names it: ssh-ed25519, rsa-sha2-512, ecdsa-sha2-nistp256, … */
  algorithm: string;
  /** Why it is not valid (absent when it is). */
  reason?: string;
}

const b64u = (b: Buffer) => b.toString('base64url');

/** An mpint without its sign-padding zero bytes. */
function unsigned(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function leftPad(b: Buffer, size: number): Buffer | undefined {
  const u = unsigned(b);
  if (u.length > size) return undefined;
  return Buffer.concat([Buffer.alloc(size - u.length), u]);
}

const CURVES: Record<string, { crv: string; size: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { crv: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { crv: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { crv: 'P-521', size: 66, hash: 'sha512' },
};

const RSA_HASHES: Record<string, string> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1' };

interface CaKey { type: string; key: KeyObject; rsaBytes?: number }

function caKeyFrom(blob: Buffer): CaKey | string {
  const r = new SshReader(blob, 'CA key');
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const pk = r.bytes();
    if (pk.length !== 32) return 'malformed ed25519 CA key';
    return { type, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(pk) }, format: 'jwk' }) };
  }
  if (type === 'ssh-rsa') {
    const e = unsigned(r.bytes());
    const n = unsigned(r.bytes());
    return { type, key: createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }), rsaBytes: n.length };
  }
  const curve = CURVES[type];
  if (curve) {
    r.bytes(); // curve name, implied by the type
    const q = r.bytes();
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4) return `malformed ${type} CA key`;
    const x = q.subarray(1, 1 + curve.size);
    const y = q.subarray(1 + curve.size);
    return { type, key: createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: b64u(x), y: b64u(y) }, format: 'jwk' }) };
  }
  // DSA is disabled in current OpenSSH; security-key (sk-*) CAs sign a different message layout.
  // A certificate naming a certificate as its signer is refused by sshd outright.
  return `cannot verify signatures by a ${type} CA key`;
}

/** Check the signature of a certificate against the CA key it names. Never throws on bad data. */
export function verifyCertificateSignature(w: CertificateWire): SignatureCheck {
  let algorithm = 'unknown';
  const invalid = (reason: string): SignatureCheck => ({ valid: false, algorithm, reason });
  try {
    const sig = new SshReader(w.signature, 'signature');
    algorithm = sig.text();
    const raw = sig.bytes();
    if (sig.remaining !== 0) return invalid('trailing data in the signature');
    const ca = caKeyFrom(w.signatureKey);
    if (typeof ca === 'string') return invalid(ca);
    let ok: boolean;
    if (ca.type === 'ssh-ed25519') {
      if (algorithm !== 'ssh-ed25519') return invalid(`${algorithm} signature from an ed25519 CA key`);
      ok = raw.length === 64 && verify(null, w.signedBytes, ca.key, raw);
    } else if (ca.type === 'ssh-rsa') {
      const hash = RSA_HASHES[algorithm];
      if (!hash) return invalid(`${algorithm} signature from an RSA CA key`);
      // OpenSSH accepts signatures shorter than the modulus (leading zeros dropped); OpenSSL does not.
      const padded = leftPad(raw, ca.rsaBytes!);
      ok = !!padded && verify(hash, w.signedBytes, ca.key, padded);
    } else {
      if (algorithm !== ca.type) return invalid(`${algorithm} signature from an ${ca.type} CA key`);
      const curve = CURVES[ca.type]!;
      const rs = new SshReader(raw, 'signature');
      const r = leftPad(rs.bytes(), curve.size);
      const s = leftPad(rs.bytes(), curve.size);
      if (!r || !s || rs.remaining !== 0) return invalid('malformed ECDSA signature');
      ok = verify(curve.hash, w.signedBytes, { key: ca.key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([r, s]));
    }
    return ok ? { valid: true, algorithm } : invalid('the signature does not verify under the CA key the certificate names');
  } catch (e) {
    return invalid(`malformed signature or CA key (${(e as Error).message.split('\n')[0]})`);
  }
}
