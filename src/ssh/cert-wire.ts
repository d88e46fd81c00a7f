// The OpenSSH certificate wire format (PROTOCOL.certkeys), read just far enough to check what
// sshpk does not: the bytes the CA signed, the signature over them, and the raw validity times.
// Traps this file exists for:
// - sshpk's Certificate.isSignedByKey() only compares the CA key embedded in the certificate with
//   the one given; it never checks the signature. A certificate with flipped signature bytes (or
//   one signed by anybody, naming the fleet CA as its signer) passes it.
// - validity times are uint64 seconds; `ssh-keygen -V always:forever` (and ssh-keygen's default)
//   writes 0 and 2^64-1, which no JavaScript Date can hold ("Invalid time value").
import { UsageError } from '../errors.js';

export interface CertificateWire {
  /** e.g. ssh-ed25519-cert-v01@openssh.com */
  certType: string;
  validAfter: bigint;
  validBefore: bigint;
  /** The CA's public key blob (RFC 4253 encoding), as embedded in the certificate. */
  signatureKey: Buffer;
  /** Everything the CA signed: the certificate up to and including the signature key. */
  signedBytes: Buffer;
  /** The signature blob: string algorithm, string signature (more fields for sk-* signers). */
  signature: Buffer;
}

/** Number of SSH strings/mpints that make up the certified public key, per certificate type. */
const KEY_PARTS: Record<string, number> = {
  'ssh-ed25519-cert-v01@openssh.com': 1,
  'ssh-rsa-cert-v01@openssh.com': 2,
  'ssh-dss-cert-v01@openssh.com': 4,
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 2,
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 2,
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 2,
  'sk-ssh-ed25519-cert-v01@openssh.com': 2,
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': 3,
};

/** A cursor over SSH wire data (RFC 4251 §5): uint32, uint64 and length-prefixed strings. */
export class SshReader {
  private at = 0;
  constructor(private readonly buf: Buffer, private readonly what = 'certificate') {}

  get offset(): number { return this.at; }
  get remaining(): number { return this.buf.length - this.at; }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new UsageError(`${this.what} is truncated`);
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bytes(): Buffer {
    const n = this.uint32();
    this.need(n);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  text(): string {
    return this.bytes().toString('latin1');
  }
}

/** The wire view of a certificate blob (the base64 field of a `…-cert.pub` line, decoded). */
export function readCertificateWire(blob: Buffer): CertificateWire {
  const r = new SshReader(blob);
  const certType = r.text();
  const parts = KEY_PARTS[certType];
  if (parts === undefined) throw new UsageError(`certificate type ${JSON.stringify(certType)} is not supported`);
  r.bytes(); // nonce
  for (let i = 0; i < parts; i++) r.bytes();
  r.uint64(); // serial
  r.uint32(); // user or host
  r.bytes(); // key id
  r.bytes(); // principals
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  r.bytes(); // critical options
  r.bytes(); // extensions
  r.bytes(); // reserved
  const signatureKey = r.bytes();
  const signedBytes = blob.subarray(0, r.offset);
  const signature = r.bytes();
  // OpenSSH refuses trailing data after the signature (sshkey_from_blob: "unexpected trailing data").
  if (r.remaining !== 0) throw new UsageError('certificate has trailing data after its signature');
  return { certType, validAfter, validBefore, signatureKey, signedBytes, signature };
}
