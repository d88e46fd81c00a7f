// Factory batches against the real OpenBao: quotas, one-time unwrap, the kill switch, and CIDR
// bindings checked by Vault itself from real loopback source addresses (127.0.0.5 inside the
// batch's range, 127.0.0.6 outside).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe, type VaultFixture } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { VaultClient } from '../../../src/vault/client.js';
import { appRoleLogin } from '../../../src/vault/connect.js';
import { unsealEnvelope } from '../../../src/provision/seal.js';
import { parseEnvelope } from '../../../src/provision/envelope.js';
import { VaultError } from '../../../src/errors.js';

async function createBatch(vault: VaultFixture, name: string, count: number, cidr: string) {
  const r = await runCli(['factory', 'batch', 'create', '--name', name, '--count', String(count), '--cidr', cidr, '--fleet', 'acme/line3', '--ttl', '1h', '--wrap-ttl', '10m', '--json'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  const batch = JSON.parse(r.stdout);
  expect(Object.keys(batch).sort()).toEqual(['cidrs', 'count', 'expiresAt', 'fleets', 'name', 'roleId', 'wrappingToken']);
  // Unwrap on the "factory" side, the token through stdin (never argv).
  const u = await runCli(['factory', 'batch', 'unwrap', '-', '--json'], { env: { VAULT_ADDR: vault.address, FLEETVAULT_APPROLE_MOUNT: vault.layout.approleMount }, input: batch.wrappingToken });
  expect(u.code, u.stderr).toBe(0);
  const { secretId } = JSON.parse(u.stdout);
  expect(secretId).toMatch(/^[0-9a-f-]{36}$/);
  return { ...batch, secretId } as { name: string; roleId: string; wrappingToken: string; count: number; cidrs: string[]; expiresAt: string; secretId: string };
}

async function sealed(vault: VaultFixture, tmp: string): Promise<string> {
  const plain = join(tmp, 'config.json');
  writeFileSync(plain, JSON.stringify({ applicationId: 1, apiKey: 'prov-key' }));
  const r = await runCli(['provision', 'seal', plain, '--fleet', 'acme/line3', '--out', join(tmp, 'sealed.json')], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  return join(tmp, 'sealed.json');
}

/** The flasher's environment: AppRole only, no token anywhere. */
function flasherEnv(vault: VaultFixture, b: { roleId: string; secretId: string }) {
  const { VAULT_TOKEN: _t, ...env } = vault.env;
  return { ...env, FLEETVAULT_ROLE_ID: b.roleId, FLEETVAULT_SECRET_ID: b.secretId };
}

describe('factory batches', () => {
  test('create → unwrap works once; the batch metadata and CIDRs are on the secret_id', async ({ vault }) => {
    const b = await createBatch(vault, 'line3-w24', 3, '127.0.0.1');
    expect(b).toMatchObject({ name: 'line3-w24', count: 3, cidrs: ['127.0.0.1/32'] });
    expect(Date.parse(b.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const again = await runCli(['factory', 'batch', 'unwrap', '-'], { env: { VAULT_ADDR: vault.address }, input: b.wrappingToken });
    expect(again.code).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/failed to unwrap/);
    const base = `auth/${vault.layout.approleMount}/role/${vault.layout.approleRole}-line3-w24`;
    const look = await vault.root.write(`${base}/secret-id/lookup`, { secret_id: b.secretId });
    expect(look.data).toMatchObject({ cidr_list: ['127.0.0.1/32'], token_bound_cidrs: ['127.0.0.1/32'], secret_id_num_uses: 3 });
    expect((look.data.metadata as Record<string, string>)).toMatchObject({ batch: 'line3-w24', count: '3', fleets: 'acme/line3' });
    // A duplicate name is refused (revoke must be unambiguous).
    const dup = await runCli(['factory', 'batch', 'create', '--name', 'line3-w24', '--count', '1', '--cidr', '127.0.0.1/32', '--fleet', 'acme/line3'], { env: vault.env });
    expect(dup.code).toBe(1);
  });

  test('a batch of N gives exactly N decrypts and refuses the next, writing nothing', async ({ vault, tmp }) => {
    const file = await sealed(vault, tmp);
    const b = await createBatch(vault, 'quota', 3, '127.0.0.1/32');
    const env = flasherEnv(vault, b);
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['provision', 'unseal', file, '--out', join(tmp, `out${i}.json`)], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(tmp, `out${i}.json`), 'utf8'))).toEqual({ applicationId: 1, apiKey: 'prov-key' });
    }
    const fourth = await runCli(['provision', 'unseal', file, '--out', join(tmp, 'out3.json')], { env });
    expect(fourth.code).toBe(2);
    expect(fourth.stderr).toMatch(/AppRole login refused/);
    expect(existsSync(join(tmp, 'out3.json'))).toBe(false);
    // Each run's token allowed one request: the decrypt. A second use of it is refused.
    const c = new VaultClient({ address: vault.address });
    const b2 = await createBatch(vault, 'one-use', 1, '127.0.0.1/32');
    await appRoleLogin(c, vault.layout.approleMount, b2.roleId, b2.secretId);
    const env2 = parseEnvelope(readFileSync(file, 'utf8'), file);
    await unsealEnvelope({ client: c, envelope: env2 });
    await expect(unsealEnvelope({ client: c, envelope: env2 })).rejects.toBeInstanceOf(VaultError);
  });

  test('revoke stops the rest of the batch at once and revokes its outstanding tokens', async ({ vault, tmp }) => {
    const file = await sealed(vault, tmp);
    const b = await createBatch(vault, 'stolen', 10, '127.0.0.1/32');
    const env = flasherEnv(vault, b);
    expect((await runCli(['provision', 'unseal', file, '--out', join(tmp, 'ok.json')], { env })).code).toBe(0);
    // A token obtained before the revoke, not used yet.
    const early = new VaultClient({ address: vault.address });
    await appRoleLogin(early, vault.layout.approleMount, b.roleId, b.secretId);
    const r = await runCli(['factory', 'batch', 'revoke', 'stolen', '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'stolen', destroyed: 1, tokensRevoked: 1 });
    const after = await runCli(['provision', 'unseal', file, '--out', join(tmp, 'after.json')], { env });
    expect(after.code).toBe(2);
    expect(existsSync(join(tmp, 'after.json'))).toBe(false);
    await expect(unsealEnvelope({ client: early, envelope: parseEnvelope(readFileSync(file, 'utf8'), file) })).rejects.toMatchObject({ status: 403 });
    const gone = await runCli(['factory', 'batch', 'revoke', 'stolen'], { env: vault.env });
    expect(gone.code).toBe(1);
  });

  test('CIDR bindings, checked by Vault: login and token use only from inside the factory range', async ({ vault, tmp }) => {
    const file = await sealed(vault, tmp);
    const envelope = parseEnvelope(readFileSync(file, 'utf8'), file);
    const b = await createBatch(vault, 'cidr', 5, '127.0.0.5/32');
    const inside = () => new VaultClient({ address: vault.address, localAddress: '127.0.0.5', retries: 0 });
    const outside = () => new VaultClient({ address: vault.address, localAddress: '127.0.0.6', retries: 0 });

    // Inside the range: login and decrypt succeed.
    const ok = inside();
    await appRoleLogin(ok, vault.layout.approleMount, b.roleId, b.secretId);
    expect(JSON.parse((await unsealEnvelope({ client: ok, envelope })).toString())).toEqual({ applicationId: 1, apiKey: 'prov-key' });

    // Outside: the login itself is refused.
    const out = outside();
    await expect(appRoleLogin(out, vault.layout.approleMount, b.roleId, b.secretId)).rejects.toThrow(/AppRole login refused/);

    // A token obtained inside the range is refused when used from outside (token_bound_cidrs)…
    const tokenInside = inside();
    const token = await appRoleLogin(tokenInside, vault.layout.approleMount, b.roleId, b.secretId);
    const thief = outside();
    thief.setToken(token);
    await expect(unsealEnvelope({ client: thief, envelope })).rejects.toMatchObject({ status: 403 });
    // …and the audit log shows Vault saw the outside address.
    expect(readFileSync(vault.auditLog, 'utf8')).toContain('"remote_address":"127.0.0.6"');
  });

  test('unwrap refuses a missing token and a token that wraps something else', async ({ vault }) => {
    const none = await runCli(['factory', 'batch', 'unwrap'], { env: { VAULT_ADDR: vault.address } });
    expect(none.code).toBe(1);
    const other = await vault.root.write('sys/wrapping/wrap', { anything: 'x' }, { wrapTtl: '60s' });
    const r = await runCli(['factory', 'batch', 'unwrap', '-'], { env: { VAULT_ADDR: vault.address }, input: other.wrap_info!.token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not .*secret-id|left unopened/);
    // Left unopened: it still works for whoever owns it.
    const still = await vault.root.write('sys/wrapping/unwrap', {}, { token: other.wrap_info!.token });
    expect(still.data).toEqual({ anything: 'x' });
  });
});
