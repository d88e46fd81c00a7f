// `ca rollout --scoped` on real OpenBao and real sshd devices in two fleets: refused before any
// device is touched without a fleet grant (or without each device's fleet/uuid); with grants, every
// device ends up trusting the CA for its own scoped principals, principals="root" lines are
// migrated away in two phases without losing a device, a root certificate no longer opens any
// device while a fleet-A certificate opens A's and not B's; `ca status` counts scoped/unscoped; a
// run killed between the phases (both lines on a device) is finished by the next run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { test, expect, type VaultFixture } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { rolloutCa } from '../../../src/ca/rollout.js';
import { getCaPublicKey } from '../../../src/ca/public-key.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { parseDevicesFile } from '../../../src/ca/devices-file.js';
import { startBalenaApi } from '../../support/balena-api.js';

const A = 'acme/fleet-a';
const B = 'acme/fleet-b';

function oneLine(r: CliResult): void {
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
}

function newKey(tmp: string, name: string): string {
  const k = join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  return k;
}

/** Grant a fleet to a test group (the sign/fleet-… role exists from then on). */
async function grantFleet(vault: VaultFixture, fleet: string, group: string): Promise<void> {
  await vault.root.write(`identity/group/name/${group}`, { type: 'internal' });
  // Identity groups outlive the test's mounts on the shared server: remove the test's own.
  onTestFinished(async () => {
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === group || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
  const g = await runCli(['access', 'grant', '--fleet', fleet, '--group', group], { env: vault.env });
  expect(g.code, g.stderr).toBe(0);
}

const keysOf = (d: Device) => JSON.parse(d.readConfig()).os.sshKeys as string[];

test('rollout --scoped: refused without fleet/uuid or grant, then scoped lines everywhere, root lines migrated, root certificates refused', { timeout: 120_000 }, async ({ vault, devices, tmp, slug }) => {
  const env = vault.env;
  const op = newKey(tmp, 'operator');
  const opPub = readFileSync(`${op}.pub`, 'utf8').trim();
  const rootLine = (await runCli(['ca', 'authorized-key'], { env })).stdout.trim();
  expect(rootLine).toMatch(/^cert-authority,principals="root" /);

  // a1 and b1 trust the CA for root today (to be migrated); a2 only has the operator key.
  const uuids = [0, 1, 2].map(() => randomBytes(16).toString('hex'));
  const plan = [{ name: uuids[0]!, fleet: A, root: true }, { name: 'a2', fleet: A, root: false }, { name: 'b1', fleet: B, root: true }];
  const fleet = await Promise.all(plan.map((p) => {
    const config = defaultDeviceConfig(uuids[plan.indexOf(p)]!); // config.json's uuid: what the scoped line must name
    (config.os as { sshKeys: string[] }).sshKeys = p.root ? [opPub, rootLine] : [opPub];
    return devices.start({ name: p.name.slice(0, 8), config });
  }));
  const [a1, a2, b1] = fleet as [Device, Device, Device];
  // a1 is named by its uuid (uuid= defaults to the name); the others say uuid= explicitly.
  const lines = fleet.map((d, i) => `${plan[i]!.name} ${d.host} ${d.port} ${d.configPath} fleet=${plan[i]!.fleet}${i ? ` uuid=${uuids[i]}` : ''}`);
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  const kh = knownHostsFor(tmp, fleet);
  const run = (cmd: string[], ...extra: string[]) => runCli([...cmd, '--identity', op, '--user-known-hosts-file', kh, '--json', ...extra], { env, timeoutMs: 90_000 });
  const rollout = (journal: string, ...extra: string[]) => run(['ca', 'rollout', '--devices', file, '--journal', join(tmp, journal), '--scoped'], ...extra);
  const status = (f = file) => run(['ca', 'status', '--devices', f]);
  const configs = () => fleet.map((d) => d.readConfig());
  const before = configs();

  // --scoped and --principals are exclusive; a device without fleet= is refused before any contact.
  const both = await rollout('j0.jsonl', '--principals', 'root');
  expect(both.code).toBe(1);
  const partial = join(tmp, 'partial.txt');
  writeFileSync(partial, [lines[0], lines[1]!.replace(/ fleet=\S+/, '')].join('\n') + '\n');
  const lacking = await run(['ca', 'rollout', '--devices', partial, '--journal', join(tmp, 'j0.jsonl'), '--scoped']);
  expect(lacking.code).toBe(1);
  oneLine(lacking);
  expect(lacking.stderr).toContain('ca rollout --scoped: 1 of 2 device(s) have no known fleet and uuid (first: a2)');

  // No grant for fleet A: Vault refuses the verification certificate, before any device is written.
  const refused = await rollout('j1.jsonl');
  expect(refused.code).toBe(2);
  oneLine(refused);
  expect(refused.stderr).toContain(`no grant for principal fleet-acme.fleet-a`);
  expect(refused.stderr).toContain(`fleetvault access grant --fleet ${A} --entity`);
  expect(configs()).toEqual(before);

  // Status before: two devices trust the CA for root (unscoped), a2 not at all.
  const st0 = await status();
  expect(st0.code).toBe(2);
  expect(JSON.parse(st0.stdout)).toMatchObject({ trustingCurrent: 2, scoped: 0, unscoped: 2 });

  await grantFleet(vault, A, `fv-a-${slug}`);
  await grantFleet(vault, B, `fv-b-${slug}`);
  const r = await rollout('j2.jsonl');
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout);
  const by = Object.fromEntries(report.devices.map((d: { name: string }) => [d.name, d]));
  expect(by[uuids[0]!]).toMatchObject({ status: 'changed', migrated: true, removed: [rootLine] });
  expect(by.a2).toMatchObject({ status: 'changed', removed: [] });
  expect(by.a2.migrated).toBeUndefined();
  expect(by.b1).toMatchObject({ status: 'changed', migrated: true });
  const scopedLine = (i: number) => rootLine.replace('principals="root"', `principals="device-${uuids[i]},fleet-${plan[i]!.fleet.replace('/', '.')},break-glass"`);
  fleet.forEach((d, i) => expect(keysOf(d)).toEqual([opPub, scopedLine(i)]));
  // The journal records the migration per device.
  const journal = readFileSync(join(tmp, 'j2.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(journal.filter((e) => e.migrated).map((e) => e.device).sort()).toEqual([uuids[0], 'b1'].sort());

  // A root certificate opens nothing now; a fleet-A certificate opens A's devices and not B's.
  const eng = newKey(tmp, 'eng');
  const opens = async () => Promise.all(fleet.map(async (d) => (await sshLogin({ device: d, key: eng, cert: `${eng}-cert.pub`, knownHosts: kh, command: 'true' })).code === 0));
  expect((await runCli(['cert', 'sign', '--public-key', `${eng}.pub`], { env })).code).toBe(0);
  expect(await opens()).toEqual([false, false, false]);
  const fa = await runCli(['cert', 'sign', '--public-key', `${eng}.pub`, '--fleet', A], { env });
  expect(fa.code, fa.stderr).toBe(0);
  expect(await opens()).toEqual([true, true, false]);

  const st1 = await status();
  expect(st1.code, st1.stderr).toBe(0);
  expect(JSON.parse(st1.stdout)).toMatchObject({ trustingCurrent: 3, scoped: 3, unscoped: 0 });
  const human = await runCli(['ca', 'status', '--devices', file, '--identity', op, '--user-known-hosts-file', kh], { env });
  expect(human.stdout).toMatch(/3\/3 devices trust SHA256:\S+ \(3 scoped, 0 unscoped\)/);

  // A run killed between the phases leaves both lines: the next run finds phase 1 done and finishes.
  const settled = configs();
  writeFileSync(b1.configPath, JSON.stringify({ ...JSON.parse(b1.readConfig()), os: { sshKeys: [opPub, rootLine, scopedLine(2)] } }, null, 2) + '\n');
  expect(JSON.parse((await status()).stdout)).toMatchObject({ scoped: 2, unscoped: 1 });
  const resumed = await rollout('j3.jsonl');
  expect(resumed.code, resumed.stderr).toBe(0);
  const rb = JSON.parse(resumed.stdout).devices.find((d: { name: string }) => d.name === 'b1');
  expect(rb).toMatchObject({ status: 'changed', migrated: true, added: [], removed: [rootLine] });
  expect(JSON.parse(resumed.stdout)).toMatchObject({ changed: 1, already: 2 });
  expect(keysOf(b1)).toEqual([opPub, scopedLine(2)]);
  expect([a1.readConfig(), a2.readConfig()]).toEqual(settled.slice(0, 2));
});

test('rollout --scoped: a failed phase-2 verification puts the root line back; the device stays reachable', { timeout: 60_000 }, async ({ vault, devices, tmp, slug }) => {
  const op = newKey(tmp, 'operator');
  const opPub = readFileSync(`${op}.pub`, 'utf8').trim();
  const ca = await getCaPublicKey({ client: vault.root, mount: vault.layout.sshMount });
  const rootLine = authorizedKeyLine({ ...ca, principals: ['root'] });
  const uuid = randomBytes(16).toString('hex');
  const config = defaultDeviceConfig(uuid);
  (config.os as { sshKeys: string[] }).sshKeys = [opPub, rootLine];
  const d = await devices.start({ name: 'mig', config });
  const kh = knownHostsFor(tmp, [d]);
  await grantFleet(vault, A, `fv-a-${slug}`);
  const [t] = parseDevicesFile(`${uuid} ${d.host} ${d.port} ${d.configPath} fleet=${A}\n`);
  const scopedLine = authorizedKeyLine({ ...ca, principals: [`device-${uuid}`, 'fleet-acme.fleet-a', 'break-glass'] });

  // Right after phase 2's write, something on the device puts back a copy from before the rollout
  // (a supervisor with a stale config): the fleet certificate is refused, phase 2's proof fails,
  // and the root line must be put back.
  let writes = 0;
  let timer: NodeJS.Timeout | undefined;
  onTestFinished(() => clearInterval(timer));
  const stale = JSON.stringify({ ...JSON.parse(d.readConfig()), os: { sshKeys: [opPub, rootLine] } }, null, 2) + '\n';
  const r = await rolloutCa({
    client: vault.root, mount: vault.layout.sshMount, role: vault.layout.sshRole, devices: [t!], caFingerprint: ca.fingerprint,
    edit: {}, scoped: { line: (p) => authorizedKeyLine({ ...ca, principals: p }) }, verifyTimeoutMs: 2000,
    access: { identity: op, knownHostsFile: kh, strictHostKeyChecking: 'yes' },
    onWriting: () => { writes++; },
    onWriteSpawn: (_name, pid) => {
      if (writes !== 2) return;
      // The local ssh of the write exits once the remote write and its read-back are done.
      timer = setInterval(() => {
        try { process.kill(pid, 0); } catch { clearInterval(timer); writeFileSync(d.configPath, stale); }
      }, 5);
    },
  });
  expect(writes).toBe(2);
  expect(r.devices[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^scoped line added and verified, but removing the unscoped one failed: verification login with a fleetvault certificate for fleet acme\/fleet-a failed \(access denied \(that certificate not accepted\)\); original os\.sshKeys restored$/) });
  expect(r.devices[0]!.wrote).not.toBe(false);
  expect(keysOf(d)).toEqual([opPub, rootLine, scopedLine]);
  // The operator's access is what it was; a re-run (nothing fighting back now) finishes the migration.
  expect((await sshLogin({ device: d, key: op, knownHosts: kh })).code).toBe(0);
  const again = await rolloutCa({
    client: vault.root, mount: vault.layout.sshMount, role: vault.layout.sshRole, devices: [t!], caFingerprint: ca.fingerprint,
    edit: {}, scoped: { line: (p) => authorizedKeyLine({ ...ca, principals: p }) }, access: { identity: op, knownHostsFile: kh, strictHostKeyChecking: 'yes' },
  });
  expect(again.devices[0]).toMatchObject({ status: 'changed', migrated: true, added: [], removed: [rootLine] });
  expect(keysOf(d)).toEqual([opPub, scopedLine]);
});

test('rollout --fleet --scoped: uuid and fleet come from balena', { timeout: 60_000 }, async ({ vault, devices, tmp, slug }) => {
  const api = await startBalenaApi({ fleetSlug: 'acme/field-units' });
  onTestFinished(() => api.stop());
  const op = newKey(tmp, 'operator');
  const uuid = randomBytes(16).toString('hex');
  const config = defaultDeviceConfig(uuid);
  (config.os as { sshKeys: string[] }).sshKeys = [readFileSync(`${op}.pub`, 'utf8').trim()];
  const d = await devices.start({ name: 'f', config });
  api.addDevice({ uuid, ip_address: d.host });
  await grantFleet(vault, 'acme/field-units', `fv-f-${slug}`);
  const r = await runCli(['ca', 'rollout', '--fleet', api.fleet.slug, '--via', 'direct', '--balena-url', api.url, '--port', String(d.port), '--config-path', d.configPath,
    '--identity', op, '--user-known-hosts-file', knownHostsFor(tmp, [d]), '--journal', join(tmp, 'j'), '--scoped', '--json'], { env: { ...vault.env, BALENA_TOKEN: api.apiKey }, timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).devices).toMatchObject([{ name: uuid, status: 'changed' }]);
  expect(keysOf(d)[1]).toMatch(new RegExp(`^cert-authority,principals="device-${uuid},fleet-acme.field-units,break-glass" `));
});

// Review #14 (R1, R1b, R2, R3, R6, R7), one fleet for all of them: the default journal does not
// make a --scoped run skip what an unscoped run did; a plain rollout never puts root back over a
// scoped line (--unscope does, on purpose); a scoped line is never written for another device's
// config.json; a root line of the CA hidden behind a quoted option is migrated too; status counts
// a device still trusting any CA for root as unscoped.
test('rollout --scoped after an unscoped run; no silent downgrade; uuid checked against config.json; hidden root line migrated', { timeout: 150_000 }, async ({ vault, devices, tmp, slug }) => {
  const env = { ...vault.env, XDG_STATE_HOME: join(tmp, 'state') }; // the default journal, in tmp
  const op = newKey(tmp, 'operator');
  const opPub = readFileSync(`${op}.pub`, 'utf8').trim();
  const rootLine = (await runCli(['ca', 'authorized-key'], { env })).stdout.trim();
  const decoy = opPub.split(' ').slice(0, 2).join(' ');
  // sshd reads the key after the options: this line trusts the CA for root, whatever is quoted in it.
  const sneaky = rootLine.replace('principals="root" ', `principals="root",environment="X=1 ${decoy}" `).replace(/ fleetvault:\S+$/, ' admin');
  // Review #14b: sshd matches option names without case and skips \" when it looks for the key;
  // it ignores # lines.
  const upper = rootLine.replace('cert-authority,', 'CERT-AUTHORITY,').replace(/ fleetvault:\S+$/, ' admin');
  const escaped = rootLine.replace('principals="root" ', `principals="root",environment="X=\\" ${decoy} y" `).replace(/ fleetvault:\S+$/, ' admin');
  const commented = `#${rootLine}`;
  const [u1, u3, u6, other] = [0, 1, 2, 3].map(() => randomBytes(16).toString('hex'));
  const start = (name: string, uuid: string, keys: string[]) => {
    const config = defaultDeviceConfig(uuid);
    (config.os as { sshKeys: string[] }).sshKeys = keys;
    return devices.start({ name, config });
  };
  const [d1, d3, d6] = await Promise.all([start('r1', u1!, [opPub, upper]), start('r3', u3!, [opPub]), start('r6', u6!, [opPub, commented, sneaky, escaped])]);
  const kh = knownHostsFor(tmp, [d1, d3, d6]);
  const line = (d: Device, name: string, extra: string) => `${name} ${d.host} ${d.port} ${d.configPath} fleet=${A} ${extra}`.trim();
  const file1 = join(tmp, 'one.txt');
  writeFileSync(file1, line(d1, u1!, '') + '\n');
  const file = join(tmp, 'devices.txt');
  // d3's line names another device's uuid (a copy-paste slip): its config.json says u3.
  writeFileSync(file, [line(d1, u1!, ''), line(d3, 'r3', `uuid=${other}`), line(d6, u6!, '')].join('\n') + '\n');
  const run = (...a: string[]) => runCli([...a, '--identity', op, '--user-known-hosts-file', kh, '--json'], { env, timeoutMs: 90_000 });
  await grantFleet(vault, A, `fv-a-${slug}`);
  const eng = newKey(tmp, 'eng');
  expect((await runCli(['cert', 'sign', '--public-key', `${eng}.pub`], { env })).code).toBe(0); // a root certificate
  const rootOpens = async (d: Device) => (await sshLogin({ device: d, key: eng, cert: `${eng}-cert.pub`, knownHosts: kh, command: 'true' })).code === 0;
  expect([await rootOpens(d1), await rootOpens(d6)]).toEqual([true, true]); // sshd honours the hidden lines

  // R1/R1b: unscoped first, then --scoped, both with the default journal: d1 is migrated, not skipped.
  const u = await run('ca', 'rollout', '--devices', file1);
  expect(u.code, u.stderr).toBe(0);
  const before3 = d3.readConfig();
  const s = await run('ca', 'rollout', '--devices', file, '--scoped');
  expect(s.code).toBe(2); // d3 refused
  const by = Object.fromEntries(JSON.parse(s.stdout).devices.map((d: { name: string }) => [d.name, d]));
  expect(by[u1!]).toMatchObject({ status: 'changed', migrated: true });
  expect(by[u1!].fromJournal).toBeUndefined();
  const scopedOf = (uuid: string) => rootLine.replace('principals="root"', `principals="device-${uuid},fleet-acme.fleet-a,break-glass"`);
  expect(keysOf(d1)).toEqual([opPub, scopedOf(u1!)]);
  // R3: nothing written on d3, one-line reason naming both uuids.
  expect(by.r3).toMatchObject({ status: 'failed', wrote: false, reason: expect.stringMatching(new RegExp(`belongs to device ${u3}, not ${other}: refusing to write device ${other}'s scoped line there; left unchanged`)) });
  expect(d3.readConfig()).toBe(before3);
  // R6: the hidden root line went in phase 2.
  expect(by[u6!]).toMatchObject({ status: 'changed', migrated: true, removed: [sneaky, escaped] });
  expect(keysOf(d6)).toEqual([opPub, commented, scopedOf(u6!)]);
  expect([await rootOpens(d1), await rootOpens(d6)]).toEqual([false, false]);
  // The journal records which edit each entry is about.
  const entries = readFileSync(join(tmp, 'state', 'fleetvault', readdirSync(join(tmp, 'state', 'fleetvault')).find((n) => n.startsWith('rollout-'))!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(entries.filter((e) => e.device === u1).map((e) => !!e.scoped)).toEqual([false, true]);
  expect(new Set(entries.filter((e) => e.device === u1).map((e) => e.edit)).size).toBe(2);

  // R2: a plain rollout (another journal) refuses to put root back over the scoped line; exit 2.
  const settled = d1.readConfig();
  const back = await run('ca', 'rollout', '--devices', file1, '--journal', join(tmp, 'j3.jsonl'));
  expect(back.code).toBe(2);
  expect(JSON.parse(back.stdout).devices[0]).toMatchObject({ status: 'failed', wrote: false, reason: expect.stringMatching(/for scoped principals only; refusing an unscoped line \(principals="root"\) .*left unchanged: add --scoped to keep it scoped, or --unscope to replace it on purpose$/) });
  expect(d1.readConfig()).toBe(settled);
  expect(await rootOpens(d1)).toBe(false);

  // R7: d6 also trusting an old CA for root is not "scoped", and the device line says why.
  const oldCa = readFileSync(`${newKey(tmp, 'old-ca')}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(d6.configPath, JSON.stringify({ ...JSON.parse(d6.readConfig()), os: { sshKeys: [...keysOf(d6), `cert-authority,principals="root" ${oldCa} old`] } }, null, 2) + '\n');
  const both = join(tmp, 'both.txt');
  writeFileSync(both, [line(d1, u1!, ''), line(d6, u6!, '')].join('\n') + '\n');
  const st = await run('ca', 'status', '--devices', both);
  expect(JSON.parse(st.stdout)).toMatchObject({ scoped: 1, unscoped: 1 });
  expect(JSON.parse(st.stdout).devices[1]).toMatchObject({ scope: 'unscoped', currentScope: 'scoped', scopeWhy: expect.stringMatching(/^also trusts CA SHA256:\S+ for unscoped principals$/) });

  // --unscope replaces the scoped line on purpose.
  const unscope = await run('ca', 'rollout', '--devices', file1, '--journal', join(tmp, 'j4.jsonl'), '--unscope');
  expect(unscope.code, unscope.stderr).toBe(0);
  expect(keysOf(d1)).toEqual([opPub, rootLine]);

  // Review #14b catch-all: trust fleetvault cannot see in config.json (here sshd's own
  // TrustedUserCAKeys) — the run proves a root certificate is refused and fails the device if not.
  const ca = join(tmp, 'ca.pub');
  writeFileSync(ca, rootLine.split(' ').slice(1, 3).join(' ') + '\n');
  writeFileSync(join(d6.dir, 'sshd_config'), readFileSync(join(d6.dir, 'sshd_config'), 'utf8') + `TrustedUserCAKeys ${ca}\n`);
  process.kill(d6.child.pid!, 'SIGHUP'); // sshd -D re-executes itself with the new configuration
  for (let i = 0; i < 50 && !(await rootOpens(d6)); i++) await new Promise((r) => setTimeout(r, 100));
  const file6 = join(tmp, 'd6.txt');
  writeFileSync(file6, line(d6, u6!, '') + '\n');
  const probe = await run('ca', 'rollout', '--devices', file6, '--scoped', '--journal', join(tmp, 'j5.jsonl'), '--verify-timeout', '2s');
  expect(probe.code).toBe(2);
  expect(JSON.parse(probe.stdout).devices[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^the device still accepts root certificates: an unscoped line fleetvault cannot parse remains/) });
});
