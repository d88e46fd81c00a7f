// src/ssh/agent.ts pruneScopedAgentCertificates, with logins in parallel (a shell loop with `&`,
// ansible's forks, pssh): every ProxyCommand adds its device's certificate and then removes all
// fleetvault scoped certificates but the newest other one — including ones that concurrent
// ProxyCommands have just added and whose ssh has not authenticated yet. Those logins then fail
// ("Permission denied (publickey)": 2 of 4 on the review run). Not fixed: a time grace would break
// the sequential bound (five devices in a row within seconds, ssh-config-many-devices.test.ts);
// it needs the prune to know which certificates a live ProxyCommand still waits on (e.g. a lock
// per SSH_AUTH_SOCK held from ssh-add until the relay has carried the authentication).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { groupMember, startScopedDevice } from '../../support/access.js';
import { test, expect } from '../../support/context.js';
import { runSsh } from '../../support/ssh.js';
import { runCli } from '../../support/cli.js';
import { startBalenaApi } from '../../support/balena-api.js';
import type { Device } from '../../../src/dev/device.js';
import { policyName } from '../../../src/vault/layout.js';

test.fails('ssh-config --scope device: four logins to four devices at once all succeed', { timeout: 180_000 }, async ({ vault, devices, tmp, slug }) => {
  const group = `par-${slug}`;
  const aliceToken = (await groupMember(vault, slug, group)).token;
  const admin = { ...vault.env, VAULT_TOKEN: (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token };
  const F = 'acme/fleet-p';
  const api = await startBalenaApi({ fleetSlug: F });
  onTestFinished(() => api.stop());
  const start = () => startScopedDevice(vault, devices, api, F);
  const all = await Promise.all([start(), start(), start(), start()]);
  const kh = join(tmp, 'known_hosts');
  writeFileSync(kh, all.map((d) => `[${d.uuid}.balena]:${d.port} ${d.knownHostsLine.split(' ').slice(1).join(' ')}`).join('\n') + '\n');
  const sock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  onTestFinished(() => { agent.kill(); });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  for (const d of all) expect((await runCli(['access', 'grant', '--device', d.uuid, '--group', group], { env: admin })).code).toBe(0);
  const snippet = await runCli(['ssh-config', '--scope', 'device'], { env: vault.env });
  expect(snippet.code, snippet.stderr).toBe(0);
  const cfg = join(tmp, 'ssh_config');
  writeFileSync(cfg, snippet.stdout);
  const env = {
    PATH: process.env.PATH!, SSH_AUTH_SOCK: sock, HOME: tmp, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...vault.env, VAULT_TOKEN: aliceToken, BALENA_TOKEN: api.apiKey, FLEETVAULT_BALENA_URL: api.url, FLEETVAULT_VIA: 'direct',
  };
  const login = async (d: Device & { uuid: string }, i: number) => {
    const r = await runSsh(['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=20', '-p', String(d.port), `root@${d.uuid}.balena`, 'id -un'], env);
    return `device ${i + 1}: ${r.code === 0 && r.stdout.trim() === 'root' ? 'ok' : `exit ${r.code} ${r.stderr.split('\n').filter((l) => /Too many|denied|fleetvault:/.test(l)).join(' | ')}`}`;
  };
  const results = await Promise.all(all.map(login));
  expect(results).toEqual(all.map((_, i) => `device ${i + 1}: ok`));
});
