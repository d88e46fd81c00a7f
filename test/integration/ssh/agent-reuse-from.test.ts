// src/ssh/agent.ts pickReusable: `ssh --agent --from CIDR` signs a certificate bound to CIDR
// (critical option source-address) and leaves it in the agent. A later `ssh --agent` without --from
// must not reuse it: from any other address the device refuses it, and no new certificate is asked for.
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

test('ssh --agent without --from never reuses a certificate bound to other source addresses', { timeout: 90_000 }, async ({ vault, devices, tmp }) => {
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
    // Bound to a network this machine is not on: that login is refused, as asked.
    const bound = await runCli([...base, '--from', '192.0.2.0/24', '--', 'true'], { env });
    expect(bound.code).not.toBe(0);
    const plain = await runCli([...base, '--', 'true'], { env });
    expect(plain.code, plain.stderr).toBe(0);
  } finally {
    agent.kill();
  }
});
