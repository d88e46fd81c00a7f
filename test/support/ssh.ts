// The real OpenSSH client against a test device, with strict host key checking.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { onTestFinished } from 'vitest';
import { join } from 'node:path';
import type { Device } from '../../src/dev/device.js';

/** A private ssh-agent listening at `sock`, for this test only: stopped when the test finishes. */
export async function startSshAgent(sock: string): Promise<ChildProcess> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  onTestFinished(() => { agent.kill(); });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  return agent;
}

export interface SshResult { code: number; stdout: string; stderr: string }

export function knownHostsFor(dir: string, devices: Device[]): string {
  const f = join(dir, `known_hosts-${devices.map((d) => d.port).join('-')}`);
  writeFileSync(f, devices.map((d) => d.knownHostsLine).join('\n') + '\n');
  return f;
}

export function sshLogin(o: { device: Device; key: string; cert?: string; user?: string; command?: string; knownHosts: string; extra?: string[] }): Promise<SshResult> {
  const args = [
    '-i', o.key, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${o.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR', '-p', String(o.device.port),
    ...(o.cert ? ['-o', `CertificateFile=${o.cert}`] : []),
    ...(o.extra ?? []),
    `${o.user ?? 'root'}@${o.device.host}`, o.command ?? 'true',
  ];
  return runSsh(args);
}

/** The system ssh with these arguments (and environment, e.g. SSH_AUTH_SOCK); stdout trimmed by callers. */
export function runSsh(args: string[], env?: NodeJS.ProcessEnv): Promise<SshResult> {
  return new Promise((resolve) => {
    const c = spawn('ssh', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
