// OpenSSH user certificates: parse, describe (cert inspect) and verify what Vault returned before
// anything uses it. We trust Vault, but a compromised proxy or a misconfigured role must not be able
// to hand us a certificate wider than what we asked for. Parsing and the signature check are
// openssh-wire.ts (node:crypto, no sshpk: the sign path must not load it).
import { UsageError, VaultError } from '../errors.js';
import { parseCertificateLine, parsePublicKeyLine, verifyCertificateSignature, type WireCertificate } from './openssh-wire.js';

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

// 8.64e15 ms is the last instant a Date holds; OpenSSH writes 2^64-1 for "forever", and anything
// past what a Date holds means the same in practice.
const MAX_DATE_SECONDS = 8_640_000_000_000n;

function certTime(seconds: bigint): string {
  return seconds > MAX_DATE_SECONDS ? FOREVER : new Date(Number(seconds) * 1000).toISOString();
}

/** One `<type>-cert-v01@openssh.com <base64> [comment]` line; UsageError naming `source` otherwise. */
export function parseCertificate(text: string | Buffer, source = 'certificate'): WireCertificate {
  // The usual mix-up: the key (k.pub) given instead of its certificate (k-cert.pub).
  const type = /^\s*(\S+)/.exec(typeof text === 'string' ? text : text.subarray(0, 200).toString('latin1'))?.[1] ?? '';
  if (/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[\w.@-]+)$/.test(type) && !type.includes('-cert-')) {
    const cert = source.endsWith('.pub') ? `${source.slice(0, -4)}-cert.pub` : `${source}-cert.pub`;
    throw new UsageError(`${source} is a public key, not a certificate`, { hint: `use ${cert}` });
  }
  try {
    return parseCertificateLine(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (e) {
    throw new UsageError(`${source} is not an OpenSSH certificate (${(e as Error).message.split('\n')[0]})`);
  }
}

/** What a certificate says and whether it holds: signature, validity at `now`. */
export function describeCertificate(cert: WireCertificate, now: Date = new Date()): CertificateInfo {
  const check = verifyCertificateSignature(cert);
  const validAfter = certTime(cert.validAfter);
  const validBefore = certTime(cert.validBefore);
  return {
    type: cert.type,
    keyId: cert.keyId,
    serial: cert.serial.toString(),
    principals: cert.principals,
    validAfter,
    validBefore,
    extensions: cert.extensions,
    criticalOptions: cert.criticalOptions,
    signingKeyFingerprint: cert.signatureKeyFingerprint,
    publicKeyFingerprint: cert.subjectFingerprint,
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
  let cert: WireCertificate;
  try {
    cert = parseCertificateLine(certText);
  } catch (e) {
    throw refuse(`not an OpenSSH certificate (${(e as Error).message})`);
  }
  const info = describeCertificate(cert, want.now);
  let ca: ReturnType<typeof parsePublicKeyLine>;
  try {
    ca = parsePublicKeyLine(want.caPublicKey);
  } catch (e) {
    throw refuse(`the CA public key is unreadable (${(e as Error).message})`);
  }
  if (!cert.signatureKey.equals(ca.blob) || !info.signatureValid) {
    throw refuse(`not signed by the CA Vault publishes (${ca.fingerprint})${cert.signatureKey.equals(ca.blob) && info.signatureError ? `: ${info.signatureError}` : ''}`);
  }
  // Valid, but every device (OpenSSH >= 8.2) refuses SHA-1 CA signatures.
  if (info.signatureAlgorithm === 'ssh-rsa') throw refuse('it is signed with ssh-rsa (SHA-1), which OpenSSH 8.2 and later refuse; set the role\'s algorithm_signer to rsa-sha2-256');
  if (info.validBefore === FOREVER) throw refuse('it never expires');
  let subjectFingerprint: string;
  try {
    subjectFingerprint = parsePublicKeyLine(want.subjectPublicKey).fingerprint;
  } catch (e) {
    throw refuse(`the requested public key is unreadable (${(e as Error).message})`);
  }
  if (info.publicKeyFingerprint !== subjectFingerprint) throw refuse('it certifies a different public key');
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
