// `ca rotate --scoped` on OpenBao issuers with real sshd devices in two fleets: --scoped given once
// (at prepare) is kept in the rotation journal, so a later run without the flag distributes scoped
// new-CA lines, verifies the switch and the retire with fleet certificates, and ends with each
// device trusting only the new CA, for its own principals.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { engineerCert, fleetvaultLines, loginCodes, newKey, rotate, skipOnVault, trustingFleet } from './rotate-fleet.js';

test('rotate --scoped: kept in the journal; distribute writes scoped lines; switch and retire verify with fleet certificates', { timeout: 150_000 }, async ({ vault, devices, tmp, slug, skip }) => {
  skipOnVault(skip);
  const env = vault.env;
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, env);
  const plain = readFileSync(f.file, 'utf8');

  // Without each device's fleet and uuid --scoped is refused before anything exists in Vault.
  const refused = await rotate(env, f, '--stage', 'prepare', '--scoped');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('ca rotate --scoped: 2 of 2 device(s) have no known fleet and uuid');
  expect(await vault.root.list(`${mount}/issuers`)).toHaveLength(1);

  const fleets = ['acme/fleet-a', 'acme/fleet-b'];
  const uuids = f.uuids; // each device's config.json uuid: a scoped line for another is refused
  writeFileSync(f.file, plain.trim().split('\n').map((l, i) => `${l} fleet=${fleets[i]} uuid=${uuids[i]}`).join('\n') + '\n');
  const group = `fv-rot-${slug}`;
  await vault.root.write(`identity/group/name/${group}`, { type: 'internal' });
  onTestFinished(async () => {
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === group || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
  for (const fl of fleets) expect((await runCli(['access', 'grant', '--fleet', fl, '--group', group], { env })).code).toBe(0);

  // A new mount would have no fleet roles to verify with: refused, nothing written.
  const onMount = await rotate(env, f, '--stage', 'prepare', '--scoped', '--strategy', 'mount');
  expect(onMount.code).toBe(1);
  expect(onMount.stderr).toContain('--scoped needs the issuer strategy');
  expect(existsSync(f.journal)).toBe(false);

  const prep = await rotate(env, f, '--stage', 'prepare', '--scoped');
  expect(prep.code, prep.stderr).toBe(0);
  const p = JSON.parse(prep.stdout);
  expect(JSON.parse(readFileSync(f.journal, 'utf8'))).toMatchObject({ scoped: true });

  // Later stages without the flag: the journal keeps it.
  const dist = await rotate(env, f, '--stage', 'distribute');
  expect(dist.code, dist.stderr).toBe(0);
  expect(JSON.parse(dist.stdout)).toMatchObject({ scoped: true, stages: [{ stage: 'distribute', status: 'done' }] });
  const scopedOf = (i: number) => `principals="device-${uuids[i]},fleet-${fleets[i]!.replace('/', '.')},break-glass"`;
  f.devices.forEach((d, i) => {
    const lines = fleetvaultLines(d);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cert-authority,principals="root" /); // the old CA, untouched
    expect(lines[1]).toContain(`cert-authority,${scopedOf(i)} `);
    expect(lines[1]).toContain(p.next.fingerprint);
  });

  // switch + retire: verified with fleet certificates (a root certificate of the new CA opens nothing).
  const rest = await rotate(env, f);
  expect(rest.code, rest.stderr).toBe(0);
  expect(JSON.parse(rest.stdout)).toMatchObject({ complete: true, stages: [{ stage: 'switch', status: 'done' }, { stage: 'retire', status: 'done' }] });
  expect(JSON.parse(readFileSync(f.journal, 'utf8'))).toMatchObject({ scoped: true });
  f.devices.forEach((d, i) => expect(fleetvaultLines(d)).toEqual([expect.stringContaining(`cert-authority,${scopedOf(i)} `)]));
  const rootCert = await engineerCert(env, tmp, 'root-after');
  expect(rootCert.ca).toBe(p.next.fingerprint);
  expect(await loginCodes(f, rootCert)).toEqual([255, 255]);
  const k = newKey(tmp, 'fleet-a');
  expect((await runCli(['cert', 'sign', '--public-key', `${k}.pub`, '--fleet', fleets[0]!], { env })).code).toBe(0);
  expect(await loginCodes(f, { key: k, cert: `${k}-cert.pub` })).toEqual([0, 255]);
});

// Review #14 R4 + R8 on one fleet: dev1 was migrated to a scoped line, dev0 still trusts the old CA
// for root. A plain rotation must not give dev1 a root line of the new CA (refused, naming
// --scoped); the --scoped re-run then redoes dev0 — whose unscoped new-CA line the distribute
// journal had as done — counts coverage by the scoped line, and the rotation completes.
test('rotate: no root line of the new CA on a scoped device; --scoped after a partial unscoped distribute redoes it and completes', { timeout: 200_000 }, async ({ vault, devices, tmp, slug, skip }) => {
  skipOnVault(skip);
  const env = vault.env;
  const f = await trustingFleet(2, devices, tmp, env);
  const fleet = 'acme/fleet-a';
  const plain = readFileSync(f.file, 'utf8').trim().split('\n').map((l, i) => `${l} fleet=${fleet} uuid=${f.uuids[i]}`);
  const group = `fv-rot-${slug}`;
  await vault.root.write(`identity/group/name/${group}`, { type: 'internal' });
  onTestFinished(async () => {
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === group || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
  expect((await runCli(['access', 'grant', '--fleet', fleet, '--group', group], { env })).code).toBe(0);
  const dev1Only = join(tmp, 'dev1.txt');
  writeFileSync(dev1Only, plain[1] + '\n');
  const mig = await runCli(['ca', 'rollout', '--devices', dev1Only, '--identity', f.opKey, '--user-known-hosts-file', f.kh, '--journal', join(tmp, 'mig.jsonl'), '--scoped', '--json'], { env, timeoutMs: 90_000 });
  expect(mig.code, mig.stderr).toBe(0);
  writeFileSync(f.file, plain.join('\n') + '\n');
  const scopedOf = (i: number) => `principals="device-${f.uuids[i]},fleet-acme.fleet-a,break-glass"`;
  expect(fleetvaultLines(f.devices[1]!)).toEqual([expect.stringContaining(scopedOf(1))]);

  // R4: unscoped rotation: dev0 gets the new CA for root; dev1 is refused, nothing written there.
  expect((await rotate(env, f, '--stage', 'prepare')).code).toBe(0);
  const dev1Before = f.devices[1]!.readConfig();
  const d1 = await rotate(env, f, '--stage', 'distribute');
  expect(d1.code).toBe(2);
  const out1 = JSON.parse(d1.stdout);
  expect(out1.stages[0]).toMatchObject({ stage: 'distribute', status: 'failed' });
  const dev1Outcome = out1.stages[0].rollout.devices.find((d: { name: string }) => d.name === 'dev1');
  expect(dev1Outcome).toMatchObject({ status: 'failed', wrote: false, reason: expect.stringMatching(/trusts CA SHA256:\S+ for scoped principals only; refusing an unscoped line \(principals="root"\) of CA SHA256:\S+, which would let root certificates in again; left unchanged: re-run fleetvault ca rotate with --scoped/) });
  expect(f.devices[1]!.readConfig()).toBe(dev1Before);
  expect(fleetvaultLines(f.devices[0]!)).toEqual([expect.stringMatching(/^cert-authority,principals="root" /), expect.stringMatching(/^cert-authority,principals="root" /)]);

  // R8: --scoped re-run: dev0's unscoped new-CA line is replaced by its scoped one, and the rest runs.
  const r = await rotate(env, f, '--scoped', '--verify-timeout', '5s');
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ scoped: true, complete: true, stages: [{ stage: 'distribute', status: 'done' }, { stage: 'switch', status: 'done' }, { stage: 'retire', status: 'done' }] });
  expect(out.stages[0].rollout.devices.find((d: { name: string }) => d.name === 'dev0')).toMatchObject({ status: 'changed' });
  f.devices.forEach((d, i) => expect(fleetvaultLines(d)).toEqual([expect.stringContaining(`cert-authority,${scopedOf(i)} `)]));
  expect(await loginCodes(f, await engineerCert(env, tmp, 'root-after'))).toEqual([255, 255]);
});
