// The session as Vault sees it: who the token is (whoami), ending it (logout), and whether the
// server answers at all (status). Everything here asks Vault; nothing is guessed from local files.
import { rmSync } from 'node:fs';
import type { FleetvaultConfig } from '../config.js';
import { VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { describeToken, type LoginResult } from './login.js';
import { forgetTokenServer } from '../token-servers.js';

export type TokenInfo = Omit<LoginResult, 'token' | 'method'>;

/** Look the current token up with itself (auth/token/lookup-self). */
export async function whoami(o: { client: VaultClient }): Promise<TokenInfo> {
  const token = o.client.currentToken();
  if (!token) throw new VaultError('no Vault token', { path: 'auth/token/lookup-self', hint: 'run fleetvault login' });
  try {
    const { token: _t, method: _m, ...info } = await describeToken({ client: o.client, token, method: 'token' });
    return info;
  } catch (e) {
    throw failedTo('look up the current token', e);
  }
}

export interface LogoutResult {
  revoked: boolean;
  /** No token for this server: nothing was done. */
  nothingToDo?: boolean;
  /** A root token: forgotten locally, never revoked (it may be the only way into the server). */
  rootKept?: boolean;
  /** The token file removed, if the token came from one. */
  removed?: string;
  /** Set when the token came from the environment, which a child process cannot unset. */
  stillSetIn?: string;
}

/**
 * Revoke the token (auth/token/revoke-self) unless told not to, then forget it. A token Vault
 * already considers invalid is gone either way: that is not a failure. A root token is never
 * revoked: it is often the only one there is (the dev server's, a break-glass one), and losing it
 * takes an unseal-key quorum to undo; it is only forgotten here.
 */
export async function logout(o: { client: VaultClient; config: FleetvaultConfig; revoke?: boolean }): Promise<LogoutResult> {
  const { config } = o;
  if (!config.token) return { revoked: false, nothingToDo: true };
  let revoked = false;
  let rootKept = false;
  if (o.revoke !== false) {
    let isRoot = false;
    let invalid = false;
    try {
      const info = await describeToken({ client: o.client, token: config.token, method: 'token' });
      isRoot = info.policies.includes('root');
    } catch (e) {
      // Rejected: already invalid, nothing to revoke. Unreachable: say so and keep the file.
      if (!(e instanceof VaultError && (e.status === 403 || e.status === 400))) throw failedTo('look up the token before revoking it', e);
      invalid = true;
    }
    if (isRoot) rootKept = true;
    else if (!invalid) {
      try {
        await o.client.write('auth/token/revoke-self', {});
        revoked = true;
      } catch (e) {
        if (!(e instanceof VaultError && (e.status === 403 || e.status === 400))) throw failedTo('revoke the token', e);
      }
    }
  }
  const fromFile = config.tokenSource === config.tokenFile;
  if (fromFile) {
    rmSync(config.tokenFile, { force: true });
    forgetTokenServer({ path: config.tokenFile });
  }
  return { revoked, ...(rootKept ? { rootKept } : {}), removed: fromFile ? config.tokenFile : undefined, stillSetIn: fromFile ? undefined : config.tokenSource };
}

export interface ServerStatus {
  context: string | null;
  address: string;
  addressSource: string;
  namespace: string | null;
  reachable: boolean;
  error?: string;
  version?: string;
  initialized?: boolean;
  sealed?: boolean;
  standby?: boolean;
  token: { source: string | null; valid: boolean | null; displayName?: string; policies?: string[]; ttlSeconds?: number; error?: string };
}

/** Where fleetvault would talk to, whether that server answers, and whether the token works there. */
export async function serverStatus(o: { client: VaultClient; config: FleetvaultConfig }): Promise<ServerStatus> {
  const { config, client } = o;
  const s: ServerStatus = {
    context: config.context ?? null, address: config.address, addressSource: config.addressSource, namespace: config.namespace ?? null,
    reachable: false, token: { source: config.tokenSource ?? null, valid: null },
  };
  try {
    const h = await client.health();
    Object.assign(s, { reachable: true, version: h.version, initialized: h.initialized, sealed: h.sealed, standby: h.standby });
  } catch (e) {
    s.error = e instanceof Error ? e.message : String(e);
    return s;
  }
  if (config.token && !s.sealed) {
    try {
      const t = await whoami({ client });
      s.token = { ...s.token, valid: true, displayName: t.displayName, policies: t.policies, ttlSeconds: t.ttlSeconds };
    } catch (e) {
      s.token = { ...s.token, valid: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
  return s;
}
