// Scoped-access fixtures shared by the access tests: a person in a Vault group, and devices whose
// cert-authority line is scoped to their own uuid and fleet.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished, expect } from 'vitest';
import type { VaultFixture } from './context.js';
import { runCli } from './cli.js';
import type { BalenaApi } from './balena-api.js';
import { defaultDeviceConfig, type Device } from '../../src/dev/device.js';
import { policyName } from '../../src/vault/layout.js';
import { startBalenaApi } from './balena-api.js';

/** A fresh balena-style device uuid (32 hex). */
export const deviceUuid = (): string => randomBytes(16).toString('hex');

/**
 * A person: a userpass user whose login makes a Vault entity, member of an internal group. At the
 * end of the test the entity, the auth mount, the group and the grant groups of this test go.
 */
export async function groupMember(vault: VaultFixture, slug: string, group: string): Promise<{ token: string; entityId: string }> {
  const mount = `userpass-${slug}`;
  await vault.root.write(`sys/auth/${mount}`, { type: 'userpass' });
  await vault.root.write(`auth/${mount}/users/alice`, { password: 'alice-pw-123', token_policies: [] });
  const login = await vault.root.write(`auth/${mount}/login/alice`, { password: 'alice-pw-123' }, { anonymous: true });
  const entityId = login.auth!.entity_id as string;
  onTestFinished(async () => {
    await vault.root.delete(`identity/entity/id/${entityId}`).catch(() => {});
    await vault.root.delete(`sys/auth/${mount}`).catch(() => {});
    for (const n of await vault.root.list('identity/group/name').catch(() => [] as string[])) {
      if (n === group || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
  await vault.root.write(`identity/group/name/${group}`, { type: 'internal', member_entity_ids: [entityId] });
  return { token: login.auth!.client_token, entityId };
}

/** A device of `fleet` trusting the CA for its own scoped principals, listed in the balena stand-in. */
export async function startScopedDevice(
  vault: VaultFixture,
  devices: { start(o: { config: Record<string, unknown>; name: string }): Promise<Device> },
  api: BalenaApi,
  fleet: string,
): Promise<Device & { uuid: string }> {
  const id = deviceUuid();
  const line = await runCli(['ca', 'authorized-key', '--device', id, '--fleet', fleet], { env: vault.env });
  expect(line.code, line.stderr).toBe(0);
  const config = defaultDeviceConfig(id);
  (config.os as { sshKeys: string[] }).sshKeys = [line.stdout.trim()];
  const d = await devices.start({ config, name: id.slice(0, 8) });
  api.addDevice({ uuid: id, ip_address: d.host, is_online: true });
  return Object.assign(d, { uuid: id });
}

/** The environment of an admin (`fleetvault-admin` policy token, 10 minutes) on the test's Vault. */
export async function adminEnv(vault: VaultFixture): Promise<Record<string, string>> {
  const token = (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token as string;
  return { ...vault.env, VAULT_TOKEN: token };
}

/**
 * A fleet of `count` scoped devices listed in a balena stand-in, alice in `group`, and an admin to
 * grant her access: what the ssh-config scope tests start from. The stand-in stops with the test.
 */
export async function scopedFleet(
  vault: VaultFixture,
  devices: { start(o: { config: Record<string, unknown>; name: string }): Promise<Device> },
  o: { slug: string; group: string; fleet: string; count: number },
): Promise<{ aliceToken: string; admin: Record<string, string>; api: BalenaApi; devices: (Device & { uuid: string })[] }> {
  const aliceToken = (await groupMember(vault, o.slug, o.group)).token;
  const admin = await adminEnv(vault);
  const api = await startBalenaApi({ fleetSlug: o.fleet });
  onTestFinished(() => api.stop());
  const all = await Promise.all(Array.from({ length: o.count }, () => startScopedDevice(vault, devices, api, o.fleet)));
  return { aliceToken, admin, api, devices: all };
}

/**
 * Every device granted to `group`, the `ssh-config --scope device` snippet at <tmp>/ssh_config, and
 * the environment alice's plain ssh runs in with it: her token, the balena stand-in, the direct
 * route, the test's agent. What the ssh-config scope tests log in with.
 */
export async function deviceScopedSshConfig(
  vault: VaultFixture,
  o: { tmp: string; group: string; aliceToken: string; admin: Record<string, string>; api: BalenaApi; devices: { uuid: string }[]; agentSock: string },
): Promise<{ cfg: string; env: Record<string, string> }> {
  for (const d of o.devices) expect((await runCli(['access', 'grant', '--device', d.uuid, '--group', o.group], { env: o.admin })).code).toBe(0);
  const snippet = await runCli(['ssh-config', '--scope', 'device'], { env: vault.env });
  expect(snippet.code, snippet.stderr).toBe(0);
  const cfg = join(o.tmp, 'ssh_config');
  writeFileSync(cfg, snippet.stdout);
  const env = {
    PATH: process.env.PATH!, SSH_AUTH_SOCK: o.agentSock, HOME: o.tmp, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...vault.env, VAULT_TOKEN: o.aliceToken, BALENA_TOKEN: o.api.apiKey, FLEETVAULT_BALENA_URL: o.api.url, FLEETVAULT_VIA: 'direct',
  };
  return { cfg, env };
}
