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

/**
 * `anonymous`: read <mount>/public_key, which Vault and OpenBao serve without a token (it is how
 * sshd hosts fetch the CA key), instead of <mount>/config/ca, which needs one.
 */
export async function getCaPublicKey(opts: { client: VaultClient; mount: string; anonymous?: boolean }): Promise<CaPublicKey> {
  let key: string | undefined;
  try {
    key = opts.anonymous ? await readPublicKeyAnonymously(opts.client, opts.mount) : await readCaPublicKey(opts.client, opts.mount);
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

async function readPublicKeyAnonymously(client: VaultClient, mount: string): Promise<string | undefined> {
  try {
    // A text/plain body: the client hands it back as the string itself.
    const body = (await client.read(`${mount}/public_key`, { anonymous: true })) as unknown;
    return typeof body === 'string' && body.trim() !== '' ? body.trim() : undefined;
  } catch (e) {
    // "keys haven't been configured yet": 400 on Vault and OpenBao alike.
    if (e instanceof VaultError && e.status === 400) return undefined;
    // Without a token, Vault answers 403 for a path no mount serves: most likely a wrong mount name.
    if (e instanceof VaultError && e.status === 403) {
      throw new VaultError(`no SSH CA mount at ${mount}/ (Vault refused ${mount}/public_key, which any SSH mount serves without a token)`, {
        path: e.path, status: e.status, errors: e.errors, hint: 'check --ssh-mount / FLEETVAULT_SSH_MOUNT, or run fleetvault init',
      });
    }
    throw e;
  }
}
