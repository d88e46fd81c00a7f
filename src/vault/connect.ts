// From resolved config to an authenticated client. The one place credentials are chosen:
// FLEETVAULT_ROLE_ID (+ FLEETVAULT_SECRET_ID) → AppRole login; otherwise the token from config.
import { DEFAULT_ADDRESS, type FleetvaultConfig, type VaultSettings } from '../config.js';
import { join } from 'node:path';
import { devStateDir, processIsOurs, readDevState } from '../dev/state.js';
import { VaultError, failedTo } from '../errors.js';
import { VaultClient } from './client.js';
import { SigningCache, signingCacheDir } from './signing-cache.js';

export function clientFromSettings(s: VaultSettings, extra: { retries?: number; signingCache?: boolean } = {}): VaultClient {
  return new VaultClient({
    address: s.address,
    token: s.token,
    namespace: s.namespace,
    caCert: s.caCert,
    clientCert: s.clientCert,
    clientKey: s.clientKey,
    tlsSkipVerify: s.tlsSkipVerify,
    timeoutMs: s.timeoutMs,
    retries: extra.retries,
    signingCacheDir: extra.signingCache && SigningCache.enabled() ? signingCacheDir() : undefined,
    unreachableHint: unreachableHint(s),
  });
}

/**
 * Nothing configured means http://127.0.0.1:8200, which is rarely what runs: say so, and name the
 * fleetvault dev server when one is recorded as running (`dev --detach` picks a free port).
 */
export function unreachableHint(s: VaultSettings | FleetvaultConfig, env: Record<string, string | undefined> = process.env): string | undefined {
  if ((s as Partial<FleetvaultConfig>).addressSource !== 'default') return undefined;
  const dev = readDevState(devStateDir(env));
  // The recorded pid must still be that server (its command line names its config): after a reboot
  // the pid may belong to anything.
  if (dev && processIsOurs(dev.serverPid, join(dev.dir, 'server.hcl')) && dev.address !== s.address) {
    return `no Vault address is configured; the fleetvault dev server runs at ${dev.address}: export VAULT_ADDR=${dev.address}`;
  }
  return `no Vault address is configured (${DEFAULT_ADDRESS} is the default): set VAULT_ADDR, or fleetvault context use <name>, or fleetvault login`;
}

export async function appRoleLogin(client: VaultClient, mount: string, roleId: string, secretId: string): Promise<string> {
  try {
    // Not idempotent: every login spends one use of the secret_id.
    const r = await client.write(`auth/${mount}/login`, { role_id: roleId, secret_id: secretId }, { anonymous: true });
    const token = r.auth?.client_token;
    if (!token) throw new VaultError('AppRole login returned no token', { path: `auth/${mount}/login` });
    client.setToken(token);
    return token;
  } catch (e) {
    // A bad secret_id, an expired or used-up one and a source outside the ranges all answer 400
    // with a reason. A bare 403 on the login path is OpenBao's user lockout: the role_id is
    // locked after repeated failures, whatever secret_id comes next.
    if (e instanceof VaultError && e.status === 403) {
      throw new VaultError(`AppRole login refused: auth/${mount} has locked this role_id out after repeated failed logins (user lockout)`, {
        path: e.path, status: e.status, errors: e.errors,
        hint: `wait for the lockout to expire, or unlock it (fleetvault-admin): bao write -f sys/locked-users/<accessor of auth/${mount}, from bao auth list>/unlock/${roleId}; fleetvault init turns lockout off for this mount`,
      });
    }
    if (e instanceof VaultError && e.status === 400) {
      throw new VaultError(`AppRole login refused: ${e.errors.join('; ') || e.message}`, {
        path: e.path, status: e.status, errors: e.errors,
        hint: 'the secret_id may be used up, expired, revoked, or used from outside the factory ranges',
      });
    }
    throw failedTo('log in with AppRole', e);
  }
}

/**
 * An authenticated client, or a VaultError telling the user how to log in. `appRole: false` for
 * commands a flasher credential has no business spending a use on (each AppRole login spends one
 * use of the batch): they use the token, as if FLEETVAULT_ROLE_ID were not set.
 */
export async function connect(config: FleetvaultConfig, o: { appRole?: boolean } = {}): Promise<VaultClient> {
  // The CLI's client keeps the SSH role and CA between runs (the sign path's two reads).
  const client = clientFromSettings(config, { signingCache: true });
  if (config.roleId && o.appRole !== false) {
    if (!config.secretId) {
      throw new VaultError('FLEETVAULT_ROLE_ID is set but FLEETVAULT_SECRET_ID is not', {
        path: `auth/${config.approleMount}/login`, hint: 'set FLEETVAULT_SECRET_ID (fleetvault factory batch unwrap <token>)',
      });
    }
    await appRoleLogin(client, config.approleMount, config.roleId, config.secretId);
    return client;
  }
  if (!client.hasToken() && config.tokenElsewhere) {
    // Never sent: the token in the file was issued by another server.
    throw new VaultError(`not logged in to ${config.address}: the token in ${config.tokenFile} is for ${config.tokenElsewhere}`, {
      path: 'auth',
      hint: config.addressSource === 'default' ? `no address is configured: export VAULT_ADDR=${config.tokenElsewhere}, or run fleetvault login` : 'run fleetvault login to log in to this server',
    });
  }
  if (!client.hasToken()) {
    throw new VaultError(`no Vault token for ${config.address}`, {
      path: 'auth', hint: 'set VAULT_TOKEN or run fleetvault login',
    });
  }
  return client;
}
