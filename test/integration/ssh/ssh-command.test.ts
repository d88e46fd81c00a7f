// `fleetvault ssh` end to end: real OpenBao signs, real sshd devices decide.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { knownHostsFor } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { startDevServer } from '../../../src/dev/openbao.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { DEFAULT_LAYOUT } from '../../../src/config.js';
import { diagnoseLogin } from '../../../src/ssh/diagnose.js';

async function trustingDevice(vault: { env: Record<string, string> }, devices: { start(o: object): Promise<Device> }, extra: object = {}): Promise<Device> {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  return devices.start({ config, ...extra });
}

function sshArgs(d: Device, kh: string): string[] {
  return ['ssh', 'd', '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes'];
}

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('fleetvault-ssh-'));

test('logs in with a fresh certificate, passes the exit status through, leaves no key material', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices);
  const kh = knownHostsFor(tmp, [d]);
  const t = join(tmp, 'tmpdir');
  mkdirSync(t);
  const env = { ...vault.env, TMPDIR: t };
  const ok = await runCli([...sshArgs(d, kh), '--reason', 'INC-1 check', '--', 'id', '-un'], { env });
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout.trim()).toBe('root');
  const seven = await runCli([...sshArgs(d, kh), '--', 'exit 7'], { env });
  expect(seven.code).toBe(7);
  expect(leftovers(t)).toEqual([]);
  // The non-interactive certificate carried no permit-pty; sshd logged our key id.
  expect(readFileSync(d.log, 'utf8')).toMatch(/Accepted publickey for root .*ID fleetvault-token-/);
});

test('SIGINT and SIGTERM during a session: temp dir removed, 130/143 returned', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices);
  const kh = knownHostsFor(tmp, [d]);
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const t = join(tmp, `tmp-${sig}`);
    mkdirSync(t);
    const child = spawn(process.execPath, [CLI, ...sshArgs(d, kh), '--', 'sleep', '30'], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...vault.env, TMPDIR: t }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    // Wait until the session is really up: sshd accepted this login (one more "Accepted publickey").
    const accepted = () => (readFileSync(d.log, 'utf8').match(/Accepted publickey/g) ?? []).length;
    const before = accepted();
    for (let i = 0; i < 200 && accepted() === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(leftovers(t).length).toBe(1);
    child.kill(sig);
    expect(await exited).toBe(code);
    expect(leftovers(t)).toEqual([]);
  }
});

test('a signal while the certificate is being signed also removes the temp dir', async ({ vault, tmp }) => {
  const t = join(tmp, 'early');
  mkdirSync(t);
  // An address that accepts TCP but never answers keeps the sign request pending.
  const { createServer } = await import('node:net');
  const silent = createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const child = spawn(process.execPath, [CLI, 'ssh', 'd', '--host', '127.0.0.1', '--', 'true'], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...vault.env, VAULT_ADDR: `http://127.0.0.1:${port}`, TMPDIR: t }, stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    for (let i = 0; i < 200 && leftovers(t).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(leftovers(t)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(leftovers(t)).toEqual([]);
  } finally {
    silent.close();
  }
});

test('--agent: the certificate goes into ssh-agent with its lifetime and is reused without a new sign request', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices);
  const kh = knownHostsFor(tmp, [d]);
  const sock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const env = { ...vault.env, SSH_AUTH_SOCK: sock };
    const signsBefore = countSigns(vault);
    const first = await runCli([...sshArgs(d, kh), '--agent', '--json', '--', 'true'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(lastJson(first.stderr)).toMatchObject({ reusedAgentCertificate: false, exitCode: 0 });
    const listed = execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock } }).toString();
    expect(listed).toMatch(/ED25519-CERT/);
    const second = await runCli([...sshArgs(d, kh), '--agent', '--json', '--', 'true'], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(lastJson(second.stderr)).toMatchObject({ reusedAgentCertificate: true });
    await new Promise((r) => setTimeout(r, 300)); // let the audit device flush
    expect(countSigns(vault) - signsBefore).toBe(1);
  } finally {
    agent.kill();
  }
});

/** `ssh --json` writes its summary as the last line of stderr: stdout is the session's. */
function lastJson(stderr: string): unknown {
  return JSON.parse(stderr.trim().split('\n').pop()!);
}

function countSigns(vault: { auditLog: string; layout: { sshMount: string } }): number {
  return readFileSync(vault.auditLog, 'utf8').split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${vault.layout.sshMount}/sign/`)).length;
}

test('a device without the CA line, not run by fleetvault: exit 255, ssh\'s words and where the reason is, no guess', async ({ vault, devices, tmp }) => {
  const d = await devices.start({});
  const kh = knownHostsFor(tmp, [d]);
  const r = await runCli([...sshArgs(d, kh), '--', 'true'], { env: vault.env });
  expect(r.code).toBe(255);
  const line = r.stderr.split('\n').find((l) => l.startsWith('fleetvault: '))!;
  expect(line).toMatch(/the device at 127\.0\.0\.\d+:\d+ refused the certificate for root \(ssh: "Permission denied \(publickey\)"\); its sshd log says why/);
  expect(line).not.toMatch(/clock|does not trust/);
  // The device's own log holds the evidence, and the diagnosis read from it names the CA.
  expect(diagnoseLogin({ exitCode: 255, sshStderr: r.stderr, host: d.host, port: d.port, user: 'root', deviceLog: { text: readFileSync(d.log, 'utf8'), path: d.log } }))
    .toMatch(/does not trust the CA that signed the certificate: no cert-authority line for SHA256:/);
});

test('a device whose clock is behind the certificate refuses it; its sshd log is what names the clock', async ({ vault, devices, tmp }) => {
  const lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
  expect(existsSync(lib), 'libfaketime is installed by scripts/install-tools.sh').toBe(true);
  const d = await trustingDevice(vault, devices, { env: { LD_PRELOAD: lib, FAKETIME: '-10m', FAKETIME_DONT_FAKE_MONOTONIC: '1' } });
  const kh = knownHostsFor(tmp, [d]);
  const r = await runCli([...sshArgs(d, kh), '--', 'true'], { env: vault.env });
  expect(r.code).toBe(255);
  expect(r.stderr).not.toMatch(/clock/); // ssh alone cannot tell, so fleetvault does not say
  expect(readFileSync(d.log, 'utf8')).toMatch(/Certificate invalid: not yet valid/);
  expect(diagnoseLogin({ exitCode: 255, sshStderr: r.stderr, host: d.host, port: d.port, user: 'root', deviceLog: { text: readFileSync(d.log, 'utf8'), path: d.log } }))
    .toMatch(/^the device's clock is behind: it says the certificate is not yet valid \(sshd: "Certificate invalid: not yet valid"; valid from /);
});

test('role missing and a principal the role does not allow: exit 2 with a clear message, ssh never runs', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices);
  const kh = knownHostsFor(tmp, [d]);
  const missing = await runCli([...sshArgs(d, kh), '--', 'true'], { env: { ...vault.env, FLEETVAULT_SSH_ROLE: 'no-such-role' } });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/SSH role no-such-role does not exist/);
  const admin = await runCli([...sshArgs(d, kh), '--user', 'admin', '--', 'true'], { env: vault.env });
  expect(admin.code).toBe(2);
  expect(admin.stderr).toMatch(/does not allow principal admin \(allowed: root\)/);
  const bad = await runCli([...sshArgs(d, kh), '--user', 'root,admin', '--', 'true'], { env: vault.env });
  expect(bad.code).toBe(1);
  expect(readFileSync(d.log, 'utf8')).not.toMatch(/Accepted/);
});

test('a sealed Vault: exit 2, "sealed" and how to fix it', async ({ tmp }) => {
  const server = await startDevServer({ dir: join(tmp, 'sealed-vault') });
  try {
    const root = new VaultClient({ address: server.address, token: server.rootToken });
    await bootstrapVault({ client: root, layout: DEFAULT_LAYOUT });
    await root.write('sys/seal', {});
    const r = await runCli(['ssh', 'd', '--host', '127.0.0.1', '--', 'true'], { env: { VAULT_ADDR: server.address, VAULT_TOKEN: server.rootToken } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is sealed.*unseal/);
    expect(r.stderr).not.toContain(server.rootToken);
  } finally {
    await server.stop();
  }
});

test('an argument that looks like an ssh option is never passed to ssh as one', async ({ vault }) => {
  const r = await runCli(['ssh', 'd', '--host=-oProxyCommand=touch /tmp/pwned', '--', 'true'], { env: vault.env });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/invalid host/);
  writeFileSync('/dev/null', '');
});
