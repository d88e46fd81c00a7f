// `fleetvault ssh` hands OpenSSH's own options through (-o, -J, -v, -L, -R), asks for
// permit-port-forwarding only when forwarding is wanted (Vault decides), and keeps --json off
// the session's stdout. Real OpenBao, real sshd devices.
import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { knownHostsFor } from '../../support/ssh.js';
import { defaultDeviceConfig, type Device } from '../../../src/dev/device.js';
import { freePort } from '../../../src/dev/free-port.js';
import type { VaultFixture } from '../../support/context.js';

async function trustingDevice(vault: VaultFixture, devices: { start(o: object): Promise<Device> }, name: string): Promise<Device> {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig(name);
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  return devices.start({ config, name });
}

/** A copy of the engineer role that also allows permit-port-forwarding. */
async function forwardingRole(vault: VaultFixture): Promise<Record<string, string>> {
  const { data } = await vault.root.read<Record<string, unknown>>(`${vault.layout.sshMount}/roles/engineer`);
  await vault.root.write(`${vault.layout.sshMount}/roles/forwarder`, { ...data, allowed_extensions: 'permit-pty,permit-port-forwarding' });
  return { ...vault.env, FLEETVAULT_SSH_ROLE: 'forwarder' };
}

const base = (d: Device, kh: string) => ['ssh', d.name, '--host', d.host, '--port', String(d.port), '--user-known-hosts-file', kh, '--strict-host-key-checking', 'yes'];

test('-o and -v reach ssh: the user\'s -o Port= wins over --port, -v shows ssh\'s debug output', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices, 'opt');
  const kh = knownHostsFor(tmp, [d]);
  const ok = await runCli([...base(d, kh), '-oServerAliveInterval=5', '-v', '--', 'echo', 'hi'], { env: vault.env });
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout).toBe('hi\n');
  expect(ok.stderr).toMatch(/^debug1: /m);
  const closed = await freePort('127.0.0.1');
  const wrong = await runCli([...base(d, kh), '-o', `Port=${closed}`, '--', 'true'], { env: vault.env });
  expect(wrong.code).toBe(255);
  expect(wrong.stderr).toMatch(new RegExp(`fleetvault: cannot reach the SSH server at ${d.host.replace(/\./g, '\\.')}:${d.port} \\(ssh: "Connection refused"\\)`));
  const bad = await runCli([...base(d, kh), '--ssh-option=-oProxyCommand=id', '--', 'true'], { env: vault.env });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/^fleetvault: invalid ssh option -o "-oProxyCommand=id": expected Key=Value/m);
});

test('--json: stdout is only the remote output; the summary is on stderr, or in --json-file', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices, 'json');
  const kh = knownHostsFor(tmp, [d]);
  const r = await runCli([...base(d, kh), '--json', '--', 'echo', 'remote-out'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('remote-out\n');
  expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({ exitCode: 0, host: d.host });
  const f = join(tmp, 'summary.json');
  const viaFile = await runCli([...base(d, kh), '--json-file', f, '--', 'echo', 'again'], { env: vault.env });
  expect(viaFile.code, viaFile.stderr).toBe(0);
  expect(viaFile.stdout).toBe('again\n');
  expect(JSON.parse(readFileSync(f, 'utf8'))).toMatchObject({ exitCode: 0, serial: expect.any(String) });
});

test('-L where the role allows forwarding: a local port reaches a service behind the device', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices, 'fwd');
  const kh = knownHostsFor(tmp, [d]);
  const env = await forwardingRole(vault);
  const service = createServer((s) => s.end('hello through the device\n')).listen(0, '127.0.0.1');
  await new Promise((r) => service.once('listening', r));
  const target = (service.address() as AddressInfo).port;
  const local = await freePort('127.0.0.1');
  const child = spawn(process.execPath, [CLI, ...base(d, kh), '-L', `127.0.0.1:${local}:127.0.0.1:${target}`, '--', 'sleep', '20'], {
    env: { PATH: process.env.PATH!, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: process.env.HOME!, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  try {
    let got = '';
    for (let i = 0; i < 100 && !got; i++) {
      got = await new Promise<string>((resolve) => {
        const s = connect(local, '127.0.0.1');
        let buf = '';
        s.on('data', (c) => (buf += c));
        s.on('end', () => resolve(buf));
        s.on('error', () => resolve(''));
      });
      if (!got) await new Promise((r) => setTimeout(r, 100));
    }
    expect(got, stderr).toBe('hello through the device\n');
  } finally {
    child.kill('SIGTERM');
    await exited;
    service.close();
  }
});

test('-R where the role allows forwarding: the device reaches a service on our side', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices, 'rfwd');
  const kh = knownHostsFor(tmp, [d]);
  const env = await forwardingRole(vault);
  const service = createServer((s) => s.end('hello from our side\n')).listen(0, '127.0.0.1');
  await new Promise((r) => service.once('listening', r));
  const ours = (service.address() as AddressInfo).port;
  const remote = await freePort('127.0.0.1');
  try {
    // The device's shell (bash) reads from its end of the forward.
    const read = `for i in $(seq 50); do exec 3<>/dev/tcp/127.0.0.1/${remote} && cat <&3 && exit 0; sleep 0.1; done; exit 9`;
    const r = await runCli([...base(d, kh), '-R', `127.0.0.1:${remote}:127.0.0.1:${ours}`, '--', 'bash', '-c', `'${read}'`], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello from our side\n');
  } finally {
    service.close();
  }
});

test('-L and -R with a role that does not allow forwarding: exit 2 and a plain refusal, ssh never runs', async ({ vault, devices, tmp }) => {
  const d = await trustingDevice(vault, devices, 'nofwd');
  const kh = knownHostsFor(tmp, [d]);
  for (const flag of ['-L', '-R']) {
    const r = await runCli([...base(d, kh), flag, '127.0.0.1:1:127.0.0.1:2', '--', 'true'], { env: vault.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/role engineer does not allow port forwarding \(permit-port-forwarding\), which -L, -R and -J need/);
  }
  expect(readFileSync(d.log, 'utf8')).not.toMatch(/publickey/);
});

test('-J: through a second device as jump host, both authenticated with the one certificate', async ({ vault, devices, tmp }) => {
  const jump = await trustingDevice(vault, devices, 'jump');
  const target = await trustingDevice(vault, devices, 'target');
  const kh = knownHostsFor(tmp, [jump, target]);
  const env = await forwardingRole(vault);
  const r = await runCli([...base(target, kh), '-J', `root@${jump.host}:${jump.port}`, '--', 'echo', 'via-jump'], { env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('via-jump\n');
  expect(readFileSync(jump.log, 'utf8')).toMatch(/Accepted publickey for root .*ED25519-CERT/);
  expect(readFileSync(target.log, 'utf8')).toMatch(/Accepted publickey for root .*ED25519-CERT/);
});
