// With `error` un-HMAC'd on the mounts (init/terraform tuning), the report says why Vault refused.
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { VaultClient } from '../../../src/vault/client.js';

test('a CIDR-refused AppRole login appears in the audit report with its reason', async ({ vault }) => {
  const m = vault.layout.approleMount;
  const roleId = (await vault.root.read<{ role_id: string }>(`auth/${m}/role/flasher/role-id`)).data.role_id;
  const secretId = (await vault.root.write<{ secret_id: string }>(`auth/${m}/role/flasher/secret-id`, { cidr_list: ['127.0.0.99/32'], token_bound_cidrs: ['127.0.0.99/32'] })).data.secret_id;
  const anon = new VaultClient({ address: vault.address, retries: 0 });
  await expect(anon.write(`auth/${m}/login`, { role_id: roleId, secret_id: secretId }, { anonymous: true })).rejects.toThrow();
  await new Promise((r) => setTimeout(r, 200));
  const r = await runCli(['audit', '--log', vault.auditLog, '--kind', 'denied', '--path', `auth/${m}/login`, '--json'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  const events = JSON.parse(r.stdout) as { ok: boolean; remoteAddress: string; details: { error?: string } }[];
  expect(events.length).toBeGreaterThan(0);
  const e = events.at(-1)!;
  expect(e).toMatchObject({ ok: false, remoteAddress: '127.0.0.1' });
  expect(e.details.error).not.toMatch(/HMAC/);
  expect(e.details.error).toMatch(/source address|CIDR|unauthorized|not allowed/i);
  expect(r.stdout).not.toContain(secretId);
});
