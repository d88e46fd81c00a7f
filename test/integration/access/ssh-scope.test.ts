// `fleetvault ssh --scope device|fleet | --break-glass | --from` on a real OpenBao and real sshd
// devices in two fleets whose cert-authority lines are scoped: the session's certificate opens only
// what its scope names, refusals end before ssh runs, and --agent reuses only a same-scope certificate.
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { adminEnv, deviceUuid, groupMember } from '../../support/access.js';
import { test, expect } from '../../support/context.js';
import { runCli, type CliResult } from '../../support/cli.js';
import { knownHostsFor, startSshAgent } from '../../support/ssh.js';
import { startBalenaApi } from '../../support/balena-api.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';

const uuid = deviceUuid;


function oneLine(r: CliResult): void {
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
}

const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!) as { reusedAgentCertificate: boolean; exitCode: number; principal: string };

test('ssh --scope fleet|device|--break-glass: each certificate opens only what its scope names', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  const aliceToken = (await groupMember(vault, slug, group)).token;
  const admin = await adminEnv(vault);
  const A = 'acme/fleet-a';
  const B = 'acme/fleet-b';
  const start = async (fleet: string): Promise<Device & { uuid: string }> => {
    const id = uuid();
    const line = await runCli(['ca', 'authorized-key', '--device', id, '--fleet', fleet], { env: vault.env });
    expect(line.code, line.stderr).toBe(0);
    const config = defaultDeviceConfig(id);
    (config.os as { sshKeys: string[] }).sshKeys = [line.stdout.trim()];
    return Object.assign(await devices.start({ config, name: id.slice(0, 8) }), { uuid: id });
  };
  const [a1, a2, b1] = [await start(A), await start(A), await start(B)];
  const kh = knownHostsFor(tmp, [a1, a2, b1]);
  const sock = join(tmp, 'agent.sock');
  await startSshAgent(sock);
  const env = { ...vault.env, VAULT_TOKEN: aliceToken, SSH_AUTH_SOCK: sock };
  // The device positional is a uuid; --host keeps balena out of it (uuid and fleet come from flags).
  const ssh = (d: Device & { uuid: string }, ...extra: string[]) => runCli([
    'ssh', d.uuid, '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', ...extra, '--', 'true',
  ], { env });

  // No grant yet: Vault refuses, exit 2, the access module's one line, before ssh runs.
  const none = await ssh(a1, '--scope', 'fleet', '--fleet', A);
  expect(none.code).toBe(2);
  oneLine(none);
  expect(none.stderr).toContain(`no grant for principal fleet-acme.fleet-a (ask an administrator: fleetvault access grant --fleet ${A} --group <your group>)`);
  // The default is still principal root (the engineer role, which alice is not granted): exit 2;
  // and a root certificate (Vault's root token may sign it) is refused by a scoped device's sshd.
  expect((await ssh(a1)).code).toBe(2);
  expect((await runCli(['ssh', a1.uuid, '--host', a1.host, '--port', String(a1.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--', 'true'], { env: vault.env })).code).toBe(255);

  expect((await runCli(['access', 'grant', '--fleet', A, '--group', group], { env: admin })).code).toBe(0);
  expect((await ssh(a1, '--scope', 'fleet', '--fleet', A)).code).toBe(0);
  expect((await ssh(a2, '--scope', 'fleet', '--fleet', A)).code).toBe(0);
  // B's sshd refuses a fleet-A certificate (asked for B's device with fleet A's scope)...
  expect((await ssh(b1, '--scope', 'fleet', '--fleet', A)).code).toBe(255);
  // ...and Vault refuses fleet B's principal.
  const fb = await ssh(b1, '--scope', 'fleet', '--fleet', B);
  expect(fb.code).toBe(2);
  oneLine(fb);

  // Device scope: uuid from the positional, or --device-uuid; opens only that device.
  expect((await runCli(['access', 'grant', '--device', a1.uuid, '--group', group], { env: admin })).code).toBe(0);
  expect((await ssh(a1, '--scope', 'device')).code).toBe(0);
  expect((await ssh(a2, '--scope', 'device', '--device-uuid', a1.uuid)).code).toBe(255);
  const d2 = await ssh(a2, '--scope', 'device');
  expect(d2.code).toBe(2);
  oneLine(d2);
  expect(d2.stderr).toContain(`no grant for principal device-${a2.uuid}`);

  // --agent: a fleet certificate is reused for the fleet, never for a device-scoped login.
  const f1 = await ssh(a2, '--scope', 'fleet', '--fleet', A, '--agent', '--json');
  expect(lastJson(f1.stderr)).toMatchObject({ exitCode: 0, reusedAgentCertificate: false, principal: 'fleet-acme.fleet-a' });
  const f2 = await ssh(a1, '--scope', 'fleet', '--fleet', A, '--agent', '--json');
  expect(lastJson(f2.stderr)).toMatchObject({ exitCode: 0, reusedAgentCertificate: true });
  const dv = await ssh(a1, '--scope', 'device', '--agent', '--json');
  expect(lastJson(dv.stderr)).toMatchObject({ exitCode: 0, reusedAgentCertificate: false, principal: `device-${a1.uuid}` });
  const d3 = await ssh(a1, '--scope', 'device', '--agent', '--json');
  expect(lastJson(d3.stderr)).toMatchObject({ exitCode: 0, reusedAgentCertificate: true });
  // A device grant for a2 is missing: the agent's a1 and fleet certificates are not offered as reuse.
  const d4 = await ssh(a2, '--scope', 'device', '--agent');
  expect(d4.code).toBe(2);

  // Break-glass: no reason is a usage error (exit 1) before anything; with a reason it opens B too.
  const noReason = await ssh(b1, '--break-glass');
  expect(noReason.code).toBe(1);
  oneLine(noReason);
  expect((await runCli(['access', 'grant', '--break-glass', '--group', group], { env: admin })).code).toBe(0);
  expect((await ssh(b1, '--break-glass', '--reason', `INC-7 ${slug}`)).code).toBe(0);

  // --from narrows: a certificate bound to another address is refused by sshd; loopback is accepted.
  expect((await ssh(a1, '--scope', 'fleet', '--fleet', A, '--from', '198.51.100.0/24')).code).toBe(255);
  expect((await ssh(a1, '--scope', 'fleet', '--fleet', A, '--from', '127.0.0.0/8')).code).toBe(0);
});

test('ssh scope flags: bad combinations are exit 1, one line, before balena or Vault', async ({ vault, tmp }) => {
  // VAULT_ADDR points nowhere reachable: any of these reaching Vault would be exit 2, not 1.
  const env = { ...vault.env, VAULT_ADDR: 'http://127.0.0.1:9', HOME: tmp };
  const id = uuid();
  const cases: string[][] = [
    ['ssh', id, '--host', '127.0.0.1', '--break-glass'],
    ['ssh', id, '--host', '127.0.0.1', '--break-glass', '--reason', ' '],
    ['ssh', id, '--host', '127.0.0.1', '--break-glass', '--reason', 'x', '--scope', 'fleet', '--fleet', 'acme/a'],
    ['ssh', id, '--host', '127.0.0.1', '--break-glass', '--reason', 'x', '--scope', 'root'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'device', '--device-uuid', id, '--device-uuid', id],
    ['ssh', id.slice(0, 7), '--host', '127.0.0.1', '--scope', 'device'],
    ['ssh', '10.0.0.1', '--scope', 'device'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'device', '--device-uuid', 'nope'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'fleet'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'fleet', '--fleet', 'acme/a,b'],
    ['ssh', id, '--host', '127.0.0.1', '--fleet', 'acme/a'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'fleet', '--fleet', 'acme/a', '--from', '10.0.0.0/33'],
    ['ssh', id, '--host', '127.0.0.1', '--scope', 'everything'],
  ];
  for (const args of cases) {
    const r = await runCli(args, { env });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
    if (!args.includes('everything')) oneLine(r);
  }
});

test('ssh <short uuid> --scope device|fleet: uuid and fleet come from the balena lookup', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  const aliceToken = (await groupMember(vault, slug, group)).token;
  const admin = await adminEnv(vault);
  const api = await startBalenaApi({ fleetSlug: 'acme/Sensors' });
  onTestFinished(() => api.stop());
  const id = uuid();
  const line = await runCli(['ca', 'authorized-key', '--device', id, '--fleet', 'acme/sensors'], { env: vault.env });
  const config = defaultDeviceConfig(id);
  (config.os as { sshKeys: string[] }).sshKeys = [line.stdout.trim()];
  const d = await devices.start({ config, name: id.slice(0, 8) });
  api.addDevice({ uuid: id, ip_address: d.host, is_online: true });
  const kh = knownHostsFor(tmp, [d]);
  const env = { ...vault.env, VAULT_TOKEN: aliceToken, BALENA_TOKEN: api.apiKey };
  const ssh = (...extra: string[]) => runCli(['ssh', id.slice(0, 7), '--via', 'direct', '--balena-url', api.url, '--port', String(d.port), '--user-known-hosts-file', kh, ...extra, '--', 'true'], { env });

  // The refusal names the fleet balena reported (slugs compare without case).
  const before = await ssh('--scope', 'fleet');
  expect(before.code).toBe(2);
  oneLine(before);
  expect(before.stderr).toContain('no grant for principal fleet-acme.sensors');
  expect((await runCli(['access', 'grant', '--fleet', 'acme/sensors', '--group', group], { env: admin })).code).toBe(0);
  expect((await runCli(['access', 'grant', '--device', id, '--group', group], { env: admin })).code).toBe(0);
  const fleet = await ssh('--scope', 'fleet');
  expect(fleet.code, fleet.stderr).toBe(0);
  const device = await ssh('--scope', 'device');
  expect(device.code, device.stderr).toBe(0);
  expect(api.requests.some((q) => q.path === '/v7/device' && /\$expand=belongs_to__application\(\$select=slug\)/.test(q.query))).toBe(true);
  expect(api.unhandled).toEqual([]);
});
