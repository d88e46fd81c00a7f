// CA rotation against real OpenBao (issuers) and real sshd devices that start out trusting an
// operator key and the old CA: nobody is locked out at any stage, and at the end only the new CA
// is trusted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test, expect } from '../../support/context.js';
import { sshLogin } from '../../support/ssh.js';
import { startDevice, type Device } from '../../../src/dev/device.js';
import { engineerCert, fleetvaultLines, issuerCert, loginCodes, rotate, skipOnVault, trustingFleet } from './rotate-fleet.js';

test('full rotation on OpenBao issuers across 5 devices: nobody locked out at any stage, only the new CA trusted at the end', { timeout: 180_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = vault.env;
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(5, devices, tmp, env);
  const before = await engineerCert(env, tmp, 'before');
  expect(await loginCodes(f, before)).toEqual([0, 0, 0, 0, 0]);

  // A dry run plans prepare and creates nothing: no issuer, no journal.
  const dry = await rotate(env, f, '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  expect(JSON.parse(dry.stdout).stages).toMatchObject([{ stage: 'prepare', status: 'planned' }]);
  expect(await vault.root.list(`${mount}/issuers`)).toHaveLength(1);
  expect(existsSync(f.journal)).toBe(false);

  const prep = await rotate(env, f, '--stage', 'prepare');
  expect(prep.code, prep.stderr).toBe(0);
  const p = JSON.parse(prep.stdout);
  expect(p).toMatchObject({ strategy: 'issuer', pending: 'distribute', stages: [{ stage: 'prepare', status: 'done' }] });
  expect(p.old.fingerprint).toBe(before.ca);
  expect(p.next.fingerprint).not.toBe(before.ca);
  expect(await vault.root.list(`${mount}/issuers`)).toHaveLength(2);
  // Signing untouched by prepare.
  expect((await engineerCert(env, tmp, 'after-prepare')).ca).toBe(before.ca);
  const fromNew = await issuerCert(vault.root, mount, p.next.issuerId, tmp);
  expect(await loginCodes(f, fromNew)).toEqual([255, 255, 255, 255, 255]);

  // Stages run in order: switch before distribute is a usage error.
  const early = await rotate(env, f, '--stage', 'switch');
  expect(early.code).toBe(1);
  expect(early.stderr).toMatch(/needs stage distribute first/);

  const dist = await rotate(env, f, '--stage', 'distribute', '--concurrency', '3');
  expect(dist.code, dist.stderr).toBe(0);
  expect(JSON.parse(dist.stdout).stages[0]).toMatchObject({ stage: 'distribute', status: 'done', coverage: { trusting: 5, total: 5, missing: [] } });
  expect(await loginCodes(f, before)).toEqual([0, 0, 0, 0, 0]);
  expect(await loginCodes(f, fromNew)).toEqual([0, 0, 0, 0, 0]);
  for (const d of f.devices) expect(fleetvaultLines(d)).toHaveLength(2);

  const sw = await rotate(env, f, '--stage', 'switch');
  expect(sw.code, sw.stderr).toBe(0);
  const s = JSON.parse(sw.stdout);
  expect(s.stages[0]).toMatchObject({ stage: 'switch', status: 'done' });
  expect(s.stages[0].verification.signingKeyFingerprint).toBe(p.next.fingerprint);
  const after = await engineerCert(env, tmp, 'after-switch');
  expect(after.ca).toBe(p.next.fingerprint);
  expect(await loginCodes(f, after)).toEqual([0, 0, 0, 0, 0]);
  expect(await loginCodes(f, before)).toEqual([0, 0, 0, 0, 0]); // the old CA is still trusted until retire

  const ret = await rotate(env, f, '--delete-old-issuer');
  expect(ret.code, ret.stderr).toBe(0);
  const r = JSON.parse(ret.stdout);
  expect(r).toMatchObject({ complete: true, stages: [{ stage: 'retire', status: 'done' }] });
  expect(await loginCodes(f, before)).toEqual([255, 255, 255, 255, 255]);
  expect(await loginCodes(f, after)).toEqual([0, 0, 0, 0, 0]);
  const opPub = readFileSync(`${f.opKey}.pub`, 'utf8').trim();
  for (const d of f.devices) {
    const lines = fleetvaultLines(d);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(p.next.fingerprint);
    expect(lines[0]).toMatch(/^cert-authority,principals="root" ssh-ed25519 /);
    expect(JSON.parse(d.readConfig()).os.sshKeys[0]).toBe(opPub); // the operator key is kept
  }
  expect(await vault.root.list(`${mount}/issuers`)).toEqual([p.next.issuerId]);

  const again = await rotate(env, f);
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ complete: true, stages: [] });
});

test('a device down during distribute stops the rotation (exit 2); after it is back a re-run resumes without redoing finished devices (mount strategy)', { timeout: 180_000 }, async ({ vault, devices, tmp }) => {
  const env = vault.env;
  const f = await trustingFleet(5, devices, tmp, env);
  const before = await engineerCert(env, tmp, 'before');
  const down = f.devices[2]!;
  await down.stop();
  let newMount: string | undefined;
  let back: Device | undefined;
  try {
    const first = await rotate(env, f, '--strategy', 'mount');
    expect(first.code, first.stderr).toBe(2);
    const r1 = JSON.parse(first.stdout);
    newMount = r1.next.mount;
    expect(newMount).toMatch(new RegExp(`^${vault.layout.sshMount}-\\d{8}$`));
    expect(r1).toMatchObject({ strategy: 'mount', pending: 'distribute', complete: false, signingMount: vault.layout.sshMount });
    expect(r1.stages.map((s: { stage: string; status: string }) => `${s.stage}:${s.status}`)).toEqual(['prepare:done', 'distribute:failed']);
    expect(r1.stages[1].coverage).toMatchObject({ trusting: 4, total: 5, missing: ['dev2'] });
    expect(first.stderr).toMatch(/resume at stage distribute/);
    // Signing did not move: engineers still get old-CA certificates, which still work.
    expect((await engineerCert(env, tmp, 'mid')).ca).toBe(before.ca);

    back = await startDevice({ dir: down.dir, name: down.name, host: down.host, port: down.port });
    const second = await rotate(env, f, '--strategy', 'mount');
    expect(second.code, second.stderr).toBe(0);
    const r2 = JSON.parse(second.stdout);
    expect(r2.stages.map((s: { stage: string; status: string }) => `${s.stage}:${s.status}`)).toEqual(['distribute:done', 'switch:done', 'retire:done']);
    const distDevices = r2.stages[0].rollout.devices as { name: string; fromJournal?: boolean; status: string }[];
    expect(distDevices.filter((d) => d.fromJournal).map((d) => d.name).sort()).toEqual(['dev0', 'dev1', 'dev3', 'dev4']);
    expect(distDevices.find((d) => d.name === 'dev2')).toMatchObject({ status: 'changed' });
    expect(r2).toMatchObject({ complete: true, signingMount: newMount });
    expect(second.stderr).toMatch(new RegExp(`FLEETVAULT_SSH_MOUNT=${newMount}`));

    const live = [...f.devices.slice(0, 2), back, ...f.devices.slice(3)];
    const after = await engineerCert({ ...env, FLEETVAULT_SSH_MOUNT: newMount! }, tmp, 'after');
    expect(after.ca).toBe(r2.next.fingerprint);
    for (const d of live) {
      expect((await sshLogin({ device: d, key: after.key, cert: after.cert, knownHosts: f.kh })).code, d.name).toBe(0);
      expect((await sshLogin({ device: d, key: before.key, cert: before.cert, knownHosts: f.kh })).code, d.name).toBe(255);
      expect(fleetvaultLines(d)).toEqual([expect.stringContaining(`fleetvault:${newMount}:${r2.next.fingerprint}`)]);
    }
  } finally {
    await back?.stop();
    if (newMount) await vault.root.delete(`sys/mounts/${newMount}`).catch(() => {});
  }
});

test('a failed switch verification puts the old issuer back as default (exit 2) and the stage stays pending', { timeout: 180_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const env = vault.env;
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, env);
  const oldDefault = (await vault.root.read<{ default: string }>(`${mount}/config/issuers`)).data.default;
  const upTo = await rotate(env, f, '--stage', 'prepare');
  expect(upTo.code, upTo.stderr).toBe(0);
  const dist = await rotate(env, f, '--stage', 'distribute');
  expect(dist.code, dist.stderr).toBe(0);
  // Drift after distribute: someone put dev1's config.json back to trusting only the old CA.
  const d1 = f.devices[1]!;
  const cfg = JSON.parse(d1.readConfig());
  cfg.os.sshKeys = (cfg.os.sshKeys as string[]).filter((k) => !k.includes(JSON.parse(upTo.stdout).next.fingerprint));
  writeFileSync(d1.configPath, JSON.stringify(cfg, null, 2) + '\n');

  const sw = await rotate(env, f, '--verify-timeout', '2s');
  expect(sw.code, sw.stderr).toBe(2);
  const r = JSON.parse(sw.stdout);
  expect(r.stages).toMatchObject([{ stage: 'switch', status: 'failed', detail: expect.stringMatching(/dev1.*switched back to the old CA/) }]);
  expect(r.pending).toBe('switch');
  expect((await vault.root.read<{ default: string }>(`${mount}/config/issuers`)).data.default).toBe(oldDefault);
  expect((await engineerCert(env, tmp, 'still-old')).ca).toBe(r.old.fingerprint);
});
