// Issue 11 items 11 and 15 end to end: a certificate the real OpenBao issued, and a forged copy of
// it (one signature bit flipped: it still names the fleet CA). `cert inspect` must agree with the
// device's real sshd about which one is genuine; a cert-authority line that has already expired
// is never printed.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { knownHostsFor, sshLogin } from '../../support/ssh.js';
import { defaultDeviceConfig } from '../../../src/dev/device.js';

function forge(certFile: string, out: string): void {
  const [type, b64, comment] = readFileSync(certFile, 'utf8').trim().split(/\s+/);
  const blob = Buffer.from(b64!, 'base64');
  blob[blob.length - 10]! ^= 0x01;
  writeFileSync(out, `${type} ${blob.toString('base64')} ${comment ?? ''}\n`);
}

test('a forged copy of a Vault-issued certificate: INVALID for cert inspect and refused by sshd; the genuine one valid for both', async ({ vault, devices, tmp }) => {
  const line = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  const config = defaultDeviceConfig('forged');
  (config.os as { sshKeys: string[] }).sshKeys = [line];
  const device = await devices.start({ config });
  const kh = knownHostsFor(tmp, [device]);
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: vault.env });
  expect(signed.code, signed.stderr).toBe(0);
  const genuine = `${key}-cert.pub`;
  const forged = join(tmp, 'forged-cert.pub');
  forge(genuine, forged);

  const g = await runCli(['cert', 'inspect', genuine, '--json']);
  expect(g.code, g.stderr).toBe(0);
  const gi = JSON.parse(g.stdout);
  expect(gi).toMatchObject({ signatureValid: true, expired: false, signatureAlgorithm: 'ssh-ed25519' });
  const ca = (await runCli(['ca', 'public-key', '--json'], { env: vault.env })).stdout;
  expect(ca).toContain(gi.signingKeyFingerprint);
  expect((await runCli(['cert', 'inspect', genuine, '--check'])).code).toBe(0);

  const f = await runCli(['cert', 'inspect', forged]);
  expect(f.code, f.stderr).toBe(0);
  expect(f.stdout).toMatch(/^Signature: +INVALID: /m);
  const fj = JSON.parse((await runCli(['cert', 'inspect', forged, '--json'])).stdout);
  // Same CA named, same everything, except the signature does not hold.
  expect(fj).toMatchObject({ signatureValid: false, signingKeyFingerprint: gi.signingKeyFingerprint, serial: gi.serial, principals: ['root'] });
  const fc = await runCli(['cert', 'inspect', forged, '--check']);
  expect(fc.code).toBe(1);
  expect(fc.stderr.trim().split('\n')).toHaveLength(1);
  expect(fc.stderr).toMatch(/fails the check: its signature is INVALID/);

  // The device agrees.
  const ok = await sshLogin({ device, key, cert: genuine, knownHosts: kh, command: 'true' });
  expect(ok.code, ok.stderr).toBe(0);
  const no = await sshLogin({ device, key, cert: forged, knownHosts: kh, command: 'true' });
  expect(no.code).toBe(255);
});

test('ca authorized-key refuses an expiry in the past (one line, exit 1, nothing printed), before asking Vault', async ({ vault }) => {
  for (const expiry of ['2020-01-01T00:00:00Z', new Date(Date.now() - 1000).toISOString()]) {
    const r = await runCli(['ca', 'authorized-key', '--expiry', expiry], { env: { ...vault.env, VAULT_ADDR: 'http://127.0.0.1:9' } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is in the past: the line would trust no certificate and lock everyone out/);
  }
  const future = await runCli(['ca', 'authorized-key', '--expiry', new Date(Date.now() + 86_400_000).toISOString()], { env: vault.env });
  expect(future.code, future.stderr).toBe(0);
  expect(future.stdout).toMatch(/,expiry-time="\d{14}Z" /);
});
