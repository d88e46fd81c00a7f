// The one config resolver with named contexts: flag > env > context > default, context chosen by
// --context > FLEETVAULT_CONTEXT > currentContext, and a context's token only for its own server.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addressOrigin, configFilePath, readConfigFile, resolveConfig, type ConfigFile } from '../../src/config.js';
import { addContext, listContexts, rememberLogin, removeContext, useContext } from '../../src/contexts.js';
import { UsageError } from '../../src/errors.js';

const home = mkdtempSync(join(tmpdir(), 'fv-ctx-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
writeFileSync(join(home, '.vault-token'), 'home-token');
const cfgDir = join(home, '.config', 'fleetvault');
mkdirSync(join(cfgDir, 'tokens'), { recursive: true });
writeFileSync(join(cfgDir, 'tokens', 'prod'), 'prod-token');

const file: ConfigFile = {
  currentContext: 'prod',
  contexts: {
    prod: { address: 'https://prod:8200', namespace: 'fleet', sshMount: 'ssh-prod', authMethod: 'oidc', caCert: '/etc/prod-ca.pem' },
    staging: { address: 'https://staging:8200', sshMount: 'ssh-staging', tokenFile: join(home, 'staging-token') },
  },
};
const env = { HOME: home };

describe('resolveConfig with contexts', () => {
  it('address: flag > FLEETVAULT_ADDRESS > VAULT_ADDR > BAO_ADDR > context > default, and says which', () => {
    expect(resolveConfig({ address: 'http://flag:1' }, { ...env, VAULT_ADDR: 'http://env:2' }, { file })).toMatchObject({ address: 'http://flag:1', addressSource: '--address' });
    expect(resolveConfig({}, { ...env, FLEETVAULT_ADDRESS: 'http://fv:3', VAULT_ADDR: 'http://env:2' }, { file })).toMatchObject({ address: 'http://fv:3', addressSource: 'FLEETVAULT_ADDRESS' });
    expect(resolveConfig({}, { ...env, VAULT_ADDR: 'http://env:2' }, { file })).toMatchObject({ address: 'http://env:2', addressSource: 'VAULT_ADDR' });
    expect(resolveConfig({}, { ...env, BAO_ADDR: 'http://bao:4' }, { file })).toMatchObject({ address: 'http://bao:4', addressSource: 'BAO_ADDR' });
    expect(resolveConfig({}, env, { file })).toMatchObject({ address: 'https://prod:8200', addressSource: 'context prod', context: 'prod' });
    expect(resolveConfig({}, env, { file: { contexts: {} } })).toMatchObject({ address: 'http://127.0.0.1:8200', addressSource: 'default', context: undefined });
  });

  it('every other setting: flag > env > context > default', () => {
    const c = resolveConfig({}, env, { file });
    expect(c).toMatchObject({ namespace: 'fleet', sshMount: 'ssh-prod', sshRole: 'engineer', caCert: '/etc/prod-ca.pem', authMethod: 'oidc' });
    expect(resolveConfig({}, { ...env, VAULT_NAMESPACE: 'ns-env', FLEETVAULT_SSH_MOUNT: 'ssh-env' }, { file })).toMatchObject({ namespace: 'ns-env', sshMount: 'ssh-env' });
    expect(resolveConfig({ namespace: 'ns-flag', sshMount: 'ssh-flag' }, { ...env, VAULT_NAMESPACE: 'ns-env', FLEETVAULT_SSH_MOUNT: 'ssh-env' }, { file })).toMatchObject({ namespace: 'ns-flag', sshMount: 'ssh-flag' });
  });

  it('the context: --context > FLEETVAULT_CONTEXT > currentContext; an unknown name is a usage error', () => {
    expect(resolveConfig({}, { ...env, FLEETVAULT_CONTEXT: 'staging' }, { file }).address).toBe('https://staging:8200');
    expect(resolveConfig({ context: 'prod' }, { ...env, FLEETVAULT_CONTEXT: 'staging' }, { file }).address).toBe('https://prod:8200');
    expect(() => resolveConfig({ context: 'nope' }, env, { file })).toThrow(/no context named "nope".*/);
    expect(() => resolveConfig({ context: 'nope' }, env, { file })).toThrow(UsageError);
  });

  it("a context's token goes only to its own server", () => {
    expect(resolveConfig({}, env, { file })).toMatchObject({ token: 'prod-token', tokenFile: join(cfgDir, 'tokens', 'prod') });
    // VAULT_ADDR elsewhere: the prod token must not travel there; ~/.vault-token as without contexts.
    expect(resolveConfig({}, { ...env, VAULT_ADDR: 'https://other:8200' }, { file })).toMatchObject({ token: 'home-token', tokenFile: join(home, '.vault-token') });
    expect(resolveConfig({}, { ...env, VAULT_TOKEN: 'env-token' }, { file })).toMatchObject({ token: 'env-token', tokenSource: 'VAULT_TOKEN' });
    expect(resolveConfig({ context: 'staging' }, env, { file })).toMatchObject({ token: undefined, tokenFile: join(home, 'staging-token') });
  });

  it('a broken config file is named, never echoed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fv-ctx-bad-'));
    try {
      writeFileSync(join(dir, 'config.json'), '{"contexts": SECRET-LOOKING-TEXT');
      expect(() => readConfigFile(join(dir, 'config.json'))).toThrow(/config\.json: not valid JSON/);
      try { readConfigFile(join(dir, 'config.json')); } catch (e) { expect(String((e as Error).message)).not.toContain('SECRET'); }
      expect(readConfigFile(join(dir, 'missing.json'))).toEqual({ contexts: {} });
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('context changes', () => {
  it('add, use, list, remove: the file is 0600 in a 0700 directory and holds no token', () => {
    const h = mkdtempSync(join(tmpdir(), 'fv-ctx-edit-'));
    try {
      const e = { HOME: h, XDG_CONFIG_HOME: join(h, 'xdg') };
      const path = configFilePath(e);
      expect(path).toBe(join(h, 'xdg', 'fleetvault', 'config.json'));
      expect(addContext({ name: 'prod', settings: { address: 'https://prod:8200/', authMethod: 'oidc' }, env: e })).toMatchObject({ created: true, context: { current: true, address: 'https://prod:8200' } });
      expect(addContext({ name: 'staging', settings: { address: 'https://staging:8200' }, env: e }).context.current).toBe(false);
      expect(addContext({ name: 'staging', settings: { namespace: 'ns' }, env: e })).toMatchObject({ created: false, context: { address: 'https://staging:8200', namespace: 'ns' } });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(h, 'xdg', 'fleetvault')).mode & 0o777).toBe(0o700);
      useContext({ name: 'staging', env: e });
      expect(listContexts(e).contexts.map((c) => `${c.current ? '*' : ''}${c.name}`)).toEqual(['prod', '*staging']);
      expect(() => useContext({ name: 'nope', env: e })).toThrow(expect.objectContaining({ message: expect.stringMatching(/no context named "nope"/), hint: 'known: prod, staging' }));
      expect(() => addContext({ name: '../x', settings: { address: 'http://a:1' }, env: e })).toThrow(/invalid context name/);
      expect(() => addContext({ name: 'x', settings: {}, env: e })).toThrow(/needs an address/);
      mkdirSync(join(h, 'xdg', 'fleetvault', 'tokens'), { recursive: true });
      writeFileSync(join(h, 'xdg', 'fleetvault', 'tokens', 'staging'), 't');
      expect(removeContext({ name: 'staging', env: e }).tokenFileRemoved).toBe(join(h, 'xdg', 'fleetvault', 'tokens', 'staging'));
      expect(existsSync(join(h, 'xdg', 'fleetvault', 'tokens', 'staging'))).toBe(false);
      expect(readConfigFile(path).currentContext).toBeUndefined();
      expect(readFileSync(path, 'utf8')).not.toMatch(/token"?\s*:\s*"[^/]/);
    } finally { rmSync(h, { recursive: true, force: true }); }
  });

  it('login without a context remembers the server as "default", with the token in ~/.vault-token', () => {
    const h = mkdtempSync(join(tmpdir(), 'fv-ctx-login-'));
    try {
      const e = { HOME: h };
      const config = resolveConfig({}, { ...e, VAULT_ADDR: 'http://a:8200' });
      const r = rememberLogin({ config, method: 'userpass', authPath: 'people', env: e });
      expect(r).toEqual({ context: 'default', created: true, tokenFile: join(h, '.vault-token') });
      // A new shell, no VAULT_ADDR: the logged-in server, not http://127.0.0.1:8200.
      expect(resolveConfig({}, e)).toMatchObject({ address: 'http://a:8200', context: 'default', authMethod: 'userpass', authPath: 'people' });
      // Logging in to a second server with VAULT_ADDR: its own context, made current.
      const r2 = rememberLogin({ config: resolveConfig({}, { ...e, VAULT_ADDR: 'http://b:8200' }), method: 'token', env: e });
      expect(r2.context).toBe('default-2');
      expect(resolveConfig({}, e).address).toBe('http://b:8200');
    } finally { rmSync(h, { recursive: true, force: true }); }
  });
});

describe('addressOrigin', () => {
  it('names the context only when the context chose the server', () => {
    expect(addressOrigin(resolveConfig({}, env, { file }))).toBe('(context prod)');
    expect(addressOrigin(resolveConfig({ context: 'staging' }, { ...env, VAULT_ADDR: 'http://other:1' }, { file }))).toBe('(address from VAULT_ADDR)');
    expect(addressOrigin(resolveConfig({}, env, { file: { contexts: {} } }))).toBe('(the default address)');
  });
});
