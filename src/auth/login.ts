// Logging in to Vault: token, userpass, and (in oidc.ts) the OIDC browser flow. Every method
// ends the same way: the new token is looked up with auth/token/lookup-self, which both proves it
// works and gives the display name, policies and TTL to show. Secrets arrive as arguments from the
// caller (read from stdin / the TTY there), never from argv, and never appear in an error.
import { UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';

export type LoginMethod = 'token' | 'userpass' | 'oidc';

export interface LoginResult {
  method: LoginMethod;
  /** The Vault token. Secret: store it or hand it over, never print it unasked. */
  token: string;
  accessor?: string;
  displayName: string;
  policies: string[];
  /** Seconds left; 0 means the token never expires (root tokens). */
  ttlSeconds: number;
  renewable: boolean;
  entityId?: string;
  /** The auth mount the token came from (e.g. auth/userpass/). */
  path?: string;
}

interface LookupSelf {
  accessor?: string;
  display_name?: string;
  policies?: string[];
  ttl?: number;
  renewable?: boolean;
  entity_id?: string;
  path?: string;
}

/** A mount path as given by --path: letters, digits, - _ . and inner slashes; no traversal. */
export function validateAuthMount(mount: string): string {
  const m = mount.replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/.test(m) || m.includes('..') || m.includes('//')) {
    throw new UsageError(`invalid auth mount path "${mount}"`, { hint: 'use the mount name, e.g. userpass or oidc' });
  }
  return m;
}

/** Userpass names end up in a URL path: refuse what would change the path or the terminal. */
export function validateUsername(username: string): string {
  // eslint-disable-next-line no-control-regex
  if (username === '' || /[/\\?#%\s\u0000-\u001f\u007f]/.test(username)) {
    throw new UsageError(`invalid username "${username}"`, { hint: 'no slashes, spaces, ? # % or control characters' });
  }
  return username;
}

/** Look a token up with itself: proves it is valid and says what it may do. */
export async function describeToken(opts: { client: VaultClient; token: string; method: LoginMethod }): Promise<LoginResult> {
  let r;
  try {
    r = await opts.client.read<LookupSelf>('auth/token/lookup-self', { token: opts.token });
  } catch (e) {
    if (e instanceof VaultError && (e.status === 403 || e.status === 400)) {
      throw new VaultError('Vault does not accept this token', {
        path: e.path, status: e.status, errors: e.errors,
        hint: 'the token is wrong, expired or revoked, or lacks the default policy (auth/token/lookup-self); get a new one or use --method userpass|oidc',
      });
    }
    throw e;
  }
  const d = r.data ?? {};
  return {
    method: opts.method,
    token: opts.token,
    accessor: d.accessor,
    displayName: d.display_name ?? '',
    policies: [...(d.policies ?? [])].sort(),
    ttlSeconds: d.ttl ?? 0,
    renewable: d.renewable ?? false,
    entityId: d.entity_id || undefined,
    path: d.path || undefined,
  };
}

/** `fleetvault login --method token`: verify a token the user already has. */
export async function loginWithToken(opts: { client: VaultClient; token: string }): Promise<LoginResult> {
  const token = opts.token.trim();
  if (token === '') throw new UsageError('failed to log in with a token: no token given', { hint: 'pipe it on stdin or type it at the prompt' });
  // A token with a newline or space inside would later be sent as a broken header: refuse early.
  if (/\s/.test(token)) throw new UsageError('failed to log in with a token: the token contains whitespace');
  try {
    return await describeToken({ client: opts.client, token, method: 'token' });
  } catch (e) {
    throw failedTo('log in with a token', e);
  }
}

export interface UserpassLoginOptions {
  client: VaultClient;
  /** Auth mount, default "userpass". */
  mount?: string;
  username: string;
  password: string;
}

/** `fleetvault login --method userpass`: auth/<mount>/login/<username> with the password in the body. */
export async function loginWithUserpass(opts: UserpassLoginOptions): Promise<LoginResult> {
  const mount = validateAuthMount(opts.mount ?? 'userpass');
  const username = validateUsername(opts.username);
  if (opts.password === '') throw new UsageError('failed to log in with userpass: empty password');
  const path = `auth/${mount}/login/${username}`;
  let token: string | undefined;
  try {
    // Not idempotent: a retried failed login counts twice against lockout thresholds.
    const r = await opts.client.write(path, { password: opts.password }, { anonymous: true });
    token = r.auth?.client_token;
    if (!token) throw new VaultError('Vault returned no token', { path });
  } catch (e) {
    if (e instanceof VaultError && (e.status === 400 || e.status === 403)) {
      throw new VaultError(`failed to log in as ${username} at auth/${mount}: ${e.errors.join('; ') || e.message}`, {
        path: e.path, status: e.status, errors: e.errors,
        hint: 'check the username, the password and --path (the userpass mount)',
      });
    }
    throw failedTo(`log in as ${username} at auth/${mount}`, e);
  }
  try {
    return await describeToken({ client: opts.client, token, method: 'userpass' });
  } catch (e) {
    throw failedTo('look up the new token', e);
  }
}
