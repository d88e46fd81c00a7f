// A device whose config.json carries the CA line accepts the real OpenSSH client with a
// certificate from `fleetvault cert sign`; wrong principal and expired certificates are refused.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

function userKey(dir: string, name = 'id'): string {
  const k = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  return k;
}

test('a device trusting the CA line accepts a signed certificate, and only for its principal', async ({ vault, devices, tmp }) => {
  const line = await runCli(['ca', 'authorized-key'], { env: vault.env });
  expect(line.code, line.stderr).toBe(0);
  expect(line.stdout).toMatch(/^cert-authority,principals="root" ssh-ed25519 \S+ fleetvault:/);
  const config = defaultDeviceConfig('d1');
  (config.os as { sshKeys: string[] }).sshKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb operator', line.stdout.trim()];
  const device = await devices.start({ config });
  const kh = knownHostsFor(tmp, [device]);
  const key = userKey(tmp);

  // Without a certificate the key alone is not trusted.
  const bare = await sshLogin({ device, key, knownHosts: kh });
  expect(bare.code).toBe(255);

  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env: vault.env });
  expect(signed.code, signed.stderr).toBe(0);
  const info = JSON.parse(signed.stdout);
  expect(info).toMatchObject({ type: 'user', principals: ['root'], path: `${key}-cert.pub` });
  expect(existsSync(`${key}-cert.pub`)).toBe(true);

  const ok = await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh, command: 'echo "$USER" && cat /proc/self/loginuid >/dev/null; id -un' });
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout.trim().split('\n').pop()).toBe('root');
  // sshd logged the certificate's key id and serial (what an incident review needs).
  expect(readFileSync(device.log, 'utf8')).toMatch(new RegExp(`Accepted publickey for root .*ID ${info.keyId} \\(serial ${info.serial}\\)`));

  // cert inspect agrees with ssh-keygen.
  const inspect = await runCli(['cert', 'inspect', `${key}-cert.pub`, '--json'], { env: vault.env });
  expect(JSON.parse(inspect.stdout)).toMatchObject({ serial: info.serial, principals: ['root'], extensions: ['permit-pty'] });
});

test('a certificate signed for another principal cannot log in as root', async ({ vault, devices, tmp }) => {
  // A role that may sign for "admin" (the default role only allows root).
  await vault.root.write(`${vault.layout.sshMount}/roles/anyone`, {
    key_type: 'ca', allow_user_certificates: true, allowed_users: '*', ttl: 600, max_ttl: 600, allowed_extensions: 'permit-pty', allow_empty_principals: false,
  });
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d2');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const device = await devices.start({ config });
  const kh = knownHostsFor(tmp, [device]);
  const key = userKey(tmp);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--principal', 'admin', '--ssh-role', 'anyone'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  const refused = await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh });
  expect(refused.code).toBe(255);
  expect(refused.stderr).toMatch(/Permission denied/);
  expect(readFileSync(device.log, 'utf8')).toMatch(/principal|not in principals|Certificate invalid/i);
});

test('an expired certificate is refused by the device', async ({ vault, devices, tmp }) => {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('d3');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const device = await devices.start({ config });
  const kh = knownHostsFor(tmp, [device]);
  const key = userKey(tmp);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '2s'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  const fresh = await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh });
  expect(fresh.code, fresh.stderr).toBe(0);
  await new Promise((res) => setTimeout(res, 3000));
  const expired = await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh });
  expect(expired.code).toBe(255);
  expect(readFileSync(device.log, 'utf8')).toMatch(/expired|Certificate invalid/i);
});
