// Issue 11 item 3: OpenBao's AppRole user lockout is keyed on the role_id, which is on every
// factory USB stick, so five bad logins from anywhere locked a batch out for 15 minutes. init (and
// terraform/) turn lockout off for the approle mount; where it is on, the refusal says so and how
// to unlock, in one line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { test, expect, type VaultFixture } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { createBatch, unwrapSecretId } from '../../../src/provision/batch.js';

async function batchAndEnvelope(vault: VaultFixture, tmp: string, name: string) {
  const l = vault.layout;
  const b = await createBatch({
    client: vault.root, mount: l.approleMount, role: l.approleRole, name, count: 3, cidrs: ['127.0.0.1/32'], fleets: ['acme/a'],
    transitMount: l.transitMount, transitKey: l.transitKey, policyPrefix: l.policyPrefix, ttlSeconds: 600, wrapTtl: '5m',
  });
  const { secretId } = await unwrapSecretId({ client: vault.root, wrappingToken: b.wrappingToken, mount: l.approleMount, role: l.approleRole });
  const plain = join(tmp, 'config.json');
  writeFileSync(plain, JSON.stringify({ applicationId: 1, apiKey: 'k' }));
  const sealed = join(tmp, 'sealed.json');
  expect((await runCli(['provision', 'seal', plain, '--fleet', 'acme/a', '--out', sealed], { env: vault.env })).code).toBe(0);
  const { VAULT_TOKEN: _t, ...env } = vault.env;
  return { roleId: b.roleId, secretId, sealed, flasher: { ...env, FLEETVAULT_ROLE_ID: b.roleId, FLEETVAULT_SECRET_ID: secretId } };
}

async function badLogins(vault: VaultFixture, roleId: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${vault.address}/v1/auth/${vault.layout.approleMount}/login`, { method: 'POST', body: JSON.stringify({ role_id: roleId, secret_id: randomUUID() }) });
    statuses.push(r.status);
  }
  return statuses;
}

test('many bad logins with a batch\'s role_id, then the real secret_id still logs in', async ({ vault, tmp }) => {
  const tune = (await vault.root.read(`sys/auth/${vault.layout.approleMount}/tune`)).data;
  expect(tune.user_lockout_disable).toBe(true);
  const b = await batchAndEnvelope(vault, tmp, 'lockout');
  expect(await badLogins(vault, b.roleId, 12)).toEqual(Array(12).fill(400));
  const u = await runCli(['provision', 'unseal', b.sealed, '--out', join(tmp, 'out.json')], { env: b.flasher });
  expect(u.code, u.stderr).toBe(0);
});

test('where lockout is on, a locked-out login says so and how to unlock; init turns it off', async ({ vault, tmp }) => {
  const l = vault.layout;
  await vault.root.write(`sys/auth/${l.approleMount}/tune`, { user_lockout_config: { lockout_threshold: 3, lockout_duration: '10m', lockout_disable: false } });
  const b = await batchAndEnvelope(vault, tmp, 'locked');
  await badLogins(vault, b.roleId, 4);
  const u = await runCli(['provision', 'unseal', b.sealed, '--out', join(tmp, 'out.json')], { env: b.flasher });
  expect(u.code).toBe(2);
  expect(u.stderr.trim().split('\n')).toHaveLength(1);
  expect(u.stderr).toMatch(/locked this role_id out after repeated failed logins/);
  expect(u.stderr).toMatch(new RegExp(`sys/locked-users/.*/unlock/${b.roleId}`));
  // The unlock the message names works…
  const accessor = (await vault.root.read<Record<string, { accessor: string }>>('sys/auth')).data[`${l.approleMount}/`]!.accessor;
  await vault.root.write(`sys/locked-users/${accessor}/unlock/${b.roleId}`, {});
  const unlocked = await runCli(['provision', 'unseal', b.sealed, '--out', join(tmp, 'out.json')], { env: b.flasher });
  expect(unlocked.code, unlocked.stderr).toBe(0);
  // …and so does turning lockout off, after the next lockout.
  await badLogins(vault, b.roleId, 4);

  const dry = await runCli(['init', '--dry-run', '--json'], { env: vault.env });
  expect(JSON.parse(dry.stdout).changes).toEqual([{ kind: 'tune', path: `sys/auth/${l.approleMount}/tune`, action: 'updated', fields: ['user_lockout_config'] }]);
  const fix = await runCli(['init', '--json'], { env: vault.env });
  expect(fix.code, fix.stderr).toBe(0);
  const again = await runCli(['provision', 'unseal', b.sealed, '--out', join(tmp, 'out.json')], { env: b.flasher });
  expect(again.code, again.stderr).toBe(0);
});
