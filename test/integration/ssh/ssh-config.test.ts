// `fleetvault ssh-config`: plain OpenSSH, configured by the snippet, gets a certificate from
// Vault through the ProxyCommand and logs in; the next login reuses the agent's certificate.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

test('plain ssh through the generated config logs in with a Vault certificate', async ({ vault, devices, tmp }) => {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const d = await devices.start({ config });
  const kh = knownHostsFor(tmp, [d]);
  const snippet = await runCli(['ssh-config', '--hosts', d.host], { env: vault.env });
  expect(snippet.code, snippet.stderr).toBe(0);
  expect(snippet.stdout).toContain(`Host ${d.host}`);
  expect(snippet.stdout).toMatch(/ProxyCommand ".*" ".*cli\.js" ssh-proxy --user %r %h %p/);
  const cfg = join(tmp, 'ssh_config');
  writeFileSync(cfg, snippet.stdout);

  const sock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const env = { PATH: process.env.PATH!, HOME: tmp, SSH_AUTH_SOCK: sock, ...vault.env };
    const sshOnce = () => execFileSync('ssh', ['-F', cfg, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      '-p', String(d.port), d.host, 'id -un'], { env }).toString().trim();
    expect(sshOnce()).toBe('root');
    expect(sshOnce()).toBe('root');
    expect(execFileSync('ssh-add', ['-l'], { env }).toString()).toMatch(/ED25519-CERT/);
    await new Promise((r) => setTimeout(r, 300));
    const signs = readFileSync(vault.auditLog, 'utf8').split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${vault.layout.sshMount}/sign/`));
    expect(signs).toHaveLength(1);
  } finally {
    agent.kill();
  }
});

test('ssh-config refuses host patterns that would inject config lines', async () => {
  const r = await runCli(['ssh-config', '--hosts', '*.balena\n  ProxyCommand evil']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/invalid host pattern/);
});

test('cert sign --agent adds key and certificate to ssh-agent', async ({ vault, tmp }) => {
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sock = join(tmp, 'agent2.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--agent', '--ttl', '5m'], { env: { ...vault.env, SSH_AUTH_SOCK: sock } });
    expect(r.code, r.stderr).toBe(0);
    expect(execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock } }).toString()).toMatch(/ED25519-CERT/);
    const noAgent = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--agent'], { env: vault.env });
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr).toMatch(/SSH_AUTH_SOCK is not set/);
  } finally {
    agent.kill();
  }
});
