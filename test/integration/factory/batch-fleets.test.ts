// Issue 11 items 4, 20, 21 and issue 12's raw CIDR error, against the real OpenBao:
// - a batch is bound to its fleets by Vault itself (its policy lists their transit contexts): a
//   batch for acme/a gets 403 on an acme/b envelope, also through batch_input;
// - creating a batch writes a policy, so it needs fleetvault-admin; an operator gets one clear line;
// - --cidr outside the factory ranges is one clean line, not Vault's raw multi-error;
// - commands that need no AppRole (ca public-key) and unseals that cannot write their output spend
//   no batch use;
// - logins refused after the batch is used up are attributed to it by `factory reconcile`.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe, type VaultFixture } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { VaultClient } from '../../../src/vault/client.js';
import { appRoleLogin } from '../../../src/vault/connect.js';
import { policyName, type Persona } from '../../../src/vault/layout.js';

async function tokenFor(vault: VaultFixture, persona: Persona): Promise<string> {
  return (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, persona)], ttl: '10m' })).auth!.client_token;
}

function withToken(vault: VaultFixture, token: string) {
  return { ...vault.env, VAULT_TOKEN: token };
}

async function batch(vault: VaultFixture, name: string, count: number, fleets: string[]) {
  const admin = await tokenFor(vault, 'admin');
  const r = await runCli(['factory', 'batch', 'create', '--name', name, '--count', String(count), '--cidr', '127.0.0.1/32', ...fleets.flatMap((f) => ['--fleet', f]), '--json'], { env: withToken(vault, admin) });
  expect(r.code, r.stderr).toBe(0);
  const b = JSON.parse(r.stdout) as { roleId: string; wrappingToken: string; fleets: string[] };
  const { secret_id: secretId } = (await vault.root.write<{ secret_id: string }>('sys/wrapping/unwrap', {}, { token: b.wrappingToken })).data;
  return { ...b, secretId, role: `${vault.layout.approleRole}-${name}` };
}

async function seal(vault: VaultFixture, tmp: string, fleet: string): Promise<string> {
  const plain = join(tmp, `${fleet.replace('/', '_')}.json`);
  writeFileSync(plain, JSON.stringify({ applicationId: 1, apiKey: `key-${fleet}` }));
  const out = join(tmp, `${fleet.replace('/', '_')}.sealed.json`);
  const r = await runCli(['provision', 'seal', plain, '--fleet', fleet, '--out', out], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  return out;
}

function flasherEnv(vault: VaultFixture, b: { roleId: string; secretId: string }) {
  const { VAULT_TOKEN: _t, ...env } = vault.env;
  return { ...env, FLEETVAULT_ROLE_ID: b.roleId, FLEETVAULT_SECRET_ID: b.secretId };
}

async function usesLeft(vault: VaultFixture, role: string, secretId: string): Promise<number> {
  return (await vault.root.write<{ secret_id_num_uses: number }>(`auth/${vault.layout.approleMount}/role/${role}/secret-id/lookup`, { secret_id: secretId })).data.secret_id_num_uses;
}

describe('factory batches bound to fleets', () => {
  test('a batch for acme/a cannot unseal an acme/b envelope: Vault answers 403', async ({ vault, tmp }) => {
    const a = await seal(vault, tmp, 'acme/a');
    const b = await seal(vault, tmp, 'acme/b');
    const bt = await batch(vault, 'line-a', 5, ['acme/a']);
    expect(bt.fleets).toEqual(['acme/a']);

    const other = await runCli(['provision', 'unseal', b, '--out', join(tmp, 'b.out.json')], { env: flasherEnv(vault, bt) });
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/may not decrypt fleet acme\/b envelopes/);
    expect(existsSync(join(tmp, 'b.out.json'))).toBe(false);
    const own = await runCli(['provision', 'unseal', a, '--out', join(tmp, 'a.out.json')], { env: flasherEnv(vault, bt) });
    expect(own.code, own.stderr).toBe(0);

    // The raw API, as a copied stick would use it: 403 for the other fleet's context, and for a
    // batch_input that hides the context inside its items.
    const { parseEnvelope } = await import('../../../src/provision/envelope.js');
    const { readFileSync } = await import('node:fs');
    const envB = parseEnvelope(readFileSync(b, 'utf8'), b);
    const l = vault.layout;
    const ctx = (f: string) => Buffer.from(f).toString('base64');
    const tries: Record<string, Record<string, unknown>> = {
      'context of acme/b': { ciphertext: envB.ciphertext, context: ctx('acme/b') },
      'batch_input with acme/b': { batch_input: [{ ciphertext: envB.ciphertext, context: ctx('acme/b') }] },
      'batch_input next to an allowed context': { ciphertext: envB.ciphertext, context: ctx('acme/a'), batch_input: [{ ciphertext: envB.ciphertext, context: ctx('acme/b') }] },
    };
    for (const [what, body] of Object.entries(tries)) {
      const c = new VaultClient({ address: vault.address, retries: 0 });
      await appRoleLogin(c, l.approleMount, bt.roleId, bt.secretId);
      await expect(c.write(`${l.transitMount}/decrypt/${l.transitKey}`, body), what).rejects.toMatchObject({ status: 403 });
    }
  });

  test('a batch for two fleets unseals both; creating one needs fleetvault-admin, an operator gets one line', async ({ vault, tmp }) => {
    const a = await seal(vault, tmp, 'acme/a');
    const b = await seal(vault, tmp, 'acme/b');
    const bt = await batch(vault, 'two', 2, ['acme/a', 'acme/b']);
    for (const f of [a, b]) {
      const r = await runCli(['provision', 'unseal', f, '--out', `${f}.out`], { env: flasherEnv(vault, bt) });
      expect(r.code, r.stderr).toBe(0);
    }
    // The batch role caps any further secret_id at the batch (even for a token that may mint one):
    // no unlimited or never-expiring copy.
    const mint = (body: Record<string, unknown>) => vault.root.write(`auth/${vault.layout.approleMount}/role/${bt.role}/secret-id`, body);
    await expect(mint({ num_uses: 0, ttl: 0 })).rejects.toThrow(/num_uses cannot be higher/);
    await expect(mint({ ttl: 999_999_999 })).rejects.toThrow(/ttl cannot be longer/);
    const operator = await tokenFor(vault, 'operator');
    const r = await runCli(['factory', 'batch', 'create', '--name', 'op', '--count', '1', '--cidr', '127.0.0.1/32', '--fleet', 'acme/a'], { env: withToken(vault, operator) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/fleetvault-admin/);
    // Nothing half-made: no role and no policy for the refused batch.
    expect(await vault.root.list(`auth/${vault.layout.approleMount}/role`)).not.toContain(`${vault.layout.approleRole}-op`);
    const noFleet = await runCli(['factory', 'batch', 'create', '--name', 'nf', '--count', '1', '--cidr', '127.0.0.1/32'], { env: vault.env });
    expect(noFleet.code).toBe(1);
    expect(noFleet.stderr).toMatch(/fleet/);
  });

  test('--cidr outside the factory ranges is one clean line, not Vault\'s raw multi-error', async ({ vault }) => {
    const r = await runCli(['factory', 'batch', 'create', '--name', 'wide', '--count', '1', '--cidr', '10.0.0.0/8', '--fleet', 'acme/a'], { env: vault.env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--cidr 10\.0\.0\.0\/8 is outside the factory ranges 127\.0\.0\.0\/8/);
    expect(r.stderr).not.toMatch(/error occurred|%!w|\\x0a|\\x09/);
    // And Vault's own wording of that refusal, when it does come (a secret_id on the flasher role),
    // is cleaned the same way.
    const base = `auth/${vault.layout.approleMount}/role/${vault.layout.approleRole}`;
    const err = await vault.root.write(`${base}/secret-id`, { cidr_list: ['10.0.0.0/8'] }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/subset/);
    expect(err?.message).not.toMatch(/error occurred|%!w|\n|\t/);
  });

  test('ca public-key and an unseal that cannot write spend no batch use', async ({ vault, tmp }) => {
    const a = await seal(vault, tmp, 'acme/a');
    const bt = await batch(vault, 'spare', 3, ['acme/a']);
    const env = { ...flasherEnv(vault, bt), VAULT_TOKEN: vault.rootToken };
    const pk = await runCli(['ca', 'public-key'], { env });
    expect(pk.code, pk.stderr).toBe(0);
    expect(pk.stdout).toMatch(/^ssh-ed25519 /);
    expect(await usesLeft(vault, bt.role, bt.secretId)).toBe(3);
    const missing = await runCli(['provision', 'unseal', a, '--out', join(tmp, 'no', 'such', 'dir', 'config.json')], { env: flasherEnv(vault, bt) });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/does not exist/);
    expect(await usesLeft(vault, bt.role, bt.secretId)).toBe(3);
  });

  test('reconcile attributes logins refused after the batch is used up (a copied stick) to the batch', async ({ vault, tmp }) => {
    const a = await seal(vault, tmp, 'acme/a');
    const bt = await batch(vault, 'copied', 1, ['acme/a']);
    const ok = await runCli(['provision', 'unseal', a, '--out', join(tmp, 'one.json')], { env: flasherEnv(vault, bt) });
    expect(ok.code, ok.stderr).toBe(0);
    // The copy of the stick, used after the batch is spent: refused, logged without any token.
    for (let i = 0; i < 2; i++) {
      const again = await runCli(['provision', 'unseal', a, '--out', join(tmp, `copy${i}.json`)], { env: flasherEnv(vault, bt) });
      expect(again.code).toBe(2);
    }
    await new Promise((r) => setTimeout(r, 300));
    const operator = await tokenFor(vault, 'operator');
    const r = await runCli(['factory', 'reconcile', '--batch', 'copied', '--audit-log', vault.auditLog, '--json'], { env: withToken(vault, operator) });
    const report = JSON.parse(r.stdout);
    expect(report.logins).toEqual({ ok: 1, refused: 2 });
    expect(report.findings).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'refused-logins' })]));
    expect(r.code).toBe(2);
  });
});
