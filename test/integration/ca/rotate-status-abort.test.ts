// `ca rotate status` (read-only: Vault, devices and journals are byte-for-byte the same afterwards,
// and it needs no token) and `ca rotate abort` (before the switch: the new CA line comes off the
// devices, the new issuer or mount goes, the journal is archived; after the switch: refused, with
// how to finish instead). Real OpenBao, real sshd devices.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import type { VaultClient } from '../../../src/vault/client.js';
import { policyName } from '../../../src/vault/layout.js';
import { engineerCert, fleetvaultLines, loginCodes, rotate, rotateAction, operatorEnv, skipOnVault, trustingFleet, type Fleet } from './rotate-fleet.js';

/** Everything a rotation can change in Vault, read as root. */
async function vaultState(root: VaultClient, mount: string): Promise<string> {
  const issuers = await root.read(`${mount}/issuers`, {}).catch(() => null);
  const list = await root.list(`${mount}/issuers`);
  const def = await root.readOptional(`${mount}/config/issuers`).catch(() => null);
  // Only this test's mounts (a rotation's new mount is named after it): other test files create and
  // delete their own mounts on the shared server meanwhile.
  const mounts = Object.keys((await root.read<Record<string, unknown>>('sys/mounts')).data).filter((m) => m.startsWith(mount)).sort();
  const role = (await root.read(`${mount}/roles/engineer`)).data;
  return JSON.stringify({ issuers: issuers?.data ?? null, list, def: def?.data ?? null, mounts, role });
}

/**
 * Audit entries on this test's mount after `from` bytes (other test files share the server):
 * [operation, path, 'token' | 'anonymous'] of each request.
 */
function auditRequestsSince(log: string, from: number, mount: string): [string, string, string][] {
  return readFileSync(log).subarray(from).toString('utf8').split('\n').filter((l) => l.includes('"type":"request"'))
    .map((l) => { const e = JSON.parse(l); return [e.request.operation, e.request.path, e.auth?.client_token ? 'token' : 'anonymous'] as [string, string, string]; })
    .filter(([, path]) => path.startsWith(`${mount}/`));
}

function deviceSnapshot(f: Fleet): string[] {
  return f.devices.map((d) => `${d.readConfig()}\n--log--\n${readFileSync(d.log, 'utf8')}`);
}

function journalSnapshot(f: Fleet): Record<string, string> {
  const dir = dirname(f.journal);
  return Object.fromEntries(readdirSync(dir).filter((n) => n.startsWith('rotate')).map((n) => [n, readFileSync(`${dir}/${n}`, 'utf8')]));
}

test('status is read-only and needs no token; abort before the switch undoes prepare and distribute; abort after the switch is refused', { timeout: 240_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = await operatorEnv(vault);
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, env);
  const before = await engineerCert(env, tmp, 'before');
  const oldIssuers = await vault.root.list(`${mount}/issuers`);

  const noJournal = await rotateAction(env, f, ['status']);
  expect(noJournal.code, noJournal.stderr).toBe(0);
  expect(JSON.parse(noJournal.stdout)).toMatchObject({ found: false, signing: { fingerprint: before.ca } });

  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  const dist = await rotate(env, f, '--stage', 'distribute');
  expect(dist.code, dist.stderr).toBe(0);
  const p = JSON.parse(dist.stdout);

  // --- status: read-only, no token ---------------------------------------------------------------
  await new Promise((r) => setTimeout(r, 300)); // let the audit device flush
  const vaultBefore = await vaultState(vault.root, mount);
  const devicesBefore = deviceSnapshot(f);
  const journalsBefore = journalSnapshot(f);
  const auditFrom = readFileSync(vault.auditLog).length;
  // A HOME without ~/.vault-token too: with a token status would also LIST issuers (rotations started elsewhere).
  const noToken = { ...env, VAULT_TOKEN: '', HOME: tmp };
  const st = await rotateAction(noToken, f, ['status'], { access: [] });
  expect(st.code, st.stderr).toBe(0);
  const s = JSON.parse(st.stdout);
  expect(s).toMatchObject({
    found: true, strategy: 'issuer', pending: 'switch',
    old: { fingerprint: before.ca }, next: { fingerprint: p.next.fingerprint },
    signing: { mount, fingerprint: before.ca, is: 'old' },
    stages: { prepare: { status: 'done' }, distribute: { status: 'done' }, switch: { status: 'pending' }, retire: { status: 'pending' } },
    devices: { covered: ['dev0', 'dev1'], distribute: { done: ['dev0', 'dev1'], failed: [], remaining: [] } },
  });
  expect(s.server.clusterId).toMatch(/^[0-9a-f-]{36}$/);
  const human = await runCli(['ca', 'rotate', 'status', '--journal', f.journal, '--devices', f.file], { env: noToken });
  expect(human.code, human.stderr).toBe(0);
  expect(human.stdout).toMatch(/^distribute +done +\S+ \[2 device\(s\) done\]$/m);
  expect(human.stdout).toMatch(/^switch +pending$/m);
  expect(human.stdout).toMatch(/^retire +pending$/m);
  expect(human.stdout).toContain(`old CA ${before.ca}`);
  expect(human.stdout).toMatch(/abort/);
  await new Promise((r) => setTimeout(r, 300));
  expect(await vaultState(vault.root, mount)).toBe(vaultBefore);
  expect(deviceSnapshot(f)).toEqual(devicesBefore); // not even a login: the sshd logs are unchanged
  expect(journalSnapshot(f)).toEqual(journalsBefore);
  // Only reads reached Vault, and status's own are unauthenticated reads of the CA public key
  // (sys/health is not audited); the root entries are this test's vaultState reads.
  const ops = auditRequestsSince(vault.auditLog, auditFrom, mount);
  expect(ops.filter(([op]) => op !== 'read' && op !== 'list')).toEqual([]);
  const fromStatus = ops.filter(([, , who]) => who === 'anonymous');
  expect(fromStatus.length).toBeGreaterThan(0);
  expect(new Set(fromStatus.map(([op, path, who]) => `${op} ${path} ${who}`))).toEqual(new Set([`read ${mount}/public_key anonymous`]));

  // --- abort before the switch -------------------------------------------------------------------
  // The operator may not delete issuers (review of issue 11, item 3): devices are cleaned, Vault's
  // 403 is answered with the admin's command, and an admin's re-run removes the new issuer.
  const opAbort = await rotateAction(env, f, ['abort']);
  expect(opAbort.code, opAbort.stderr).toBe(2);
  expect(opAbort.stderr).toMatch(new RegExp(`Vault refused to delete the new CA \\(403\\).*bao delete ${mount}/issuer/${p.next.issuerId}`));
  expect(JSON.parse(opAbort.stdout)).toMatchObject({ complete: false, rollout: { changed: 2, failed: 0 } });
  const admin = (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token;
  const ab = await rotateAction({ ...env, VAULT_TOKEN: admin }, f, ['abort']);
  expect(ab.code, ab.stderr + ab.stdout).toBe(0);
  const a = JSON.parse(ab.stdout);
  expect(a).toMatchObject({ complete: true, vault: { removed: 'issuer' }, rollout: { failed: 0 } });
  expect(await vault.root.list(`${mount}/issuers`)).toEqual(oldIssuers);
  for (const d of f.devices) expect(fleetvaultLines(d)).toEqual([expect.stringContaining(before.ca)]);
  expect(await loginCodes(f, before)).toEqual([0, 0]); // nobody lost access
  expect((await engineerCert(env, tmp, 'after-abort')).ca).toBe(before.ca);
  expect(existsSync(f.journal)).toBe(false);
  expect(existsSync(a.archivedJournal)).toBe(true);
  const gone = await rotateAction(env, f, ['status']);
  expect(JSON.parse(gone.stdout)).toMatchObject({ found: false });
  const again = await rotateAction(env, f, ['abort']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/no rotation of .* to abort/);

  // --- a fresh rotation starts clean; after its switch abort refuses and says how to finish ------
  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  expect((await rotate(env, f, '--stage', 'distribute')).code).toBe(0);
  const sw = await rotate(env, f, '--stage', 'switch');
  expect(sw.code, sw.stderr).toBe(0);
  const vaultSwitched = await vaultState(vault.root, mount);
  const devicesSwitched = f.devices.map((d) => d.readConfig());
  const late = await rotateAction(env, f, ['abort']);
  expect(late.code).toBe(1);
  expect(late.stderr).toMatch(/cannot abort: signing switched to the new CA .*--stage retire/);
  expect(late.stderr.trim().split('\n')).toHaveLength(1);
  expect(await vaultState(vault.root, mount)).toBe(vaultSwitched);
  expect(f.devices.map((d) => d.readConfig())).toEqual(devicesSwitched);
  const st2 = JSON.parse((await rotateAction(env, f, ['status'])).stdout);
  expect(st2).toMatchObject({ pending: 'retire', signing: { is: 'new' } });
  expect(st2.notes.join(' ')).toMatch(/abort can no longer undo/);
});

test('abort of a mount-strategy rotation stopped after prepare removes the new mount; no devices needed', { timeout: 120_000 }, async ({ vault, devices, tmp }) => {
  const env = vault.env;
  const f = await trustingFleet(1, devices, tmp, env);
  const prep = await rotate(env, f, '--stage', 'prepare', '--strategy', 'mount');
  expect(prep.code, prep.stderr).toBe(0);
  const newMount = JSON.parse(prep.stdout).next.mount as string;
  try {
    expect((await vault.root.read<Record<string, unknown>>('sys/mounts')).data[`${newMount}/`]).toBeDefined();
    const ab = await rotateAction(env, f, ['abort'], { access: [] });
    expect(ab.code, ab.stderr).toBe(0);
    expect(JSON.parse(ab.stdout)).toMatchObject({ complete: true, vault: { removed: 'mount' } });
    expect((await vault.root.read<Record<string, unknown>>('sys/mounts')).data[`${newMount}/`]).toBeUndefined();
  } finally {
    await vault.root.delete(`sys/mounts/${newMount}`).catch(() => {});
  }
});

test('abort when Vault refuses to delete the new issuer: devices cleaned, exit 2 with the admin command; a re-run finishes', { timeout: 120_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = vault.env;
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(1, devices, tmp, env);
  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  const dist = await rotate(env, f, '--stage', 'distribute');
  expect(dist.code, dist.stderr).toBe(0);
  const next = JSON.parse(dist.stdout).next;
  // Everything on the mount except delete.
  const policy = `fv-nodelete-${mount}`.replace(/[^\w-]/g, '');
  await vault.root.write(`sys/policies/acl/${policy}`, { policy: `path "${mount}/*" { capabilities = ["create", "read", "update", "list"] }` });
  const limited = (await vault.root.write('auth/token/create', { policies: [policy], ttl: '10m' })).auth!.client_token;
  try {
    const refused = await rotateAction({ ...env, VAULT_TOKEN: limited }, f, ['abort']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`Vault refused to delete the new CA \\(403\\).*bao delete ${mount}/issuer/${next.issuerId}`));
    expect(JSON.parse(refused.stdout)).toMatchObject({ complete: false, rollout: { changed: 1 } });
    expect(fleetvaultLines(f.devices[0]!)).toEqual([expect.not.stringContaining(next.fingerprint)]);
    expect(existsSync(f.journal)).toBe(true);
    expect(await vault.root.list(`${mount}/issuers`)).toContain(next.issuerId);

    const done = await rotateAction(env, f, ['abort']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ complete: true, vault: { removed: 'issuer' }, rollout: { failed: 0, devices: [{ fromJournal: true }] } });
    expect(await vault.root.list(`${mount}/issuers`)).not.toContain(next.issuerId);
  } finally {
    await vault.root.delete(`sys/policies/acl/${policy}`).catch(() => {});
  }
});
