// src/ssh/agent.ts reusableAgentCertificate: "stale" is any fleetvault certificate for the user from
// a CA other than the one *this* server signs with now — which is also every certificate from
// another server (fleetvault contexts: staging and prod). An engineer who alternates between two
// servers (`--context staging` / `--context prod`, or two ssh-config blocks) loses the other
// server's certificate on every login, and each switch back signs again.
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, startSshAgent } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';
import { startDevServer } from '../../../src/dev/openbao.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';

test('ssh --agent against server B keeps server A\'s certificate: back on A it is reused', { timeout: 120_000 }, async ({ vault, devices, tmp }) => {
  const b = await startDevServer({ dir: join(tmp, 'bao-b') });
  const sock = join(tmp, 'agent.sock');
  const agent = await startSshAgent(sock);
  try {
    const rootB = new VaultClient({ address: b.address, token: b.rootToken });
    await bootstrapVault({ client: rootB, layout: vault.layout, factoryCidrs: ['127.0.0.0/8'] });
    const envA = { ...vault.env, SSH_AUTH_SOCK: sock, HOME: tmp };
    const envB = { ...envA, VAULT_ADDR: b.address, VAULT_TOKEN: b.rootToken };
    // One device that trusts both servers' CAs (staging and prod both reach it, say).
    const lines = await Promise.all([envA, envB].map(async (e) => (await runCli(['ca', 'authorized-key'], { env: e })).stdout.trim()));
    const config = defaultDeviceConfig('d');
    (config.os as { sshKeys: string[] }).sshKeys = lines;
    const d = await devices.start({ config });
    const kh = knownHostsFor(tmp, [d]);
    const args = ['ssh', 'd', '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--agent', '--json', '--', 'true'];
    const last = (r: { stderr: string }) => JSON.parse(r.stderr.trim().split('\n').pop()!);
    const a1 = await runCli(args, { env: envA });
    expect(a1.code, a1.stderr).toBe(0);
    const b1 = await runCli(args, { env: envB });
    expect(b1.code, b1.stderr).toBe(0);
    const a2 = await runCli(args, { env: envA });
    expect(a2.code, a2.stderr).toBe(0);
    expect(last(a2)).toMatchObject({ reusedAgentCertificate: true });
  } finally {
    agent.kill();
    await b.stop();
  }
});
