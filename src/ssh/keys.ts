// User key pairs: generated in memory, written only into a private temp dir when ssh needs a file.
// node:crypto and the wire format directly: sshpk is not loaded on the sign path (see openssh-wire.ts).
import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';
import type sshpkTypes from 'sshpk';
import { UsageError } from '../errors.js';
import { ed25519PrivateKeyFile, ed25519PublicKeyLine, parsePublicKeyLine, type WirePublicKey } from './openssh-wire.js';

const require = createRequire(import.meta.url);

export interface SshKeyPair {
  /** OpenSSH private key format (what `ssh -i` reads). */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
}

// DER encodings of ed25519 keys are fixed: a constant prefix, then the 32 raw bytes.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function generateEd25519KeyPair(comment = 'fleetvault'): SshKeyPair {
  // Encoded by generateKeyPairSync itself, never through KeyObject.export({ format: 'jwk' }):
  // on Node 20 that export can deadlock the process (it holds the key's mutex while allocating,
  // and a GC in between runs the key job's destructor, which takes the same mutex) — seen here
  // as a `fleetvault ssh` hanging forever under load.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  if (privateKey.length !== 48 || !privateKey.subarray(0, 16).equals(PKCS8_ED25519_PREFIX)
    || publicKey.length !== 44 || !publicKey.subarray(0, 12).equals(SPKI_ED25519_PREFIX)) {
    throw new Error('unexpected ed25519 key encoding from node:crypto');
  }
  const seed = privateKey.subarray(16);
  const pub = publicKey.subarray(12);
  return { privateKey: ed25519PrivateKeyFile(seed, pub, comment), publicKey: ed25519PublicKeyLine(pub, comment) };
}

/**
 * Check a public key a user hands us for signing, and refuse weak or wrong key types before
 * Vault sees them: DSA (broken and disabled in OpenSSH), RSA under 3072 bits, and certificates.
 */
export function checkUserPublicKey(text: string, source = 'public key'): WirePublicKey {
  const trimmed = text.trim();
  if (/-cert-v01@openssh\.com\s/.test(trimmed + ' ')) {
    throw new UsageError(`${source} is a certificate, not a public key`, { hint: 'pass the .pub file of the key pair' });
  }
  if (trimmed.includes('PRIVATE KEY')) {
    throw new UsageError(`${source} is a private key`, { hint: 'pass the .pub file, never the private key' });
  }
  if (/^ssh-dss\s/.test(trimmed)) throw new UsageError(`${source}: DSA keys are refused`, { hint: 'use ssh-keygen -t ed25519' });
  let key: WirePublicKey;
  try {
    if (trimmed.split('\n').length > 1) throw new Error('more than one line');
    key = parsePublicKeyLine(trimmed);
  } catch (e) {
    throw new UsageError(`${source} is not an OpenSSH public key (${(e as Error).message.split('\n')[0]})`);
  }
  if (key.type === 'ssh-rsa') {
    const bits = rsaModulusBits(key.blob);
    if (bits < 3072) throw new UsageError(`${source}: RSA key of ${bits} bits refused (3072 at least)`, { hint: 'use ssh-keygen -t ed25519' });
  }
  return key;
}

function rsaModulusBits(blob: Buffer): number {
  let off = 0;
  const next = () => { const n = blob.readUInt32BE(off); const v = blob.subarray(off + 4, off + 4 + n); off += 4 + n; return v; };
  next(); next(); // type, e
  const n = next();
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]!));
}

/** checkUserPublicKey, returning the key parsed by sshpk (library API; loads sshpk). */
export function parseUserPublicKey(text: string, source = 'public key'): sshpkTypes.Key {
  checkUserPublicKey(text, source);
  const sshpk = require('sshpk') as typeof sshpkTypes;
  try {
    return sshpk.parseKey(text.trim(), 'ssh');
  } catch (e) {
    throw new UsageError(`${source} is not an OpenSSH public key (${(e as Error).message.split('\n')[0]})`);
  }
}
