// src/ssh/agent.ts pruneScopedAgentCertificates, with logins in parallel (a shell loop with `&`,
// ansible's forks, pssh): every ProxyCommand adds its device's certificate and then removes all
// fleetvault scoped certificates but the newest other one — which used to include the ones that
// concurrent ProxyCommands had just added and whose ssh had not authenticated yet ("Permission
// denied (publickey)", 2 of 4 on every review run). Each login now marks the certificate it
// presents as in flight (src/ssh/agent-in-flight.ts) and the bound leaves marked ones alone.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceScopedSshConfig, scopedFleet, startScopedDevice } from '../../support/access.js';
import { test, expect } from '../../support/context.js';
import { runSsh, startSshAgent } from '../../support/ssh.js';
import { runCli } from '../../support/cli.js';
import type { Device } from '../../../src/dev/device.js';
import { agentCertificates } from '../../../src/ssh/agent.js';

test('ssh-config --scope device: four logins to four devices at once all succeed, and the bound holds again afterwards', { timeout: 180_000 }, async ({ vault, devices, tmp, slug }) => {
  const group = `par-${slug}`;
  const F = 'acme/fleet-p';
  const { aliceToken, admin, api, devices: all } = await scopedFleet(vault, devices, { slug, group, fleet: F, count: 4 });
  const kh = join(tmp, 'known_hosts');
  writeFileSync(kh, all.map((d) => `[${d.uuid}.balena]:${d.port} ${d.knownHostsLine.split(' ').slice(1).join(' ')}`).join('\n') + '\n');
  const sock = join(tmp, 'agent.sock');
  await startSshAgent(sock);
  const { cfg, env } = await deviceScopedSshConfig(vault, { tmp, group, aliceToken, admin, api, devices: all, agentSock: sock });
  const login = async (d: Device & { uuid: string }, i: number) => {
    const r = await runSsh(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=20', '-p', String(d.port), `root@${d.uuid}.balena`, 'id -un'], env);
    return `device ${i + 1}: ${r.code === 0 && r.stdout.trim() === 'root' ? 'ok' : `exit ${r.code} ${r.stderr.split('\n').filter((l) => /Too many|denied|fleetvault:/.test(l)).join(' | ')}`}`;
  };
  for (let round = 0; round < 2; round++) {
    const results = await Promise.all(all.map(login));
    expect(results, `round ${round + 1}`).toEqual(all.map((_, i) => `device ${i + 1}: ok`));
  }
  // Every ProxyCommand has exited: no marker left, and the next login's bound applies again.
  const markers = join(tmp, '.cache', 'fleetvault', 'agent-in-flight');
  expect(existsSync(markers) ? readdirSync(markers).flatMap((d) => readdirSync(join(markers, d))) : []).toEqual([]);
  const scoped = async () => (await agentCertificates({ SSH_AUTH_SOCK: sock, PATH: process.env.PATH! })).filter((c) => c.principals.some((p) => p.startsWith('device-')));
  expect((await scoped()).length).toBeGreaterThan(2);
  const fifth = await startScopedDevice(vault, devices, api, F);
  expect((await runCli(['access', 'grant', '--device', fifth.uuid, '--group', group], { env: admin })).code).toBe(0);
  writeFileSync(kh, `[${fifth.uuid}.balena]:${fifth.port} ${fifth.knownHostsLine.split(' ').slice(1).join(' ')}\n`, { flag: 'a' });
  expect(await login(fifth, 4)).toBe('device 5: ok');
  expect((await scoped()).length).toBeLessThanOrEqual(2);
});
