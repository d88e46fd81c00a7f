// src/ssh/agent.ts pickReusable: what `ssh --agent` may reuse from the agent besides "same user,
// current CA, still valid".
// - `fleetvault ssh --agent -- cmd` signs without permit-pty (a command needs none) and leaves that
// certificate in the agent. The next interactive `ssh --agent` (or the
// ssh-config ProxyCommand, which signs with permit-pty for interactive logins) reuses it: same user,
// same CA, valid — but the device refuses the terminal ("PTY allocation request failed").
// - `ssh --agent --from CIDR` signs a certificate bound to CIDR
// (critical option source-address) and leaves it in the agent. A later `ssh --agent` without --from
// must not reuse it: from any other address the device refuses it, and no new certificate is asked for.
import { join } from 'node:path';
import { test, expect, type VaultFixture } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, startSshAgent } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';

/** A device trusting the CA, a private agent, and the `fleetvault ssh --agent --json` command line for it. */
async function agentLogin(vault: VaultFixture, devices: { start(o: { config: Record<string, unknown> }): Promise<Device> }, tmp: string) {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const d = await devices.start({ config });
  const kh = knownHostsFor(tmp, [d]);
  const sock = join(tmp, 'agent.sock');
  await startSshAgent(sock);
  const env = { ...vault.env, SSH_AUTH_SOCK: sock, HOME: tmp };
  const base = ['ssh', 'd', '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--agent', '--json'];
  return { env, base };
}

test('an interactive ssh --agent never reuses a certificate without permit-pty', { timeout: 90_000 }, async ({ vault, devices, tmp }) => {
  const { env, base } = await agentLogin(vault, devices, tmp);
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
});

test('ssh --agent without --from never reuses a certificate bound to other source addresses', { timeout: 90_000 }, async ({ vault, devices, tmp }) => {
  const { env, base } = await agentLogin(vault, devices, tmp);
  // Bound to a network this machine is not on: that login is refused, as asked.
  const bound = await runCli([...base, '--from', '192.0.2.0/24', '--', 'true'], { env });
  expect(bound.code).not.toBe(0);
  const plain = await runCli([...base, '--', 'true'], { env });
  expect(plain.code, plain.stderr).toBe(0);
});
