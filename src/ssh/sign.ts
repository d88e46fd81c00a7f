// Ask Vault's SSH engine for a user certificate, after refusing locally everything the role or
// OpenSSH would make dangerous, and verify the answer before returning it.
import { UsageError, VaultError, failedTo } from '../errors.js';
import { formatDuration } from '../config.js';
import type { VaultClient } from '../vault/client.js';
import { getCaPublicKey } from '../ca/public-key.js';
import { parseUserPublicKey } from './keys.js';
import { validatePrincipals } from './principals.js';
import { verifyIssuedCertificate, type CertificateInfo } from './certificate.js';

export interface SignUserKeyOptions {
  client: VaultClient;
  mount: string;
  role: string;
  publicKey: string;
  principals: string[];
  /** Requested validity in seconds; default: the role's ttl. */
  ttlSeconds?: number;
  /** permit-pty for interactive sessions. */
  permitPty?: boolean;
  /** permit-port-forwarding, for `ssh -L/-R/-J`; Vault grants it only where the role allows it. */
  permitPortForwarding?: boolean;
  /** Why: recorded in the audit log (and in the key id where the role allows user key ids). */
  reason?: string;
}

export interface SignedCertificate {
  certificate: string;
  serial: string;
  info: CertificateInfo;
  caFingerprint: string;
  ttlSeconds: number;
}

interface SshRole {
  ttl?: number;
  max_ttl?: number;
  allowed_users?: string;
  allow_user_key_ids?: boolean;
  allowed_extensions?: string;
}

export async function signUserKey(o: SignUserKeyOptions): Promise<SignedCertificate> {
  const principals = validatePrincipals(o.principals);
  parseUserPublicKey(o.publicKey);
  if (o.reason !== undefined && /[\u0000-\u001f\u007f]/.test(o.reason)) throw new UsageError('--reason must not contain control characters');
  if (o.ttlSeconds !== undefined && o.ttlSeconds <= 0) throw new UsageError('TTL must be positive');

  // Read the role (engineer policy allows it) to refuse a TTL above max_ttl ourselves with a clear
  // message. Vault refuses too; older Vaults capped silently, which must never happen to a user.
  const rolePath = `${o.mount}/roles/${o.role}`;
  // Role and CA are independent reads: one round trip instead of two before the sign request.
  const [roleResult, caResult] = await Promise.allSettled([
    o.client.read<SshRole>(rolePath),
    getCaPublicKey({ client: o.client, mount: o.mount }),
  ]);
  let role: SshRole | undefined;
  if (roleResult.status === 'fulfilled') role = roleResult.value.data;
  else {
    const e = roleResult.reason;
    if (e instanceof VaultError && e.status === 404) {
      throw new VaultError(`failed to sign the public key: SSH role ${o.role} does not exist on ${o.mount}`, {
        path: rolePath, status: 404, hint: 'run fleetvault init or pass --ssh-role',
      });
    }
    if (!(e instanceof VaultError && e.status === 403)) throw failedTo('read the SSH role', e);
  }
  if (caResult.status === 'rejected') throw caResult.reason;
  const ca = caResult.value;
  const ttlSeconds = o.ttlSeconds ?? (role?.ttl || 1800);
  if (role?.max_ttl && ttlSeconds > role.max_ttl) {
    throw new UsageError(`requested TTL ${formatDuration(ttlSeconds)} is above role ${o.role}'s maximum of ${formatDuration(role.max_ttl)}`, {
      hint: `ask for --ttl ${formatDuration(role.max_ttl)} or less`,
    });
  }
  const extensions: Record<string, string> = {
    ...(o.permitPty ? { 'permit-pty': '' } : {}),
    ...(o.permitPortForwarding ? { 'permit-port-forwarding': '' } : {}),
  };
  const body: Record<string, unknown> = {
    public_key: o.publicKey.trim(),
    valid_principals: principals.join(','),
    cert_type: 'user',
    ttl: `${ttlSeconds}s`,
    extensions,
  };
  if (o.reason) {
    body.reason = o.reason;
    if (role?.allow_user_key_ids) body.key_id = `fleetvault:${o.reason}`.slice(0, 200);
  }
  let signed: string;
  let serialHex = '';
  try {
    // Safe to repeat: signing changes no server state beyond issuing a certificate, so a request
    // cut off mid-flight (leader failover) is retried by the client instead of failing the login.
    const r = await o.client.write<{ signed_key: string; serial_number: string }>(`${o.mount}/sign/${o.role}`, body, { idempotent: true });
    signed = r.data.signed_key;
    serialHex = r.data.serial_number;
  } catch (e) {
    if (e instanceof VaultError && e.status === 400 && /ttl is larger/i.test(e.errors.join(' '))) {
      throw new UsageError(`requested TTL ${formatDuration(ttlSeconds)} is above role ${o.role}'s maximum`, { hint: e.errors.join('; ') });
    }
    if (e instanceof VaultError && e.status === 404) {
      throw new VaultError(`failed to sign the public key: SSH role ${o.role} does not exist on ${o.mount}`, {
        path: e.path, status: 404, hint: 'run fleetvault init or pass --ssh-role',
      });
    }
    if (e instanceof VaultError && e.status === 400 && /not a valid value for valid_principals/.test(e.errors.join(' '))) {
      throw new VaultError(`failed to sign the public key: role ${o.role} does not allow principal ${principals.join(',')}${role?.allowed_users ? ` (allowed: ${role.allowed_users})` : ''}`, {
        path: e.path, status: 400, errors: e.errors,
      });
    }
    if (e instanceof VaultError && e.status === 400 && o.permitPortForwarding && /extensions .*not on allowed list/i.test(e.errors.join(' '))) {
      throw new VaultError(`failed to sign the public key: role ${o.role} does not allow port forwarding (permit-port-forwarding), which -L, -R and -J need`, {
        path: e.path, status: 400, errors: e.errors, hint: 'connect without -L/-R/-J, or ask your Vault admin for a role that allows permit-port-forwarding',
      });
    }
    throw failedTo('sign the public key', e);
  }
  const info = verifyIssuedCertificate(signed, {
    caPublicKey: ca.publicKey,
    subjectPublicKey: o.publicKey,
    principals,
    ttlSeconds,
    extensions: Object.keys(extensions),
  });
  return {
    certificate: signed.trim() + '\n',
    serial: serialHex ? BigInt('0x' + serialHex.replace(/[^0-9a-f]/gi, '')).toString() : info.serial,
    info,
    caFingerprint: ca.fingerprint,
    ttlSeconds,
  };
}
