// logout: a root token is only forgotten, never revoked; no token is "nothing to do", not an error.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logout } from '../../../src/auth/session.js';
import { resolveConfig } from '../../../src/config.js';
import { VaultError } from '../../../src/errors.js';
import type { VaultClient } from '../../../src/vault/client.js';

const homes: string[] = [];
afterEach(() => { for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true }); });

/** A Vault that knows one token with these policies; records what was written. */
function fakeVault(policies: string[] | 'invalid') {
  const writes: string[] = [];
  const client = {
    read: async (path: string) => {
      if (policies === 'invalid') throw new VaultError('permission denied', { path, status: 403 });
      return { data: { policies, display_name: 'token', ttl: 0 } };
    },
    write: async (path: string) => { writes.push(path); return {}; },
  } as unknown as VaultClient;
  return { client, writes };
}

function loggedIn(token: string) {
  const h = mkdtempSync(join(tmpdir(), 'fv-logout-'));
  homes.push(h);
  writeFileSync(join(h, '.vault-token'), token, { mode: 0o600 });
  return resolveConfig({}, { HOME: h, VAULT_ADDR: 'http://a:8200' });
}

describe('logout', () => {
  it('never revokes a root token; forgets it locally', async () => {
    const config = loggedIn('root-token');
    const v = fakeVault(['root']);
    const r = await logout({ client: v.client, config });
    expect(r).toMatchObject({ revoked: false, rootKept: true, removed: config.tokenFile });
    expect(v.writes).toEqual([]);
    expect(existsSync(config.tokenFile)).toBe(false);
  });

  it('revokes any other token', async () => {
    const config = loggedIn('user-token');
    const v = fakeVault(['default', 'fleetvault-engineer']);
    expect(await logout({ client: v.client, config })).toMatchObject({ revoked: true, removed: config.tokenFile });
    expect(v.writes).toEqual(['auth/token/revoke-self']);
  });

  it('an already invalid token is just removed', async () => {
    const config = loggedIn('dead-token');
    const v = fakeVault('invalid');
    expect(await logout({ client: v.client, config })).toMatchObject({ revoked: false, removed: config.tokenFile });
  });

  it('no token: nothing to do, not an error', async () => {
    const h = mkdtempSync(join(tmpdir(), 'fv-logout-'));
    homes.push(h);
    const config = resolveConfig({}, { HOME: h, VAULT_ADDR: 'http://a:8200' });
    expect(await logout({ client: fakeVault([]).client, config })).toEqual({ revoked: false, nothingToDo: true });
  });
});
