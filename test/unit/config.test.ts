import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { durationToSeconds, parseSkipVerify, resolveConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';

const home = mkdtempSync(join(tmpdir(), 'fv-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
writeFileSync(join(home, '.vault-token'), 'file-token\n');

describe('resolveConfig precedence', () => {
  it('flag beats FLEETVAULT_* beats VAULT_* beats BAO_* beats default', () => {
    const env = { HOME: home, FLEETVAULT_ADDRESS: 'http://fv:1', VAULT_ADDR: 'http://vault:2', BAO_ADDR: 'http://bao:3' };
    expect(resolveConfig({ address: 'http://flag:0' }, env).address).toBe('http://flag:0');
    expect(resolveConfig({}, env).address).toBe('http://fv:1');
    expect(resolveConfig({}, { ...env, FLEETVAULT_ADDRESS: undefined }).address).toBe('http://vault:2');
    expect(resolveConfig({}, { HOME: home, BAO_ADDR: 'http://bao:3' }).address).toBe('http://bao:3');
    expect(resolveConfig({}, { HOME: home }).address).toBe('http://127.0.0.1:8200');
  });

  it('token: FLEETVAULT_TOKEN > VAULT_TOKEN > BAO_TOKEN > ~/.vault-token, with the source named', () => {
    expect(resolveConfig({}, { HOME: home, FLEETVAULT_TOKEN: 'a', VAULT_TOKEN: 'b' })).toMatchObject({ token: 'a', tokenSource: 'FLEETVAULT_TOKEN' });
    expect(resolveConfig({}, { HOME: home, VAULT_TOKEN: 'b', BAO_TOKEN: 'c' })).toMatchObject({ token: 'b', tokenSource: 'VAULT_TOKEN' });
    expect(resolveConfig({}, { HOME: home, BAO_TOKEN: 'c' })).toMatchObject({ token: 'c', tokenSource: 'BAO_TOKEN' });
    expect(resolveConfig({}, { HOME: home })).toMatchObject({ token: 'file-token', tokenSource: join(home, '.vault-token') });
    expect(resolveConfig({}, { HOME: join(home, 'nope') }).token).toBeUndefined();
  });

  it('layout names come from flags, then FLEETVAULT_* env, then defaults', () => {
    const c = resolveConfig({ sshRole: 'ops' }, { HOME: home, FLEETVAULT_SSH_MOUNT: 'ssh2', FLEETVAULT_SSH_ROLE: 'x' });
    expect(c).toMatchObject({ sshMount: 'ssh2', sshRole: 'ops', transitMount: 'transit', transitKey: 'balena-provisioning', kvMount: 'fleetvault', policyPrefix: 'fleetvault' });
  });

  it('refuses malformed addresses and mount names', () => {
    expect(() => resolveConfig({ address: 'ftp://x' }, { HOME: home })).toThrow(UsageError);
    expect(() => resolveConfig({ address: 'not a url' }, { HOME: home })).toThrow(/invalid Vault address/);
    expect(() => resolveConfig({ sshMount: '../sys' }, { HOME: home })).toThrow(UsageError);
  });

  it('namespace, CA and client certs follow VAULT_* names', () => {
    const c = resolveConfig({}, { HOME: home, VAULT_NAMESPACE: 'ns1', VAULT_CACERT: '/ca.pem', VAULT_CLIENT_CERT: '/c.pem', VAULT_CLIENT_KEY: '/k.pem' });
    expect(c).toMatchObject({ namespace: 'ns1', caCert: '/ca.pem', clientCert: '/c.pem', clientKey: '/k.pem' });
  });
});

describe('VAULT_SKIP_VERIFY', () => {
  it.each(['true', '1', 'TRUE', 'yes', 't'])('%s disables verification', (v) => {
    expect(resolveConfig({}, { HOME: home, VAULT_SKIP_VERIFY: v }).tlsSkipVerify).toBe(true);
  });
  it.each(['false', '0', 'no', 'FALSE', 'f', ''])('%s keeps verification on', (v) => {
    expect(resolveConfig({}, { HOME: home, VAULT_SKIP_VERIFY: v }).tlsSkipVerify).toBe(false);
  });
  it('refuses nonsense instead of guessing', () => {
    expect(() => parseSkipVerify('maybe', 'VAULT_SKIP_VERIFY')).toThrow(/invalid VAULT_SKIP_VERIFY/);
  });
  it('the flag wins over the environment', () => {
    expect(resolveConfig({ tlsSkipVerify: false }, { HOME: home, VAULT_SKIP_VERIFY: 'true' }).tlsSkipVerify).toBe(false);
  });
});

describe('durationToSeconds', () => {
  it.each([['30m', 1800], ['1h', 3600], ['90s', 90], ['1h30m', 5400], ['3600', 3600], ['2d', 172800]] as const)('%s = %i', (s, n) => {
    expect(durationToSeconds(s)).toBe(n);
  });
  it.each(['', 'abc', '30x', '-5m', '1.5h', '30m junk'])('refuses %j', (s) => {
    expect(() => durationToSeconds(s)).toThrow(UsageError);
  });
});
