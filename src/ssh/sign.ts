// Ask Vault's SSH engine for a user certificate, after refusing locally everything the role or
// OpenSSH would make dangerous, and verify the answer before returning it.
import { UsageError, VaultError, failedTo } from '../errors.js';
import { formatDuration } from '../config.js';
import type { VaultClient } from '../vault/client.js';
import { SigningCache, type CachedSshRole, type SigningCacheEntry } from '../vault/signing-cache.js';
import { checkUserPublicKey } from './keys.js';
import { parsePublicKeyLine } from './openssh-wire.js';
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
  /** Bind the certificate to these source addresses (critical option source-address, comma-separated CIDRs). */
  sourceAddress?: string;
}

export interface SignedCertificate {
  certificate: string;
  serial: string;
  info: CertificateInfo;
  caFingerprint: string;
  ttlSeconds: number;
}

/**
 * The role (engineer policy may read it: to refuse a TTL above max_ttl ourselves with a clear
 * message — Vault refuses too, older Vaults capped silently, which must never happen to a user)
 * and the CA public key (to verify what Vault returns). Independent reads: one round trip.
 */
async function readSigningLimits(o: SignUserKeyOptions): Promise<SigningCacheEntry> {
  const rolePath = `${o.mount}/roles/${o.role}`;
  const [roleResult, caResult] = await Promise.allSettled([
    o.client.read<CachedSshRole>(rolePath),
    o.client.read<{ public_key?: string }>(`${o.mount}/config/ca`),
  ]);
  let role: CachedSshRole | null = null;
  if (roleResult.status === 'fulfilled') {
    const d = roleResult.value.data ?? {};
    role = {
      ttl: d.ttl, max_ttl: d.max_ttl, allowed_users: d.allowed_users, allow_user_key_ids: d.allow_user_key_ids,
      default_critical_options: d.default_critical_options,
    };
  } else {
    const e = roleResult.reason;
    if (e instanceof VaultError && e.status === 404) {
      throw new VaultError(`failed to sign the public key: SSH role ${o.role} does not exist on ${o.mount}`, {
        path: rolePath, status: 404, hint: 'run fleetvault init or pass --ssh-role',
      });
    }
    if (!(e instanceof VaultError && e.status === 403)) throw failedTo('read the SSH role', e);
  }
  let key: string | undefined;
  if (caResult.status === 'fulfilled') key = caResult.value.data?.public_key?.trim() || undefined;
  else {
    const e = caResult.reason;
    // "keys haven't been configured yet" is a 400 on Vault and OpenBao alike.
    if (!(e instanceof VaultError && (e.status === 400 || e.status === 404))) throw failedTo(`read the CA public key of ${o.mount}`, e);
  }
  if (!key) {
    throw new VaultError(`failed to read the CA public key of ${o.mount}: the mount has no CA yet`, {
      path: `${o.mount}/config/ca`, hint: 'run fleetvault init',
    });
  }
  let ca;
  try {
    ca = parsePublicKeyLine(key);
  } catch (e) {
    throw new VaultError(`failed to read the CA public key of ${o.mount}: Vault returned no OpenSSH public key (${(e as Error).message})`, { path: `${o.mount}/config/ca` });
  }
  return { role, caPublicKey: ca.line, caFingerprint: ca.fingerprint };
}

function signingCacheFor(o: SignUserKeyOptions): SigningCache | undefined {
  const dir = o.client.signingCacheDir;
  const token = o.client.currentToken();
  if (!dir || !token) return undefined;
  return new SigningCache({ address: o.client.address, namespace: o.client.namespace, mount: o.mount, role: o.role }, token, { dir });
}

export async function signUserKey(o: SignUserKeyOptions, noCache = false): Promise<SignedCertificate> {
  const principals = validatePrincipals(o.principals);
  checkUserPublicKey(o.publicKey);
  if (o.reason !== undefined && /[\u0000-\u001f\u007f]/.test(o.reason)) throw new UsageError('--reason must not contain control characters');
  if (o.ttlSeconds !== undefined && o.ttlSeconds <= 0) throw new UsageError('TTL must be positive');

  // Role and CA come from the signing cache when the client has one (connect() gives the CLI's
  // one); a cached entry is only a shortcut: any doubt below re-reads them from Vault.
  const cache = signingCacheFor(o);
  let limits = noCache ? undefined : cache?.read();
  let fromCache = limits !== undefined;
  const refresh = async (): Promise<SigningCacheEntry> => {
    cache?.invalidate();
    const fresh = await readSigningLimits(o);
    cache?.write(fresh);
    fromCache = false;
    return fresh;
  };
  if (!limits) limits = await refresh();
  const tooLong = (role: CachedSshRole | null) => o.ttlSeconds !== undefined && !!role?.max_ttl && o.ttlSeconds > role.max_ttl;
  // A cached role may be older than a raised max_ttl: refuse only on what Vault says now.
  if (tooLong(limits.role) && fromCache) limits = await refresh();
  let role = limits.role ?? undefined;
  if (tooLong(limits.role)) {
    throw new UsageError(`requested TTL ${formatDuration(o.ttlSeconds!)} is above role ${o.role}'s maximum of ${formatDuration(role!.max_ttl!)}`, {
      hint: `ask for --ttl ${formatDuration(role!.max_ttl!)} or less`,
    });
  }
  let ttlSeconds = o.ttlSeconds ?? (role?.ttl || 1800);
  // Without --ttl and with a cached role, send no ttl: Vault applies the role's ttl as it is now,
  // so a default lowered since the cache was written is never widened by it.
  // A role without a ttl of its own (or one we may not read) is not predicted by the cache: Vault
  // would fall back to the mount's default (up to max_ttl), so ask for the same 1800s as uncached.
  const sendTtl = o.ttlSeconds !== undefined || !fromCache || !role?.ttl;
  const extensions: Record<string, string> = {
    ...(o.permitPty ? { 'permit-pty': '' } : {}),
    ...(o.permitPortForwarding ? { 'permit-port-forwarding': '' } : {}),
  };
  const body: Record<string, unknown> = {
    public_key: o.publicKey.trim(),
    valid_principals: principals.join(','),
    cert_type: 'user',
    extensions,
  };
  if (sendTtl) body.ttl = `${ttlSeconds}s`;
  // Vault applies the role's default_critical_options only when a request names none: a request
  // with --from replaces them (scoped roles that bind addresses refuse critical_options by policy).
  if (o.sourceAddress) body.critical_options = { 'source-address': o.sourceAddress };
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
    // A refusal may come from what changed since the cache was written: drop it.
    cache?.invalidate();
    const ttlRefused = e instanceof VaultError && e.status === 400 && /ttl is larger/i.test(e.errors.join(' '));
    // Any other 400 to a request built from the cached role (key_id where the role no longer
    // allows it, …): build it once more from the role as Vault has it now.
    if (fromCache && !noCache && !ttlRefused && e instanceof VaultError && e.status === 400) return signUserKey(o, true);
    if (ttlRefused) {
      // The cached role had a higher max_ttl than the server now has: say the current one.
      if (fromCache) {
        const fresh = await refresh().catch(() => undefined);
        if (fresh && tooLong(fresh.role)) {
          throw new UsageError(`requested TTL ${formatDuration(ttlSeconds)} is above role ${o.role}'s maximum of ${formatDuration(fresh.role!.max_ttl!)}`, {
            hint: `ask for --ttl ${formatDuration(fresh.role!.max_ttl!)} or less`,
          });
        }
      }
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
  const verifyAgainst = (l: SigningCacheEntry, ttl: number) => verifyIssuedCertificate(signed, {
    caPublicKey: l.caPublicKey,
    subjectPublicKey: o.publicKey,
    principals,
    ttlSeconds: ttl,
    extensions: Object.keys(extensions),
    criticalOptions: o.sourceAddress ? { 'source-address': o.sourceAddress } : (l.role?.default_critical_options ?? {}),
  });
  let info: CertificateInfo;
  try {
    info = verifyAgainst(limits, ttlSeconds);
  } catch (e) {
    if (!fromCache) throw e;
    // Not what the cached CA/role predicted (a CA rotation, a changed role): judge the
    // certificate again on what Vault says now, and keep that.
    limits = await refresh();
    role = limits.role ?? undefined;
    if (o.ttlSeconds === undefined) ttlSeconds = role?.ttl || 1800;
    info = verifyAgainst(limits, ttlSeconds);
  }
  const ca = { fingerprint: limits.caFingerprint };
  return {
    certificate: signed.trim() + '\n',
    serial: serialHex ? BigInt('0x' + serialHex.replace(/[^0-9a-f]/gi, '')).toString() : info.serial,
    info,
    caFingerprint: ca.fingerprint,
    ttlSeconds,
  };
}
