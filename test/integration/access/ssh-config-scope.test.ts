// `fleetvault ssh-config --scope device|fleet` on a real OpenBao, real sshd devices whose
// cert-authority lines are scoped, and plain OpenSSH: the ProxyCommand asks Vault for the
// connection's own principal, reuses an agent certificate only for exactly that principal (device
// A's never for device B), and a missing grant ends with the access module's one line.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scopedFleet } from '../../support/access.js';
import { test, expect } from '../../support/context.js';
import { runSsh, startSshAgent } from '../../support/ssh.js';
import { runCli, type CliResult } from '../../support/cli.js';
import type { Device } from '../../../src/dev/device.js';
import { agentCertificates } from '../../../src/ssh/agent.js';

/** Plain ssh as a user runs it; stdout trimmed. */
const ssh = async (args: string[], env: Record<string, string>) => { const r = await runSsh(args, env); return { ...r, stdout: r.stdout.trim() }; };


function oneLine(r: CliResult, code: number, re: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^fleetvault: /);
  expect(r.stderr).toMatch(re);
}


test('ssh-config --scope device|fleet: plain ssh root@<uuid>.balena gets exactly its own principal', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  const F = 'acme/fleet-f';
  // Two devices of fleet F, scoped: each trusts device-<its uuid>, fleet-acme.fleet-f, break-glass.
  const { aliceToken, admin, api, devices: two } = await scopedFleet(vault, devices, { slug, group, fleet: F, count: 2 });
  const [a, b] = [two[0]!, two[1]!];
  // ssh checks the host key under the name it was given: [<uuid>.balena]:port.
  const kh = join(tmp, 'known_hosts');
  writeFileSync(kh, [a, b].flatMap((d) => [d.uuid, d.uuid.slice(0, 7)].map((n) => `[${n}.balena]:${d.port} ${d.knownHostsLine.split(' ').slice(1).join(' ')}`)).join('\n') + '\n');
  const sock = join(tmp, 'agent.sock');
  await startSshAgent(sock);

  expect((await runCli(['access', 'grant', '--device', a.uuid, '--group', group], { env: admin })).code).toBe(0);
  expect((await runCli(['access', 'grant', '--fleet', F, '--group', group], { env: admin })).code).toBe(0);

  // FLEETVAULT_SCOPE=device is --scope device; the snippet carries it, not ssh's environment.
  const deviceSnippet = await runCli(['ssh-config'], { env: { ...vault.env, FLEETVAULT_SCOPE: 'device' } });
  expect(deviceSnippet.code, deviceSnippet.stderr).toBe(0);
  expect(deviceSnippet.stdout).toMatch(/ProxyCommand ".*" ".*cli\.js" ssh-proxy --user %r --scope device %h %p/);
  const deviceCfg = join(tmp, 'ssh_config-device');
  writeFileSync(deviceCfg, deviceSnippet.stdout);
  const fleetSnippet = await runCli(['ssh-config', '--scope', 'fleet', '--fleet', 'ACME/fleet-f'], { env: vault.env });
  expect(fleetSnippet.code, fleetSnippet.stderr).toBe(0);
  expect(fleetSnippet.stdout).toContain('ssh-proxy --user %r --scope fleet --fleet acme/fleet-f %h %p');
  const fleetCfg = join(tmp, 'ssh_config-fleet');
  writeFileSync(fleetCfg, fleetSnippet.stdout);

  // The ProxyCommand's environment: alice's token, balena's API for the <uuid>.balena lookup, the
  // direct route to the ip_address balena reports.
  const env = {
    PATH: process.env.PATH!, HOME: tmp, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), SSH_AUTH_SOCK: sock,
    ...vault.env, VAULT_TOKEN: aliceToken, BALENA_TOKEN: api.apiKey, FLEETVAULT_BALENA_URL: api.url, FLEETVAULT_VIA: 'direct',
  };
  const login = (cfg: string, d: Device, name: string) => ssh(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10', '-p', String(d.port), `root@${name}.balena`, 'id -un'], env);
  const principals = async () => (await agentCertificates({ PATH: env.PATH, SSH_AUTH_SOCK: sock })).map((c) => c.principals.join(','));
  const signs = async (principal: string) => {
    await new Promise((r) => setTimeout(r, 300));
    return readFileSync(vault.auditLog, 'utf8').split('\n')
      .filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${vault.layout.sshMount}/sign/${principal}"`)).length;
  };

  const first = await login(deviceCfg, a, a.uuid);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toBe('root');
  expect(await principals()).toEqual([`device-${a.uuid}`]);
  // Again, and by its short uuid (the full one from balena): the agent's certificate is reused.
  expect((await login(deviceCfg, a, a.uuid)).code).toBe(0);
  const short = await login(deviceCfg, a, a.uuid.slice(0, 7));
  expect(short.code, short.stderr).toBe(0);
  expect(await signs(`device-${a.uuid}`)).toBe(1);

  // Device B with the same snippet: A's certificate is not reused; Vault refuses B's principal.
  const refused = await login(deviceCfg, b, b.uuid);
  expect(refused.code).toBe(255);
  const ours = refused.stderr.split('\n').filter((l) => l.startsWith('fleetvault: '));
  expect(ours, refused.stderr).toEqual([
    `fleetvault: failed to sign a certificate for device ${b.uuid}: your Vault identity has no grant for principal device-${b.uuid} (ask an administrator: fleetvault access grant --device ${b.uuid} --group <your group>)`,
  ]);
  expect(await principals()).toEqual([`device-${a.uuid}`]);
  // The ProxyCommand's own status: 2, a runtime refusal (ssh reports 255 for any proxy failure).
  oneLine(await runCli(['ssh-proxy', '--scope', 'device', `${b.uuid}.balena`, String(b.port)], { env }), 2, new RegExp(`no grant for principal device-${b.uuid}`));

  // Fleet scope opens B; the agent now holds both scoped certificates side by side.
  const viaFleet = await login(fleetCfg, b, b.uuid);
  expect(viaFleet.code, viaFleet.stderr).toBe(0);
  expect(viaFleet.stdout).toBe('root');
  expect((await principals()).sort()).toEqual([`device-${a.uuid}`, 'fleet-acme.fleet-f'].sort());
  expect((await login(fleetCfg, a, a.uuid)).code).toBe(0);
  expect(await signs('fleet-acme.fleet-f')).toBe(1);
  expect(execFileSync('ssh-add', ['-l'], { env }).toString()).toMatch(/fleetvault-fleet-acme\.fleet-f/);
});

test('ssh-config --scope and ssh-proxy: what cannot carry the scope is refused, exit 1, one line, before Vault or balena', async ({ tmp }) => {
  // Vault and balena are unreachable: reaching either would be exit 2.
  const env = { HOME: tmp, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 't', BALENA_TOKEN: 'k', BALENARC_API_URL: 'http://127.0.0.1:1', SSH_AUTH_SOCK: join(tmp, 'no-agent') };
  oneLine(await runCli(['ssh-config', '--scope', 'fleet', '--fleet', 'acme/a,b'], { env }), 1, /fleet slug "acme\/a,b" refused: character "," is not allowed/);
  oneLine(await runCli(['ssh-config', '--scope', 'fleet', '--fleet', 'acme/"x'], { env }), 1, /character "\\"" is not allowed/);
  oneLine(await runCli(['ssh-config', '--scope', 'fleet'], { env }), 1, /--scope fleet needs .*--fleet ORG\/FLEET/);
  oneLine(await runCli(['ssh-config', '--fleet', 'acme/a'], { env }), 1, /--fleet only goes with --scope fleet/);
  oneLine(await runCli(['ssh-config', '--scope', 'device', '--hosts', '10.0.3.*'], { env }), 1, /--scope device cannot cover host pattern "10\.0\.3\.\*"/);
  oneLine(await runCli(['ssh-proxy', '--scope', 'device', '10.0.3.17', '22222'], { env }), 1, /--scope device needs a <uuid>\.balena host name, got "10\.0\.3\.17"/);
  oneLine(await runCli(['ssh-proxy', '--scope', 'device', 'vm.balena', '22222'], { env }), 1, /invalid balena uuid "vm"/);
  oneLine(await runCli(['ssh-proxy', '--scope', 'fleet', '--fleet', 'acme/a b', '10.0.3.17', '22222'], { env }), 1, /character " " is not allowed/);
  // A default snippet's ProxyCommand ignores FLEETVAULT_SCOPE/FLEETVAULT_FLEET exported for other
  // commands: it goes on to the agent (absent here) instead of refusing the scope or the slug.
  const exported = { ...env, FLEETVAULT_SCOPE: 'device', FLEETVAULT_FLEET: 'acme/a b' };
  oneLine(await runCli(['ssh-proxy', '--user', 'root', '10.0.3.17', '22222'], { env: exported }), 1, /failed to list ssh-agent identities/);
});
