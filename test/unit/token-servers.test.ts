// A token is tied to the server it came from: never sent to another one, whatever the contexts say.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../src/config.js';
import { addContext, rememberLogin } from '../../src/contexts.js';
import { storeToken } from '../../src/auth/token-store.js';
import { recordTokenServer } from '../../src/token-servers.js';
import { connect } from '../../src/vault/connect.js';

const homes: string[] = [];
afterEach(() => { for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true }); });
function home() { const h = mkdtempSync(join(tmpdir(), 'fv-tokensrv-')); homes.push(h); return { HOME: h }; }

/** What `fleetvault login` does once the server accepted the token. */
function login(env: Record<string, string>, token: string, flags: { context?: string } = {}) {
  const config = resolveConfig(flags, env);
  const r = rememberLogin({ config, method: 'token', env });
  storeToken({ path: r.tokenFile, token });
  recordTokenServer({ path: r.tokenFile, address: config.address, token, env });
  return r;
}

describe('a token goes only to the server it came from', () => {
  it('a second server\'s login never lands in (or is sent from) the first one\'s token file', async () => {
    const e = home();
    login({ ...e, VAULT_ADDR: 'http://a1:8200' }, 'T1');
    const r2 = login({ ...e, VAULT_ADDR: 'http://a2:8200' }, 'T2');
    expect(r2.context).toBe('default-2');
    expect(r2.tokenFile).not.toBe(join(e.HOME, '.vault-token'));
    const c1 = resolveConfig({ context: 'default' }, e);
    expect(c1).toMatchObject({ address: 'http://a1:8200', token: 'T1' });
    expect(resolveConfig({ context: 'default-2' }, e)).toMatchObject({ address: 'http://a2:8200', token: 'T2' });
  });

  it('~/.vault-token stored for one server is not sent to another: "not logged in", exit 2', async () => {
    const e = home();
    login({ ...e, VAULT_ADDR: 'http://a1:8200' }, 'T1');
    const c = resolveConfig({}, { ...e, VAULT_ADDR: 'http://a3:8200' });
    expect(c).toMatchObject({ token: undefined, tokenElsewhere: 'http://a1:8200' });
    await expect(connect(c)).rejects.toMatchObject({ message: expect.stringMatching(/^not logged in to http:\/\/a3:8200: .* is for http:\/\/a1:8200/), hint: expect.stringMatching(/fleetvault login/), exitCode: 2 });
    // A token someone else wrote there later (vault login) is not claimed by the record.
    storeToken({ path: join(e.HOME, '.vault-token'), token: 'FROM-VAULT-CLI' });
    expect(resolveConfig({}, { ...e, VAULT_ADDR: 'http://a3:8200' }).token).toBe('FROM-VAULT-CLI');
  });

  it('changing a context\'s address drops its token', () => {
    const e = home();
    addContext({ name: 'p', settings: { address: 'http://a2:8200' }, env: e });
    const r = login(e, 'T2', { context: 'p' });
    expect(resolveConfig({ context: 'p' }, e).token).toBe('T2');
    const changed = addContext({ name: 'p', settings: { address: 'http://a1:8200' }, env: e });
    expect(changed.tokenDropped).toBe(r.tokenFile);
    expect(existsSync(r.tokenFile)).toBe(false);
    expect(resolveConfig({ context: 'p' }, e)).toMatchObject({ address: 'http://a1:8200', token: undefined });
    // Same address again: nothing dropped.
    expect(addContext({ name: 'p', settings: { address: 'http://a1:8200/' }, env: e }).tokenDropped).toBeUndefined();
  });

  it('a context sharing ~/.vault-token stops using it when its address changes', () => {
    const e = home();
    login({ ...e, VAULT_ADDR: 'http://a1:8200' }, 'T1');
    expect(addContext({ name: 'default', settings: { address: 'http://a9:8200' }, env: e }).tokenDropped).toBe(join(e.HOME, '.vault-token'));
    expect(resolveConfig({}, e)).toMatchObject({ address: 'http://a9:8200', token: undefined });
    expect(existsSync(join(e.HOME, '.vault-token'))).toBe(true);
  });

  it('--context X login is a one-off: the current context stays', () => {
    const e = home();
    addContext({ name: 'prod', settings: { address: 'http://prod:8200' }, env: e });
    addContext({ name: 'staging', settings: { address: 'http://staging:8200' }, env: e });
    login(e, 'TS', { context: 'staging' });
    expect(readConfigFile(join(e.HOME, '.config', 'fleetvault', 'config.json')).currentContext).toBe('prod');
    login({ ...e, FLEETVAULT_CONTEXT: 'staging' }, 'TS');
    expect(readConfigFile(join(e.HOME, '.config', 'fleetvault', 'config.json')).currentContext).toBe('prod');
  });
});

describe('contexts from before token records', () => {
  it('a token file shared with a context for another server is not sent without a record', () => {
    const e = home();
    // What an older fleetvault left: default and default-2 both on ~/.vault-token, no record.
    addContext({ name: 'default', settings: { address: 'http://a1:8200', tokenFile: join(e.HOME, '.vault-token') }, env: e });
    addContext({ name: 'default-2', settings: { address: 'http://a2:8200', tokenFile: join(e.HOME, '.vault-token') }, env: e });
    storeToken({ path: join(e.HOME, '.vault-token'), token: 'T2' });
    expect(resolveConfig({ context: 'default' }, e)).toMatchObject({ token: undefined, tokenElsewhere: 'http://a2:8200 (context default-2 shares the file)' });
    // One login there records the file for a1: default works, default-2 is now the refused one.
    login(e, 'T1', { context: 'default' });
    expect(resolveConfig({ context: 'default' }, e).token).toBe('T1');
    expect(resolveConfig({ context: 'default-2' }, e)).toMatchObject({ token: undefined, tokenElsewhere: 'http://a1:8200' });
  });
});
