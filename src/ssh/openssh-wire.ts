// The OpenSSH wire formats — public keys, certificates (PROTOCOL.certkeys) and the openssh-key-v1
// private key file (PROTOCOL.key) — on node:crypto alone: the one parser and the one signature
// verifier for certificates (cert sign, ssh, cert inspect, the agent listing). Why not sshpk:
// - loading it costs more than a whole sign request;
// - its Certificate.isSignedByKey() only compares the embedded CA key, never the signature;
// - it keeps no copy of the signed bytes, and re-encoding would hide what a forgery changed.
// Validity times stay uint64: `ssh-keygen -V always:forever` writes 0 and 2^64-1.
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';

class Reader {
  private off = 0;
  constructor(readonly buf: Buffer) {}
  get offset(): number { return this.off; }
  get done(): boolean { return this.off === this.buf.length; }
  u32(): number {
    if (this.off + 4 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  u64(): bigint {
    if (this.off + 8 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.off + n > this.buf.length) throw new Error('truncated');
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  string(): string { return this.bytes().toString('utf8'); }
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** Fields after the key type in a public key blob, per key type (sk-* keys add an application). */
function skipKeyFields(r: Reader, type: string): void {
  if (type === 'ssh-ed25519') r.bytes();
  else if (type === 'ssh-rsa') { r.bytes(); r.bytes(); }
  else if (type.startsWith('ecdsa-sha2-')) { r.bytes(); r.bytes(); }
  else if (type === 'ssh-dss') { r.bytes(); r.bytes(); r.bytes(); r.bytes(); }
  else if (type === 'sk-ssh-ed25519@openssh.com') { r.bytes(); r.bytes(); }
  else if (type === 'sk-ecdsa-sha2-nistp256@openssh.com') { r.bytes(); r.bytes(); r.bytes(); }
  else throw new Error(`unsupported key type ${type}`);
}

/** `SHA256:…` of a public key blob, as ssh-keygen -l prints it. */
export function blobFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export interface WirePublicKey {
  type: string;
  /** The key blob (what the base64 field of a .pub line holds). */
  blob: Buffer;
  fingerprint: string;
  /** `<type> <base64>` without comment. */
  line: string;
}

/** One `<type> <base64> [comment]` line; throws on anything else or a type/blob mismatch. */
export function parsePublicKeyLine(text: string): WirePublicKey {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2) throw new Error('expected "<type> <base64>"');
  const blob = Buffer.from(parts[1]!, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== parts[1]!.replace(/=+$/, '')) throw new Error('invalid base64');
  const r = new Reader(blob);
  const type = r.string();
  if (type !== parts[0]) throw new Error(`key type ${parts[0]} does not match its blob (${type})`);
  skipKeyFields(r, type);
  if (!r.done) throw new Error('trailing data in key blob');
  return { type, blob, fingerprint: blobFingerprint(blob), line: `${type} ${blob.toString('base64')}` };
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An ed25519 public key blob as a node:crypto key. */
function ed25519KeyObject(blob: Buffer): KeyObject {
  const r = new Reader(blob);
  if (r.string() !== 'ssh-ed25519') throw new Error('not an ed25519 key');
  const raw = r.bytes();
  if (raw.length !== 32 || !r.done) throw new Error('bad ed25519 key');
  // SPKI DER (fixed prefix + raw key), not a JWK: see generateEd25519KeyPair on Node 20's JWK paths.
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export interface WireCertificate {
  certType: string;
  /** The certified key's blob (plain key type, same fields) and its fingerprint. */
  subjectBlob: Buffer;
  subjectFingerprint: string;
  serial: bigint;
  type: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Record<string, string>;
  extensions: string[];
  signatureKey: Buffer;
  signatureKeyFingerprint: string;
  /** Everything the CA signed (the blob up to the signature). */
  signed: Buffer;
  signatureType: string;
  signature: Buffer;
}

function nameValueList(buf: Buffer): { name: string; data: Buffer }[] {
  const r = new Reader(buf);
  const out: { name: string; data: Buffer }[] = [];
  while (!r.done) out.push({ name: r.string(), data: r.bytes() });
  return out;
}

/** One `<type>-cert-v01@openssh.com <base64> [comment]` line. Throws on malformed input. */
export function parseCertificateLine(text: string): WireCertificate {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2 || !parts[0]!.endsWith('-cert-v01@openssh.com')) throw new Error('not an OpenSSH certificate line');
  const blob = Buffer.from(parts[1]!, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== parts[1]!.replace(/=+$/, '')) throw new Error('invalid base64');
  const r = new Reader(blob);
  const certType = r.string();
  if (certType !== parts[0]) throw new Error(`certificate type ${parts[0]} does not match its blob (${certType})`);
  const keyType = certType.replace('-cert-v01@openssh.com', '');
  r.bytes(); // nonce
  const fieldsStart = r.offset;
  skipKeyFields(r, keyType);
  const subjectBlob = Buffer.concat([sshString(keyType), blob.subarray(fieldsStart, r.offset)]);
  const serial = r.u64();
  const kind = r.u32();
  if (kind !== 1 && kind !== 2) throw new Error(`unknown certificate type ${kind}`);
  const keyId = r.string();
  const pr = new Reader(r.bytes());
  const principals: string[] = [];
  while (!pr.done) principals.push(pr.string());
  const validAfter = r.u64();
  const validBefore = r.u64();
  const critical = nameValueList(r.bytes());
  const extensions = nameValueList(r.bytes()).map((e) => e.name);
  r.bytes(); // reserved
  const signatureKey = r.bytes();
  // The signer must be a plain key: a certificate as signer is the shape of a forgery by someone
  // holding one genuine certificate (OpenSSH refuses it too).
  const signerType = new Reader(signatureKey).string();
  if (signerType.endsWith('-cert-v01@openssh.com')) throw new Error(`Unknown algorithm ${signerType} as signing key: a certificate cannot sign certificates`);
  const signed = blob.subarray(0, r.offset);
  const sr = new Reader(r.bytes());
  // OpenSSH refuses trailing data too (sshkey_from_blob: "unexpected trailing data").
  if (!r.done) throw new Error('trailing data after the signature');
  const signatureType = sr.string();
  const signature = sr.bytes();
  if (!sr.done) throw new Error('trailing data in the signature');
  return {
    certType, subjectBlob, subjectFingerprint: blobFingerprint(subjectBlob), serial,
    type: kind === 1 ? 'user' : 'host', keyId, principals, validAfter, validBefore,
    criticalOptions: Object.fromEntries(critical.map((c) => {
      // Option values are themselves SSH strings.
      let v = c.data.toString('utf8');
      try { const cr = new Reader(c.data); const s = cr.string(); if (cr.done) v = s; } catch { /* raw */ }
      return [c.name, v];
    })),
    extensions, signatureKey, signatureKeyFingerprint: blobFingerprint(signatureKey), signed, signatureType, signature,
  };
}

/** An SSH mpint (two's complement, big-endian) as unsigned bytes without leading zeros. */
function unsignedMpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function leftPad(b: Buffer, size: number): Buffer | undefined {
  const u = unsignedMpint(b);
  return u.length > size ? undefined : Buffer.concat([Buffer.alloc(size - u.length), u]);
}

const EC_CURVES: Record<string, { crv: string; hash: string; size: number }> = {
  'ecdsa-sha2-nistp256': { crv: 'P-256', hash: 'sha256', size: 32 },
  'ecdsa-sha2-nistp384': { crv: 'P-384', hash: 'sha384', size: 48 },
  'ecdsa-sha2-nistp521': { crv: 'P-521', hash: 'sha512', size: 66 },
};

// ssh-rsa (SHA-1) verifies here, as in ssh-keygen -L; cert inspect says devices refuse it and
// verifyIssuedCertificate refuses it.
const RSA_HASHES: Record<string, string> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1' };

export interface SignatureCheck {
  valid: boolean;
  /** As the certificate names it: ssh-ed25519, rsa-sha2-512, ecdsa-sha2-nistp256, … */
  algorithm: string;
  /** Why it is not valid (absent when it is). */
  reason?: string;
}

/**
 * Whether `cert`'s signature verifies under the CA key the certificate itself names
 * (cert.signatureKey), the way sshd checks it before anything else; whether that key is the
 * expected CA is the caller's comparison. node:crypto for ed25519, RSA and ECDSA CAs; DSA and
 * security-key CAs are reported as not verifiable. Never throws. Note: sshpk's
 * Certificate.isSignedByKey does NOT do this for OpenSSH certificates — it only compares the
 * embedded CA key, so a certificate with a forged signature passes it.
 */
export function verifyCertificateSignature(cert: WireCertificate): SignatureCheck {
  const algorithm = cert.signatureType;
  const invalid = (reason: string): SignatureCheck => ({ valid: false, algorithm, reason });
  try {
    const r = new Reader(cert.signatureKey);
    const caType = r.string();
    let ok: boolean;
    if (caType === 'ssh-ed25519') {
      if (algorithm !== 'ssh-ed25519') return invalid(`${algorithm} signature from an ed25519 CA key`);
      ok = cert.signature.length === 64 && verify(null, cert.signed, ed25519KeyObject(cert.signatureKey), cert.signature);
    } else if (caType === 'ssh-rsa') {
      const hash = RSA_HASHES[algorithm];
      if (!hash) return invalid(`${algorithm} signature from an RSA CA key`);
      const e = unsignedMpint(r.bytes());
      const n = unsignedMpint(r.bytes());
      const key = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
      // OpenSSH accepts signatures shorter than the modulus (leading zeros dropped); OpenSSL does not.
      const padded = leftPad(cert.signature, n.length);
      ok = !!padded && verify(hash, cert.signed, key, padded);
    } else if (EC_CURVES[caType]) {
      const curve = EC_CURVES[caType]!;
      if (algorithm !== caType) return invalid(`${algorithm} signature from an ${caType} CA key`);
      r.string(); // curve name, implied by the type
      const q = r.bytes();
      if (q[0] !== 4 || q.length !== 1 + 2 * curve.size) return invalid(`malformed ${caType} CA key`);
      const key = createPublicKey({ key: {
        kty: 'EC', crv: curve.crv,
        x: q.subarray(1, 1 + curve.size).toString('base64url'), y: q.subarray(1 + curve.size).toString('base64url'),
      }, format: 'jwk' });
      const sr = new Reader(cert.signature);
      const rr = leftPad(sr.bytes(), curve.size);
      const ss = leftPad(sr.bytes(), curve.size);
      if (!rr || !ss || !sr.done) return invalid('malformed ECDSA signature');
      ok = verify(curve.hash, cert.signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([rr, ss]));
    } else {
      // DSA is disabled in current OpenSSH; security-key (sk-*) CAs sign a different message layout.
      return invalid(`cannot verify signatures by a ${caType} CA key`);
    }
    return ok ? { valid: true, algorithm } : invalid('the signature does not verify under the CA key the certificate names');
  } catch (e) {
    return invalid(`malformed signature or CA key (${(e as Error).message.split('\n')[0]})`);
  }
}

/** The OpenSSH private key file (openssh-key-v1, unencrypted) for an ed25519 seed + public key. */
export function ed25519PrivateKeyFile(seed: Buffer, pub: Buffer, comment: string): string {
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const one = Buffer.alloc(4);
  one.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), one, sshString(pubBlob), sshString(priv)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

export function ed25519PublicKeyLine(pub: Buffer, comment: string): string {
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]).toString('base64')}${comment ? ` ${comment}` : ''}`;
}
