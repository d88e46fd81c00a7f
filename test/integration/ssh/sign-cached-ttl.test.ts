// src/ssh/sign.ts with the signing cache: a cached run sends no ttl (Vault applies the role's own),
// and then judges the certificate against `role.ttl || 1800`. For a role without a ttl of its own
// (ttl 0: Vault falls back to the mount's default lease, capped by max_ttl) or one the token may not
// read, what Vault issues is not what the cache predicts: the run refreshes, predicts the same again
// and refuses a certificate Vault has already issued. The uncached run asks for 1800s and works.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { sshRoleSettings } from '../../../src/vault/layout.js';

test('a role with no ttl of its own: the second (cached) cert sign works like the first', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const m = vault.layout.sshMount;
  await vault.root.write(`${m}/roles/nottl`, { ...sshRoleSettings(), ttl: 0, max_ttl: 7200 });
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sign = () => runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ssh-role', 'nottl', '--json'], { env });
  const first = await sign();
  expect(first.code, first.stderr).toBe(0);
  const second = await sign();
  expect(second.code, second.stderr).toBe(0);
  // …and not a longer certificate than the uncached run gave.
  const valid = (s: string) => Date.parse(JSON.parse(s).validBefore) - Date.now();
  expect(valid(second.stdout)).toBeLessThanOrEqual(1800_000 + 5_000);
});

// The same file's other prediction from the cache: a role that allowed user key ids gets `key_id`
// with --reason. Once the operator turns allow_user_key_ids off, Vault refuses that request
// ("setting key_id is not allowed by role"): the cache is dropped, but the login fails although a
// fresh read would have sent an acceptable request.
test('a refusal caused by the cached role is retried once on the role as it is now', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const m = vault.layout.sshMount;
  await vault.root.write(`${m}/roles/kid`, { ...sshRoleSettings(), allow_user_key_ids: true });
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sign = () => runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ssh-role', 'kid', '--reason', 'INC-7', '--json'], { env });
  const first = await sign();
  expect(first.code, first.stderr).toBe(0);
  await vault.root.write(`${m}/roles/kid`, { ...sshRoleSettings(), allow_user_key_ids: false });
  const second = await sign();
  expect(second.code, second.stderr).toBe(0);
});
