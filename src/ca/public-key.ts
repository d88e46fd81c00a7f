import sshpk from 'sshpk';
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { readCaPublicKey } from '../vault/bootstrap.js';

export interface CaPublicKey {
  mount: string;
  /** `ssh-ed25519 AAAA…` without comment. */
  publicKey: string;
  /** `SHA256:…` */
  fingerprint: string;
}

export async function getCaPublicKey(opts: { client: VaultClient; mount: string }): Promise<CaPublicKey> {
  let key: string | undefined;
  try {
    key = await readCaPublicKey(opts.client, opts.mount);
  } catch (e) {
    throw failedTo(`read the CA public key of ${opts.mount}`, e);
  }
  if (!key) {
    throw new VaultError(`failed to read the CA public key of ${opts.mount}: the mount has no CA yet`, {
      path: `${opts.mount}/config/ca`, hint: 'run fleetvault init',
    });
  }
  const parsed = sshpk.parseKey(key, 'ssh');
  return { mount: opts.mount, publicKey: parsed.toString('ssh').split(' ').slice(0, 2).join(' '), fingerprint: parsed.fingerprint('sha256').toString() };
}
