// User key pairs: generated in memory, written only into a private temp dir when ssh needs a file.
import { generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import { UsageError } from '../errors.js';

export interface SshKeyPair {
  /** OpenSSH private key format (what `ssh -i` reads). */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
}

export function generateEd25519KeyPair(comment = 'fleetvault'): SshKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const key = sshpk.parsePrivateKey(pem, 'pkcs8');
  key.comment = comment;
  return { privateKey: key.toString('openssh'), publicKey: key.toPublic().toString('ssh') };
}

/**
 * Parse a public key a user hands us for signing, and refuse weak or wrong key types before
 * Vault sees them: DSA (broken and disabled in OpenSSH), RSA under 3072 bits, and certificates.
 */
export function parseUserPublicKey(text: string, source = 'public key'): sshpk.Key {
  const trimmed = text.trim();
  if (/-cert-v01@openssh\.com\s/.test(trimmed + ' ')) {
    throw new UsageError(`${source} is a certificate, not a public key`, { hint: 'pass the .pub file of the key pair' });
  }
  if (trimmed.includes('PRIVATE KEY')) {
    throw new UsageError(`${source} is a private key`, { hint: 'pass the .pub file, never the private key' });
  }
  let key: sshpk.Key;
  try {
    if (trimmed.split('\n').length > 1) throw new Error('more than one line');
    key = sshpk.parseKey(trimmed, 'ssh');
  } catch (e) {
    throw new UsageError(`${source} is not an OpenSSH public key (${(e as Error).message.split('\n')[0]})`);
  }
  if (key.type === 'dsa') throw new UsageError(`${source}: DSA keys are refused`, { hint: 'use ssh-keygen -t ed25519' });
  if (key.type === 'rsa' && key.size < 3072) {
    throw new UsageError(`${source}: RSA key of ${key.size} bits refused (3072 at least)`, { hint: 'use ssh-keygen -t ed25519' });
  }
  return key;
}
