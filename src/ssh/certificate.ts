// OpenSSH user certificates: parse, describe (cert inspect) and verify what Vault returned before
// anything uses it. We trust Vault, but a compromised proxy or a misconfigured role must not be able
// to hand us a certificate wider than what we asked for.
import { createRequire } from 'node:module';
import type sshpkTypes from 'sshpk';
import { UsageError, VaultError } from '../errors.js';
import { parseCertificateLine, parsePublicKeyLine, verifyCertificateSignature, type WireCertificate } from './openssh-wire.js';

// sshpk loads on first use only: the sign path (verifyIssuedCertificate with an ed25519 CA) never
// needs it, and loading it cost more than the sign request itself.
const require = createRequire(import.meta.url);
let sshpkModule: typeof sshpkTypes | undefined;
const sshpk = new Proxy({} as typeof sshpkTypes, {
  get: (_t, name) => (sshpkModule ??= require('sshpk') as typeof sshpkTypes)[name as keyof typeof sshpkTypes],
});

export interface CertificateInfo {
  type: 'user' | 'host';
  keyId: string;
  /** Decimal, as ssh-keygen -L prints it. */
  serial: string;
  principals: string[];
  validAfter: string;
  validBefore: string;
  extensions: string[];
  criticalOptions: Record<string, string>;
  signingKeyFingerprint: string;
  /** Fingerprint of the certified (subject) public key. */
  publicKeyFingerprint: string;
}

export function parseCertificate(text: string | Buffer, source = 'certificate'): sshpkTypes.Certificate {
  try {
    const buf = typeof text === 'string' ? Buffer.from(text.trim()) : text;
    return sshpk.parseCertificate(buf, 'openssh');
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

export function describeCertificate(cert: sshpkTypes.Certificate): CertificateInfo {
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
    validAfter: cert.validFrom.toISOString(),
    validBefore: cert.validUntil.toISOString(),
    extensions: exts.filter((e) => !e.critical).map((e) => e.name),
    criticalOptions: Object.fromEntries(exts.filter((e) => e.critical).map((e) => [e.name, sshString(e.data)])),
    signingKeyFingerprint: cert.issuerKey ? cert.issuerKey.fingerprint('sha256').toString() : '',
    publicKeyFingerprint: cert.subjectKey.fingerprint('sha256').toString(),
  };
}

export interface ExpectedCertificate {
  caPublicKey: string;
  subjectPublicKey: string;
  principals: string[];
  ttlSeconds: number;
  extensions: string[];
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
  const info = describeWireCertificate(cert);
  let ca: ReturnType<typeof parsePublicKeyLine>;
  try {
    ca = parsePublicKeyLine(want.caPublicKey);
  } catch (e) {
    throw refuse(`the CA public key is unreadable (${(e as Error).message})`);
  }
  // The signature itself, with node:crypto (sshpk's isSignedByKey only compares the CA key).
  const signedByCa = verifyCertificateSignature(cert, ca.blob);
  if (!signedByCa) throw refuse(`not signed by the CA Vault publishes (${ca.fingerprint})`);
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
  if (Object.keys(info.criticalOptions).length) throw refuse(`unexpected critical options ${Object.keys(info.criticalOptions).join(', ')}`);
  return info;
}

/** OpenSSH prints "forever" as 0xffffffffffffffff; Date cannot hold it. */
function certTime(t: bigint): string {
  const ms = t > 8_640_000_000_000n ? 8_640_000_000_000_000 : Number(t) * 1000;
  return new Date(ms).toISOString();
}

/** describeCertificate's answer from the wire parse (no sshpk). */
export function describeWireCertificate(cert: WireCertificate): CertificateInfo {
  return {
    type: cert.type,
    keyId: cert.keyId,
    serial: cert.serial.toString(),
    principals: cert.principals,
    validAfter: certTime(cert.validAfter),
    validBefore: certTime(cert.validBefore),
    extensions: cert.extensions,
    criticalOptions: cert.criticalOptions,
    signingKeyFingerprint: cert.signatureKeyFingerprint,
    publicKeyFingerprint: cert.subjectFingerprint,
  };
}
