// After a CA rotation ssh-agent still holds a certificate from the old CA, valid for minutes more.
// `ssh --agent` and the ssh-config ProxyCommand must not reuse it (the device no longer trusts
// that CA: "Permission denied" and a hint blaming the device); they replace it with a certificate
// from the CA the server signs with now. A certificate from the current CA is still reused.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, startSshAgent } from '../../support/ssh.js';
import type { Device } from '../../../src/dev/device.js';
import type { VaultClient } from '../../../src/vault/client.js';

/** A new CA generated inside Vault on the same mount: what a finished rotation leaves behind. */
async function replaceCa(root: VaultClient, mount: string): Promise<void> {
  await root.delete(`${mount}/config/ca`);
  await root.write(`${mount}/config/ca`, { generate_signing_key: true, key_type: 'ed25519' });
}

/** The device trusts only the CA Vault signs with now (the old line retired). */
async function trustOnlyCurrentCa(env: Record<string, string>, d: Device): Promise<void> {
  const line = (await runCli(['ca', 'authorized-key'], { env })).stdout.trim();
  const cfg = JSON.parse(d.readConfig());
  cfg.os.sshKeys = [line];
  writeFileSync(d.configPath, JSON.stringify(cfg, null, 2) + '\n');
}

const agentCerts = (sock: string) => execFileSync('ssh-add', ['-L'], { env: { SSH_AUTH_SOCK: sock } }).toString().split('\n').filter((l) => l.includes('-cert-v01@'));

function countSigns(vault: { auditLog: string; layout: { sshMount: string } }): number {
  return readFileSync(vault.auditLog, 'utf8').split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${vault.layout.sshMount}/sign/`)).length;
}

test('ssh --agent after a CA rotation replaces the old-CA certificate instead of failing with Permission denied', async ({ vault, devices, tmp }) => {
  const d = await devices.start();
  await trustOnlyCurrentCa(vault.env, d);
  const kh = knownHostsFor(tmp, [d]);
  const sock = join(tmp, 'agent.sock');
  const agent = await startSshAgent(sock);
  try {
    const env = { ...vault.env, SSH_AUTH_SOCK: sock, HOME: tmp };
    const args = ['ssh', 'd', '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes', '--agent', '--json', '--', 'true'];
    const first = await runCli(args, { env });
    expect(first.code, first.stderr).toBe(0);
    const oldCert = agentCerts(sock);
    expect(oldCert).toHaveLength(1);
    // The user's own key and certificate (cert sign --agent): not fleetvault's to remove.
    const own = join(tmp, 'own');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', own]);
    expect((await runCli(['cert', 'sign', '--public-key', `${own}.pub`, '--agent'], { env })).code).toBe(0);
    const ownCert = agentCerts(sock).find((l) => l.endsWith(' me@laptop'));
    expect(ownCert).toBeDefined();

    await replaceCa(vault.root, vault.layout.sshMount);
    await trustOnlyCurrentCa(vault.env, d);
    const afterRotation = await runCli(args, { env });
    expect(afterRotation.code, afterRotation.stderr).toBe(0);
    expect(JSON.parse(afterRotation.stderr.trim().split('\n').pop()!)).toMatchObject({ reusedAgentCertificate: false, exitCode: 0 });
    const now = agentCerts(sock).filter((l) => l !== ownCert);
    expect(now).toHaveLength(1); // the stale certificate was removed, not kept beside the new one
    expect(now[0]).not.toBe(oldCert[0]);
    expect(agentCerts(sock)).toContain(ownCert);

    // The replacement is from the current CA: the next login reuses it without a sign request.
    await new Promise((r) => setTimeout(r, 300));
    const signs = countSigns(vault);
    const again = await runCli(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stderr.trim().split('\n').pop()!)).toMatchObject({ reusedAgentCertificate: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(countSigns(vault)).toBe(signs);
  } finally {
    agent.kill();
  }
});

test('the ssh-config ProxyCommand after a CA rotation signs anew instead of handing ssh the old-CA certificate', async ({ vault, devices, tmp }) => {
  const d = await devices.start();
  await trustOnlyCurrentCa(vault.env, d);
  const kh = knownHostsFor(tmp, [d]);
  const snippet = await runCli(['ssh-config', '--hosts', d.host], { env: vault.env });
  expect(snippet.code, snippet.stderr).toBe(0);
  const cfg = join(tmp, 'ssh_config');
  writeFileSync(cfg, snippet.stdout);
  const sock = join(tmp, 'agent.sock');
  const agent = await startSshAgent(sock);
  try {
    const env = { PATH: process.env.PATH!, HOME: tmp, SSH_AUTH_SOCK: sock, ...vault.env };
    const sshOnce = () => execFileSync('ssh', ['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      '-p', String(d.port), d.host, 'id -un'], { env, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
    expect(sshOnce()).toBe('root');
    const oldCert = agentCerts(sock);
    await replaceCa(vault.root, vault.layout.sshMount);
    await trustOnlyCurrentCa(vault.env, d);
    expect(sshOnce()).toBe('root');
    const now = agentCerts(sock);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(oldCert[0]);
  } finally {
    agent.kill();
  }
});
