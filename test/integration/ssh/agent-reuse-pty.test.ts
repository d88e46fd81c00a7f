// src/ssh/agent.ts pickReusable: `fleetvault ssh --agent -- cmd` signs without permit-pty (a command
// needs none) and leaves that certificate in the agent. The next interactive `ssh --agent` (or the
// ssh-config ProxyCommand, which signs with permit-pty for interactive logins) reuses it: same user,
// same CA, valid — but the device refuses the terminal ("PTY allocation request failed").
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

async function startAgent(sock: string): Promise<ChildProcess> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  return agent;
}

test('an interactive ssh --agent never reuses a certificate without permit-pty', { timeout: 90_000 }, async ({ vault, devices, tmp }) => {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const d = await devices.start({ config });
  const kh = knownHostsFor(tmp, [d]);
  const sock = join(tmp, 'agent.sock');
  const agent = await startAgent(sock);
  try {
    const env = { ...vault.env, SSH_AUTH_SOCK: sock, HOME: tmp };
    const base = ['ssh', 'd', '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--agent', '--json'];
    const cmd = await runCli([...base, '--', 'true'], { env });
    expect(cmd.code, cmd.stderr).toBe(0);
    // Interactive (no command), with a terminal asked for as a user's terminal would.
    const login = await runCli([...base, '-o', 'RequestTTY=force'], { env, input: 'exit 0\n' });
    expect(login.stderr).not.toMatch(/PTY allocation request failed/);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stderr.trim().split('\n').pop()!)).toMatchObject({ reusedAgentCertificate: false });
    // The new one (with permit-pty) serves both kinds of login from now on.
    await new Promise((r) => setTimeout(r, 300));
    const again = await runCli([...base, '-o', 'RequestTTY=force'], { env, input: 'exit 0\n' });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stderr.trim().split('\n').pop()!)).toMatchObject({ reusedAgentCertificate: true });
    const cmd2 = await runCli([...base, '--', 'true'], { env });
    expect(JSON.parse(cmd2.stderr.trim().split('\n').pop()!)).toMatchObject({ reusedAgentCertificate: true });
  } finally {
    agent.kill();
  }
});
