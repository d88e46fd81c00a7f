// OpenSSH user certificates: parse, describe (cert inspect) and verify what Vault returned before
// anything uses it. We trust Vault, but a compromised proxy or a misconfigured role must not be able
// to hand us a certificate wider than what we asked for.
import sshpk from 'sshpk';
import { UsageError, VaultError } from '../errors.js';
import { readCertificateWire } from './cert-wire.js';
import { verifyCertificateSignature } from './cert-signature.js';

export interface CertificateInfo {
  type: 'user' | 'host';
  keyId: string;
  /** Decimal, as ssh-keygen -L prints it. */
  serial: string;
  principals: string[];
  /** ISO 8601; the epoch for certificates valid "always". */
  validAfter: string;
  /** ISO 8601, or "forever" (`ssh-keygen -V …:forever`, and ssh-keygen's default). */
  validBefore: string;
  extensions: string[];
  criticalOptions: Record<string, string>;
  signingKeyFingerprint: string;
  /** Fingerprint of the certified (subject) public key. */
  publicKeyFingerprint: string;
  /** The signature verifies under the CA key the certificate names (signingKeyFingerprint). */
  signatureValid: boolean;
  signatureAlgorithm: string;
  /** Why signatureValid is false. */
  signatureError?: string;
  expired: boolean;
  notYetValid: boolean;
}

export const FOREVER = 'forever';

// The raw bytes behind each parsed certificate: sshpk keeps no copy, and re-encoding would hide
// exactly what a forged certificate changed.
const blobs = new WeakMap<sshpk.Certificate, Buffer>();

function certificateBlob(text: string | Buffer): Buffer {
  const line = (typeof text === 'string' ? text : text.toString('latin1')).trim();
  return Buffer.from(line.split(/[ \t\n]+/)[1] ?? '', 'base64');
}

// 8.64e15 ms is the last instant a Date holds; OpenSSH writes 2^64-1 for "forever", and anything
// past what a Date holds means the same in practice.
const MAX_DATE_SECONDS = 8_640_000_000_000n;

function certTime(seconds: bigint): string {
  return seconds > MAX_DATE_SECONDS ? FOREVER : new Date(Number(seconds) * 1000).toISOString();
}

export function parseCertificate(text: string | Buffer, source = 'certificate'): sshpk.Certificate {
  // The usual mix-up: the key (k.pub) given instead of its certificate (k-cert.pub).
  const type = /^\s*(\S+)/.exec(typeof text === 'string' ? text : text.subarray(0, 200).toString('latin1'))?.[1] ?? '';
  if (/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[\w.@-]+)$/.test(type) && !type.includes('-cert-')) {
    const cert = source.endsWith('.pub') ? `${source.slice(0, -4)}-cert.pub` : `${source}-cert.pub`;
    throw new UsageError(`${source} is a public key, not a certificate`, { hint: `use ${cert}` });
  }
  try {
    const buf = typeof text === 'string' ? Buffer.from(text.trim()) : text;
    const cert = sshpk.parseCertificate(buf, 'openssh');
    blobs.set(cert, certificateBlob(text));
    return cert;
  } catch (e) {
    throw new UsageError(`${source} is not an OpenSSH certificate (${(e as Error).message.split('\n')[0]})`);
  }
}

interface OpensshSig {
  keyId?: string;
  exts?: { name: string; critical: boolean; data: Buffer }[];
}

function sshString(data: Buffer): string {
  // Critical option values are themselves SSH strings (uint32 length + bytes).
  if (data.length >= 4) {
    const n = data.readUInt32BE(0);
    if (n === data.length - 4) return data.subarray(4).toString('utf8');
  }
  return data.toString('utf8');
}

/** What a certificate says and whether it holds: signature, validity at `now`. */
export function describeCertificate(cert: sshpk.Certificate, now: Date = new Date()): CertificateInfo {
  const wire = readCertificateWire(blobs.get(cert) ?? certificateBlob(cert.toString('openssh')));
  const check = verifyCertificateSignature(wire);
  const validAfter = certTime(wire.validAfter);
  const validBefore = certTime(wire.validBefore);
  const sig = (cert.signatures as { openssh?: OpensshSig }).openssh ?? {};
  const exts = sig.exts ?? [];
  const subjects = cert.subjects ?? [];
  const isHost = subjects.some((s) => (s as unknown as { type: string }).type === 'host');
  const principals = subjects.map((s) => {
    const id = s as unknown as { type: string; uid?: string; hostname?: string };
    return (id.type === 'host' ? id.hostname : id.uid) ?? s.toString();
  });
  return {
    type: isHost ? 'host' : 'user',
    keyId: sig.keyId ?? '',
    serial: BigInt('0x' + (cert.serial.toString('hex') || '0')).toString(),
    principals,
    validAfter,
    validBefore,
    extensions: exts.filter((e) => !e.critical).map((e) => e.name),
    criticalOptions: Object.fromEntries(exts.filter((e) => e.critical).map((e) => [e.name, sshString(e.data)])),
    signingKeyFingerprint: cert.issuerKey ? cert.issuerKey.fingerprint('sha256').toString() : '',
    publicKeyFingerprint: cert.subjectKey.fingerprint('sha256').toString(),
    signatureValid: check.valid,
    signatureAlgorithm: check.algorithm,
    ...(check.reason ? { signatureError: check.reason } : {}),
    // OpenSSH: valid while valid_after <= now < valid_before.
    expired: validBefore !== FOREVER && Date.parse(validBefore) <= now.getTime(),
    notYetValid: validAfter === FOREVER || Date.parse(validAfter) > now.getTime(),
  };
}

export interface ExpectedCertificate {
  caPublicKey: string;
  subjectPublicKey: string;
  principals: string[];
  ttlSeconds: number;
  extensions: string[];
  /** Critical options the certificate must carry exactly (default: none). */
  criticalOptions?: Record<string, string>;
  /** Allowed clock difference between us and Vault, seconds. */
  skewSeconds?: number;
  now?: Date;
}

/**
 * Check a certificate Vault just signed against what we asked for. Throws VaultError (exit 2): a
 * wrong certificate is the server's fault, not the user's.
 */
export function verifyIssuedCertificate(certText: string, want: ExpectedCertificate): CertificateInfo {
  const refuse = (why: string) =>
    new VaultError(`refusing the certificate Vault returned: ${why}`, { path: 'sign', hint: 'check the SSH role configuration' });
  let cert: sshpk.Certificate;
  let info: CertificateInfo;
  try {
    cert = sshpk.parseCertificate(Buffer.from(certText.trim()), 'openssh');
    blobs.set(cert, certificateBlob(certText));
    info = describeCertificate(cert, want.now);
  } catch (e) {
    throw refuse(`not an OpenSSH certificate (${(e as Error).message})`);
  }
  const ca = sshpk.parseKey(want.caPublicKey.trim(), 'ssh');
  // isSignedByKey only compares the embedded CA key; the signature itself is checked by
  // describeCertificate (signatureValid).
  if (!cert.issuerKey || cert.issuerKey.type.includes('cert') || !cert.isSignedByKey(ca) || !info.signatureValid) {
    throw refuse(`not signed by the CA Vault publishes (${ca.fingerprint('sha256')})${info.signatureError ? `: ${info.signatureError}` : ''}`);
  }
  if (info.validBefore === FOREVER) throw refuse('it never expires');
  const subject = sshpk.parseKey(want.subjectPublicKey.trim(), 'ssh');
  if (info.publicKeyFingerprint !== subject.fingerprint('sha256').toString()) throw refuse('it certifies a different public key');
  if (info.type !== 'user') throw refuse('it is a host certificate');
  const got = [...info.principals].sort().join('\n');
  if (info.principals.length === 0 || got !== [...want.principals].sort().join('\n')) {
    throw refuse(`principals ${JSON.stringify(info.principals)} differ from the requested ${JSON.stringify(want.principals)}`);
  }
  const skew = (want.skewSeconds ?? 60) * 1000;
  const now = (want.now ?? new Date()).getTime();
  const after = Date.parse(info.validAfter);
  const before = Date.parse(info.validBefore);
  if (before <= now) throw refuse('it has already expired (check this machine\'s clock)');
  // Vault backdates validAfter by not_before_duration (30s by default); allow that plus skew.
  if (before - now > want.ttlSeconds * 1000 + skew || after > now + skew) {
    throw refuse(`validity ${info.validAfter}..${info.validBefore} exceeds the requested ${want.ttlSeconds}s`);
  }
  const extra = info.extensions.filter((e) => !want.extensions.includes(e));
  if (extra.length) throw refuse(`unexpected extensions ${extra.join(', ')}`);
  // Exactly the critical options asked for (or the role's defaults, e.g. a scope bound to source-address).
  const wantCritical = want.criticalOptions ?? {};
  const criticalDiffers = Object.keys(info.criticalOptions).length !== Object.keys(wantCritical).length ||
    Object.entries(wantCritical).some(([k, v]) => info.criticalOptions[k] !== v);
  if (criticalDiffers) throw refuse(`unexpected critical options ${JSON.stringify(info.criticalOptions)}`);
  return info;
}
