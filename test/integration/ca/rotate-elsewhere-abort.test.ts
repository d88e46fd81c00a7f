// Review findings on `ca rotate`, on real OpenBao (and real sshd devices where devices matter):
// a rotation started from another HOME is visible to status and blocks a second prepare; a new
// rotation after a completed one archives the old journals so abort is not confused by them; an
// abort after a distribute that reached no device, or with devices that stay unreachable (--force),
// finishes.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { policyName } from '../../../src/vault/layout.js';
import type { VaultFixture } from '../../support/context.js';
import { fleetvaultLines, newKey, operatorEnv, rotate, rotateAction, skipOnVault, trustingFleet } from './rotate-fleet.js';

/** `ca rotate …` as an operator in their own HOME (default journals under it), with a device list. */
/** Deleting an issuer is admin's (the operator policy may only read issuers): abort runs as admin. */
async function adminEnv(vault: VaultFixture, env: Record<string, string>): Promise<Record<string, string>> {
  const admin = (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token;
  return { ...env, VAULT_TOKEN: admin };
}

function inHome(env: Record<string, string>, home: string, devicesFile: string, ...args: string[]) {
  return runCli(['ca', 'rotate', ...args, '--devices', devicesFile, '--json'], { env: { ...env, HOME: home }, timeoutMs: 60_000 });
}

test('a rotation prepared from another HOME: status reports its issuer (token) or says Vault was not asked (no token); prepare refuses a second one', { timeout: 120_000 }, async ({ vault, tmp, skip }) => {
  skipOnVault(skip);
  const env = await operatorEnv(vault);
  const mount = vault.layout.sshMount;
  const homeA = join(tmp, 'home-a');
  const homeB = join(tmp, 'home-b');
  for (const h of [homeA, homeB]) mkdirSync(h);
  // prepare and status never contact a device: an unreachable one is enough.
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, 'dev0 127.0.0.1 1 /mnt/boot/config.json\n');

  const prep = await inHome(env, homeA, file, '--stage', 'prepare');
  expect(prep.code, prep.stderr).toBe(0);
  const pending = JSON.parse(prep.stdout).next as { issuerId: string; issuerName: string };
  const issuers = (await vault.root.list(`${mount}/issuers`)).sort();

  const st = await inHome(env, homeB, file, 'status');
  expect(st.code, st.stderr).toBe(0);
  const s = JSON.parse(st.stdout);
  expect(s).toMatchObject({ found: false, elsewhere: { asked: true, issuers: [{ issuerId: pending.issuerId, issuerName: pending.issuerName }] } });
  expect(s.notes.join(' ')).toContain(`bao delete ${mount}/issuer/${pending.issuerId}`);
  expect(s.notes.join(' ')).not.toMatch(/start one/);

  const anon = await inHome({ ...env, VAULT_TOKEN: '' }, homeB, file, 'status');
  expect(anon.code, anon.stderr).toBe(0);
  const a = JSON.parse(anon.stdout);
  expect(a).toMatchObject({ found: false, elsewhere: { asked: false, issuers: [] } });
  expect(a.notes.join(' ')).toMatch(/Vault was not asked/);

  const second = await inHome(env, homeB, file, '--stage', 'prepare');
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(pending.issuerName);
  expect(second.stderr).toContain(`bao delete ${mount}/issuer/${pending.issuerId}`);
  expect(second.stderr.trim().split('\n')).toHaveLength(1);
  expect((await vault.root.list(`${mount}/issuers`)).sort()).toEqual(issuers);
  expect(existsSync(join(homeB, '.local/state/fleetvault'))).toBe(false); // no journal written either

  // Its own HOME knows the issuer: no warning there, and the rotation goes on.
  const own = JSON.parse((await inHome(env, homeA, file, 'status')).stdout);
  expect(own).toMatchObject({ found: true, pending: 'distribute', elsewhere: { asked: true, issuers: [] } });

  // Told explicitly, B starts its own (a different second, so a different planned name).
  await new Promise((r) => setTimeout(r, 1100));
  const forced = await inHome(env, homeB, file, '--stage', 'prepare', '--ignore-pending-issuer');
  expect(forced.code, forced.stderr).toBe(0);
  expect(await vault.root.list(`${mount}/issuers`)).toHaveLength(issuers.length + 1);
});

test('--new-rotation after a completed rotation archives its journals; abort of the new one then needs no devices', { timeout: 240_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = await operatorEnv(vault);
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, env);
  const all = await rotate(env, f);
  expect(all.code, all.stderr).toBe(0);
  const first = JSON.parse(all.stdout);
  expect(first.complete).toBe(true);
  expect(existsSync(f.journal.replace(/\.json$/, '.distribute.jsonl'))).toBe(true);

  const again = await rotate(env, f, '--stage', 'prepare', '--new-rotation');
  expect(again.code, again.stderr).toBe(0);
  const next = JSON.parse(again.stdout).next;
  const archived = readdirSync(tmp).filter((n) => /^rotate\.completed-\d{8}T\d{6}\.json$/.test(n));
  expect(archived).toHaveLength(1);
  const base = join(tmp, archived[0]!.replace(/\.json$/, ''));
  expect(JSON.parse(readFileSync(`${base}.json`, 'utf8'))).toMatchObject({ completedAt: expect.any(String), next: { fingerprint: first.next.fingerprint } });
  expect(existsSync(`${base}.distribute.jsonl`)).toBe(true);
  expect(existsSync(`${base}.retire.jsonl`)).toBe(true);
  expect(existsSync(f.journal.replace(/\.json$/, '.distribute.jsonl'))).toBe(false);

  const st = JSON.parse((await rotateAction(env, f, ['status'])).stdout);
  expect(st).toMatchObject({ found: true, pending: 'distribute', devices: { distribute: { done: [] } } });
  // No device got the new line, so abort needs no devices at all.
  const ab = await runCli(['ca', 'rotate', 'abort', '--journal', f.journal, '--json'], { env: await adminEnv(vault, env) });
  expect(ab.code, ab.stderr + ab.stdout).toBe(0);
  expect(JSON.parse(ab.stdout)).toMatchObject({ complete: true, vault: { removed: 'issuer' } });
  expect(await vault.root.list(`${mount}/issuers`)).not.toContain(next.issuerId);
});

test('abort after a distribute that reached no device skips them all; --force deletes the new CA when a written device stays unreachable', { timeout: 240_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = await operatorEnv(vault);
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, env);
  const stranger = newKey(tmp, 'stranger'); // a --identity no device trusts
  const configs = f.devices.map((d) => d.readConfig());

  // --- distribute with a bad --identity wrote nothing: abort (same bad identity) finishes ---------
  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  const bad = await rotateAction(env, f, ['--stage', 'distribute'], { access: ['--identity', stranger] });
  expect(bad.code).toBe(2);
  const next1 = JSON.parse(bad.stdout).next;
  expect(f.devices.map((d) => d.readConfig())).toEqual(configs);
  const admin = await adminEnv(vault, env);
  const ab = await rotateAction(admin, f, ['abort'], { access: ['--identity', stranger] });
  expect(ab.code, ab.stderr + ab.stdout).toBe(0);
  const a = JSON.parse(ab.stdout);
  expect(a).toMatchObject({ complete: true, untouched: ['dev0', 'dev1'], vault: { removed: 'issuer' } });
  expect(a.rollout).toBeUndefined();
  expect(await vault.root.list(`${mount}/issuers`)).not.toContain(next1.issuerId);
  expect(f.devices.map((d) => d.readConfig())).toEqual(configs);

  // --- written to both, then dev1 unreachable: abort stops; --force finishes and says what stays --
  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  const dist = await rotate(env, f, '--stage', 'distribute');
  expect(dist.code, dist.stderr).toBe(0);
  const next2 = JSON.parse(dist.stdout).next;
  const [d0, d1] = f.devices;
  const partial = join(tmp, 'devices-partial.txt');
  writeFileSync(partial, `${d0!.name} ${d0!.host} ${d0!.port} ${d0!.configPath}\n${d1!.name} ${d1!.host} 1 ${d1!.configPath}\n`);
  const g = { ...f, file: partial };
  const stuck = await rotateAction(admin, g, ['abort']);
  expect(stuck.code).toBe(2);
  expect(stuck.stderr).toMatch(/dev1.*--force/);
  expect(await vault.root.list(`${mount}/issuers`)).toContain(next2.issuerId);
  const forced = await rotateAction(admin, g, ['abort', '--force']);
  expect(forced.code, forced.stderr + forced.stdout).toBe(0);
  const fo = JSON.parse(forced.stdout);
  expect(fo).toMatchObject({ complete: true, leftWithLine: ['dev1'], vault: { removed: 'issuer' } });
  expect(forced.stderr).toMatch(/--force: dev1 keeps the line of the new CA .*harmless: that CA is deleted from Vault, nobody can sign with it/);
  expect(await vault.root.list(`${mount}/issuers`)).not.toContain(next2.issuerId);
  expect(fleetvaultLines(d0!).some((l) => l.includes(next2.fingerprint))).toBe(false);
  expect(fleetvaultLines(d1!).some((l) => l.includes(next2.fingerprint))).toBe(true);
  expect(existsSync(f.journal)).toBe(false);
});
