// `fleetvault ssh-config --scope device` across many devices, on a real OpenBao and real sshd
// devices with sshd's default MaxAuthTries (6). Each device needs its own certificate, and ssh
// offers every agent identity in turn (each fleetvault entry is one: its certificate; the plain key
// is dropped right after ssh-add, and the user's own keys come first).
// Without a bound, the agent fills with earlier devices' certificates and the next device refuses
// the login ("Too many authentication failures") before its own certificate is offered. fleetvault
// keeps at most the new scoped certificate plus the most recent other one, and never touches the
// user's own keys.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceScopedSshConfig, scopedFleet } from '../../support/access.js';
import { test, expect } from '../../support/context.js';
import { runSsh, startSshAgent } from '../../support/ssh.js';
import { runCli } from '../../support/cli.js';
import type { Device } from '../../../src/dev/device.js';
import { agentCertificates } from '../../../src/ssh/agent.js';

/** Plain ssh as a user runs it; stdout trimmed. */
const ssh = async (args: string[], env: Record<string, string>) => { const r = await runSsh(args, env); return { ...r, stdout: r.stdout.trim() }; };

test('ssh-config and ssh --agent with --scope device: logins to five devices in a row all succeed with four of the user\'s own keys in the agent (MaxAuthTries 6)', async ({ vault, devices, tmp, slug }) => {
  const group = `oncall-${slug}`;
  const F = 'acme/fleet-m';
  const { aliceToken, admin, api, devices: all } = await scopedFleet(vault, devices, { slug, group, fleet: F, count: 5 });
  // The simulated devices leave MaxAuthTries at sshd's default (6), as balenaOS does.
  for (const d of all) expect(readFileSync(join(d.dir, 'sshd_config'), 'utf8')).not.toMatch(/MaxAuthTries/i);
  const kh = join(tmp, 'known_hosts');
  // Under both names ssh is given: [<uuid>.balena]:port (ssh-config) and [<ip>]:port (ssh --host).
  writeFileSync(kh, all.flatMap((d) => [`${d.uuid}.balena`, d.host].map((n) => `[${n}]:${d.port} ${d.knownHostsLine.split(' ').slice(1).join(' ')}`)).join('\n') + '\n');
  const sock = join(tmp, 'agent.sock');
  await startSshAgent(sock);
  const agentEnv = { PATH: process.env.PATH!, SSH_AUTH_SOCK: sock };

  // The engineer's own keys, already in the agent (ssh offers them first): devices refuse them.
  for (const n of ['id_ed25519', 'id_work', 'id_old', 'id_ci']) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `alice-${n}`, '-f', join(tmp, n)]);
    execFileSync('ssh-add', ['-q', join(tmp, n)], { env: agentEnv });
  }
  const own = () => execFileSync('ssh-add', ['-L'], { env: agentEnv }).toString().split('\n').filter((l) => / alice-id_/.test(l)).sort();
  const ownBefore = own();
  expect(ownBefore).toHaveLength(4);

  const { cfg, env } = await deviceScopedSshConfig(vault, { tmp, group, aliceToken, admin, api, devices: all, agentSock: sock });
  const login = (d: Device & { uuid: string }) => ssh(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10', '-p', String(d.port), `root@${d.uuid}.balena`, 'id -un'], env);
  const ours = async () => (await agentCertificates(agentEnv)).filter((c) => c.principals.some((p) => p.startsWith('device-'))).map((c) => c.principals.join(','));
  const fleetvaultIdentities = () => execFileSync('ssh-add', ['-l'], { env: agentEnv }).toString().split('\n').filter((l) => / fleetvault-/.test(l)).length;

  // Logins first, checks after: the reproduction shows which devices refuse, not only the count.
  const results: string[] = [];
  const held: string[][] = [];
  const identities: number[] = [];
  const owns: string[][] = [];
  for (const [i, d] of all.entries()) {
    const r = await login(d);
    results.push(`device ${i + 1}: ${r.code === 0 && r.stdout === 'root' ? 'ok' : `exit ${r.code} ${r.stderr.split('\n').filter((l) => /Too many|denied|fleetvault:/.test(l)).join(' | ')}`}`);
    held.push(await ours());
    identities.push(fleetvaultIdentities());
    owns.push(own());
  }
  expect(results).toEqual(all.map((_, i) => `device ${i + 1}: ok`));
  for (const [i, d] of all.entries()) {
    // At most the certificate just added plus the most recent other one, and no plain fleetvault key:
    // 4 own + 1 kept = 5 refused offers, the new certificate is the 6th.
    expect(held[i]!.length, `after device ${i + 1}: ${held[i]!.join(' ')}`).toBeLessThanOrEqual(2);
    expect(held[i]).toContain(`device-${d.uuid}`);
    if (i > 0) expect(held[i]).toContain(`device-${all[i - 1]!.uuid}`);
    expect(identities[i]).toBeLessThanOrEqual(2);
    expect(identities[i]).toBe(held[i]!.length);
    expect(owns[i]).toEqual(ownBefore);
  }

  // Back to the previous device: its certificate was kept, so it is reused (no new signature), and
  // the reuse path still makes its one `ssh-add -L` and nothing more (an ssh-add shim counts).
  const shim = join(tmp, 'shim');
  mkdirSync(shim);
  const calls = join(tmp, 'ssh-add.calls');
  const realSshAdd = execFileSync('sh', ['-c', 'command -v ssh-add'], { env: agentEnv }).toString().trim();
  writeFileSync(join(shim, 'ssh-add'), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${realSshAdd}' "$@"\n`);
  chmodSync(join(shim, 'ssh-add'), 0o755);
  const shimmed = { ...env, PATH: `${shim}:${env.PATH}` };
  writeFileSync(calls, '');
  const kept = await ssh(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
    '-p', String(all[3]!.port), `root@${all[3]!.uuid}.balena`, 'id -un'], shimmed);
  expect(kept.code, kept.stderr).toBe(0);
  expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['-L']);
  await new Promise((r) => setTimeout(r, 300));
  const signs = (d: { uuid: string }) => readFileSync(vault.auditLog, 'utf8').split('\n')
    .filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${vault.layout.sshMount}/sign/device-${d.uuid}"`)).length;
  expect(signs(all[3]!)).toBe(1);
  // The first device's certificate was dropped: it is signed again, and the login still succeeds.
  const again = await login(all[0]!);
  expect(again.code, again.stderr).toBe(0);
  expect(signs(all[0]!)).toBe(2);
  expect((await ours()).length).toBeLessThanOrEqual(2);
  expect(own()).toEqual(ownBefore);

  // `fleetvault ssh --agent --scope device` adds the same way and keeps the same bound.
  const cli = (d: Device & { uuid: string }) => runCli(['ssh', d.uuid, '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh,
    '--strict-host-key-checking', 'yes', '--agent', '--scope', 'device', '--', 'true'], { env: shimmed });
  for (const d of [all[1]!, all[2]!, all[3]!, all[4]!]) {
    const r = await cli(d);
    expect(r.code, r.stderr).toBe(0);
    const now = await ours();
    expect(now.length, now.join(' ')).toBeLessThanOrEqual(2);
    expect(now).toContain(`device-${d.uuid}`);
    expect(own()).toEqual(ownBefore);
  }
  // Reuse through `ssh --agent`: one `ssh-add -L`, nothing added or removed.
  writeFileSync(calls, '');
  const reused = await cli(all[4]!);
  expect(reused.code, reused.stderr).toBe(0);
  expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['-L']);
});
