// Scoped access end to end on a real OpenBao and real sshd devices in two fleets: an administrator
// grants fleet A to an identity group; a member (a userpass login, so a real entity) gets a fleet-A
// certificate that opens A's devices and not B's, is refused a fleet-B certificate by Vault, a
// device grant opens exactly one device, and break-glass (with a reason) opens all.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { deviceUuid, groupMember } from '../../support/access.js';
import { test, expect, type VaultFixture } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { policyName } from '../../../src/vault/layout.js';

const uuid = deviceUuid;
const readKey = (key: string) => readFileSync(`${key}.pub`, 'utf8');


/** Identity groups outlive the test's mounts on the shared server: remove the test's own. */
function cleanGroups(vault: VaultFixture, group: string): void {
  onTestFinished(async () => {
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === group || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
}

async function adminToken(vault: VaultFixture): Promise<string> {
  return (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token;
}

function oneLine(r: CliResult): void {
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
}

test('a fleet grant opens that fleet\'s devices only; device grants open one device; break-glass opens all', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  cleanGroups(vault, group);
  const alice = await groupMember(vault, slug, group);
  const admin = { ...vault.env, VAULT_TOKEN: await adminToken(vault) };
  const asAlice = { ...vault.env, VAULT_TOKEN: alice.token };
  const A = 'acme/fleet-a';
  const B = 'acme/fleet-b';

  // Two fleets of devices, each trusting the CA for its own scoped principals.
  const start = async (fleet: string): Promise<Device & { uuid: string }> => {
    const id = uuid();
    const line = await runCli(['ca', 'authorized-key', '--device', id, '--fleet', fleet], { env: vault.env });
    expect(line.code, line.stderr).toBe(0);
    expect(line.stdout).toMatch(new RegExp(`^cert-authority,principals="device-${id},fleet-${fleet.replace('/', '.')},break-glass" ssh-ed25519 `));
    const config = defaultDeviceConfig(id);
    (config.os as { sshKeys: string[] }).sshKeys = [line.stdout.trim()];
    return Object.assign(await devices.start({ config, name: id.slice(0, 8) }), { uuid: id });
  };
  const [a1, a2, b1] = [await start(A), await start(A), await start(B)];
  const kh = knownHostsFor(tmp, [a1, a2, b1]);
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sign = (...scope: string[]) => runCli(['cert', 'sign', '--public-key', `${key}.pub`, ...scope], { env: asAlice });
  const opens = async () => {
    const out: Record<string, boolean> = {};
    for (const [n, d] of Object.entries({ a1, a2, b1 })) out[n] = (await sshLogin({ device: d, key, cert: `${key}-cert.pub`, knownHosts: kh, command: 'true' })).code === 0;
    return out;
  };

  // Before any grant: refused by Vault, and the refusal names the missing grant.
  const before = await sign('--fleet', A);
  expect(before.code).toBe(2);
  oneLine(before);
  expect(before.stderr).toContain(`no grant for principal fleet-acme.fleet-a (ask an administrator: fleetvault access grant --fleet ${A} --group <your group>)`);

  // The administrator grants fleet A to the group: idempotent.
  const g1 = await runCli(['access', 'grant', '--fleet', A, '--group', group, '--json'], { env: admin });
  expect(g1.code, g1.stderr).toBe(0);
  expect(JSON.parse(g1.stdout).changes.map((c: { kind: string; action: string }) => `${c.kind}:${c.action}`)).toEqual(['ssh-role:created', 'policy:created', 'group:created']);
  const g2 = await runCli(['access', 'grant', '--fleet', A, '--group', group, '--json'], { env: admin });
  expect(JSON.parse(g2.stdout).changes).toEqual([]);

  // Fleet-A certificate: opens A's devices, B's sshd refuses it.
  const fa = await sign('--fleet', A, '--json');
  expect(fa.code, fa.stderr).toBe(0);
  expect(JSON.parse(fa.stdout).principals).toEqual(['fleet-acme.fleet-a']);
  expect(await opens()).toEqual({ a1: true, a2: true, b1: false });

  // Fleet B: refused by Vault, exit 2, one line.
  const fb = await sign('--fleet', B);
  expect(fb.code).toBe(2);
  oneLine(fb);
  expect(fb.stderr).toContain('fleet acme/fleet-b');
  // Nor can she smuggle B's principal through the fleet-A role or the default role.
  const smuggle = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--principal', 'fleet-acme.fleet-b', '--ssh-role', 'fleet-acme.fleet-a'], { env: asAlice });
  expect(smuggle.code).toBe(2);

  // A device grant: a device-scoped certificate opens that one device only.
  expect((await runCli(['access', 'grant', '--device', a1.uuid, '--group', group], { env: admin })).code).toBe(0);
  const d1 = await sign('--device', a1.uuid);
  expect(d1.code, d1.stderr).toBe(0);
  expect(await opens()).toEqual({ a1: true, a2: false, b1: false });
  // No grant on a2's device principal.
  const d2 = await sign('--device', a2.uuid);
  expect(d2.code).toBe(2);
  oneLine(d2);

  // Break-glass: demands a reason (locally, and Vault's policy demands one too), then opens all.
  expect((await runCli(['access', 'grant', '--break-glass', '--group', group], { env: admin })).code).toBe(0);
  const noReason = await sign('--break-glass');
  expect(noReason.code).toBe(1);
  oneLine(noReason);
  const direct = await vault.root.write(`${vault.layout.sshMount}/sign/break-glass`, { public_key: 'x', valid_principals: 'break-glass' }, { token: alice.token }).catch((e: { status: number }) => e.status);
  expect(direct).toBe(403);
  const bg = await sign('--break-glass', '--reason', `INC-42 ${slug}`);
  expect(bg.code, bg.stderr).toBe(0);
  expect(await opens()).toEqual({ a1: true, a2: true, b1: true });
  // ...and shows up in the audit anomalies of the real audit log, with its reason.
  const anomalies = await runCli(['audit', 'anomalies', '--log', vault.auditLog, '--since', '10m', '--json'], { env: admin });
  expect(anomalies.code, anomalies.stderr).toBe(0);
  expect((JSON.parse(anomalies.stdout) as { type: string; message: string }[]).filter((a) => a.type === 'break-glass' && a.message.includes(slug)))
    .toEqual([expect.objectContaining({ message: `break-glass certificate (reason: INC-42 ${slug})` })]);

  // audit who-can: what reaches a1 (its device, its fleet, break-glass) and b1 (break-glass only).
  const whoA1 = await runCli(['audit', 'who-can', a1.uuid, '--fleet', A, '--json'], { env: admin });
  expect(whoA1.code, whoA1.stderr).toBe(0);
  expect((JSON.parse(whoA1.stdout) as { principal: string }[]).map((g) => g.principal)).toEqual(['break-glass', `device-${a1.uuid}`, 'fleet-acme.fleet-a']);
  const whoB1 = await runCli(['audit', 'who-can', b1.uuid, '--fleet', B, '--json'], { env: admin });
  expect((JSON.parse(whoB1.stdout) as { principal: string; groups: string[] }[]).map((g) => [g.principal, g.groups])).toEqual([['break-glass', [group]]]);
  const badWho = await runCli(['audit', 'who-can', 'acme/b,x'], { env: admin });
  expect(badWho.code).toBe(1);
  oneLine(badWho);

  // list shows the three grants; revoke takes fleet A back (and is idempotent).
  const list = JSON.parse((await runCli(['access', 'list', '--json'], { env: admin })).stdout) as { principal: string; groups: string[] }[];
  expect(list.map((g) => [g.principal, g.groups])).toEqual([
    ['break-glass', [group]], [`device-${a1.uuid}`, [group]], ['fleet-acme.fleet-a', [group]],
  ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
  const r1 = await runCli(['access', 'revoke', '--fleet', A, '--group', group, '--json'], { env: admin });
  expect(r1.code, r1.stderr).toBe(0);
  expect(JSON.parse(r1.stdout).changes.map((c: { kind: string; action: string }) => `${c.kind}:${c.action}`)).toEqual(['group:deleted', 'policy:deleted', 'ssh-role:deleted']);
  expect(JSON.parse((await runCli(['access', 'revoke', '--fleet', A, '--group', group, '--json'], { env: admin })).stdout).changes).toEqual([]);
  expect((await sign('--fleet', A)).code).toBe(2);
});

test('bad grants: exit 1 or 2, one line, nothing changed in Vault', async ({ vault, slug }) => {
  const group = `oncall-${slug}`;
  cleanGroups(vault, group);
  await vault.root.write(`identity/group/name/${group}`, { type: 'internal' });
  const admin = { ...vault.env, VAULT_TOKEN: await adminToken(vault) };
  const state = async () => JSON.stringify([
    (await vault.root.list('identity/group/name')).filter((n) => n.startsWith(vault.layout.policyPrefix)).sort(),
    (await vault.root.list(`${vault.layout.sshMount}/roles`)).sort(),
    (await vault.root.list('sys/policies/acl')).filter((n) => n.startsWith(vault.layout.policyPrefix)).sort(),
  ]);
  const initial = await state();
  const cases: [string[], number][] = [
    [['--fleet', 'acme/sen,sors', '--group', group], 1],
    [['--fleet', 'acme/"x', '--group', group], 1],
    [['--fleet', 'acme/my fleet', '--group', group], 1],
    [['--fleet', 'acme/flötte', '--group', group], 1],
    [['--fleet', 'acme', '--group', group], 1],
    [['--device', 'not-a-uuid', '--group', group], 1],
    [['--device', '0123456789abcdef0123456789abcde', '--group', group], 1],
    [['--fleet', 'acme/a', '--device', uuid(), '--group', group], 1],
    [['--fleet', 'acme/a'], 1],
    [['--group', group], 1],
    [['--fleet', 'acme/a', '--group', 'bad group'], 1],
    [['--fleet', 'acme/a', '--group', group, '--max-ttl', 'soon'], 1],
    [['--fleet', 'acme/a', '--group', group, '--max-ttl', '0s'], 1],
    [['--fleet', 'acme/a', '--fleet', 'acme/b', '--group', group], 1],
    [['--fleet', 'acme/a', '--group', group, '--group', group], 1],
    [['--fleet', 'acme/a', '--group', 'x/../../sys/policies'], 1],
    [['--fleet', 'acme/a', '--group', group, '--cidr', '10.0.0.0/33'], 1],
    [['--fleet', 'acme/a', '--group', `no-such-group-${slug}`], 2],
    [['--fleet', 'acme/a', '--entity', `no-such-entity-${slug}`], 2],
  ];
  for (const [args, code] of cases) {
    const r = await runCli(['access', 'grant', ...args], { env: admin });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
    oneLine(r);
    expect(r.stdout).toBe('');
  }
  expect(await state()).toBe(initial);
});

test('source addresses: a grant binds certificates to CIDRs the client cannot widen; --from narrows an unbound scope', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  cleanGroups(vault, group);
  const alice = await groupMember(vault, slug, group);
  const admin = { ...vault.env, VAULT_TOKEN: await adminToken(vault) };
  const asAlice = { ...vault.env, VAULT_TOKEN: alice.token };
  const id = uuid();
  const line = (await runCli(['ca', 'authorized-key', '--device', id, '--fleet', 'acme/a'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig(id);
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const device = await devices.start({ config });
  const kh = knownHostsFor(tmp, [device]);
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  // The client's source address is chosen with BindAddress: 127.0.0.1 inside, 127.0.0.254 outside.
  const loginFrom = async (source: string) => (await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh, command: 'true', extra: ['-o', `BindAddress=${source}`] })).code;

  // Fleet bound to 127.0.0.1/32 by its grant.
  const g = await runCli(['access', 'grant', '--fleet', 'acme/a', '--group', group, '--cidr', '127.0.0.1/32'], { env: admin });
  expect(g.code, g.stderr).toBe(0);
  const s = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--fleet', 'acme/a', '--json'], { env: asAlice });
  expect(s.code, s.stderr).toBe(0);
  expect(JSON.parse(s.stdout).criticalOptions).toEqual({ 'source-address': '127.0.0.1/32' });
  expect(await loginFrom('127.0.0.1')).toBe(0);
  expect(await loginFrom('127.0.0.254')).toBe(255);
  // The client cannot replace the binding: --from (or any critical option) is refused by Vault.
  const widen = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--fleet', 'acme/a', '--from', '0.0.0.0/0'], { env: asAlice });
  expect(widen.code).toBe(2);
  oneLine(widen);
  const direct = await vault.root.write(`${vault.layout.sshMount}/sign/fleet-acme.a`, { public_key: readKey(key), valid_principals: 'fleet-acme.a', critical_options: { 'source-address': '0.0.0.0/0' } }, { token: alice.token })
    .catch((e: { status: number }) => e.status);
  expect(direct).toBe(403);
  expect(JSON.parse((await runCli(['access', 'list', '--json'], { env: admin })).stdout)[0].sourceCidrs).toEqual(['127.0.0.1/32']);

  // An unbound scope (the device), granted to her entity alone: --from narrows the one certificate.
  const entity = (await vault.root.read<{ name: string }>(`identity/entity/id/${alice.entityId}`)).data.name;
  const ge = await runCli(['access', 'grant', '--device', id, '--entity', entity, '--json'], { env: admin });
  expect(ge.code, ge.stderr).toBe(0);
  expect(JSON.parse((await runCli(['access', 'list', '--device', id, '--json'], { env: admin })).stdout)).toMatchObject([{ entities: [entity], groups: [] }]);
  const n = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--device', id, '--from', '127.0.0.1', '--json'], { env: asAlice });
  expect(n.code, n.stderr).toBe(0);
  expect(JSON.parse(n.stdout).criticalOptions).toEqual({ 'source-address': '127.0.0.1/32' });
  expect(await loginFrom('127.0.0.1')).toBe(0);
  expect(await loginFrom('127.0.0.254')).toBe(255);
});
