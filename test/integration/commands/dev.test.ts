// README command 1: `fleetvault dev --with-device` brings up a bootstrapped server and a device
// that accepts a certificate signed by it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';

let dir = '';
afterEach(async () => {
  await runCli(['dev', 'stop'], { env: { FLEETVAULT_DEV_DIR: dir } });
  rmSync(dir, { recursive: true, force: true });
});

test('fleetvault dev --detach --with-device: healthy server, CA line with principals, working login, clean stop', async () => {
  dir = mkdtempSync(join(tmpdir(), 'fv-dev-'));
  const env = { FLEETVAULT_DEV_DIR: join(dir, 'state') };
  const up = await runCli(['dev', '--detach', '--with-device'], { env });
  expect(up.code, up.stderr).toBe(0);
  const addr = /^export VAULT_ADDR=(\S+)$/m.exec(up.stdout)?.[1];
  const token = /^export VAULT_TOKEN=(\S+)$/m.exec(up.stdout)?.[1];
  expect(addr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(token).toBeTruthy();
  expect(up.stdout).toMatch(/^# cert-authority,principals="root" ssh-ed25519 /m);
  const health = await fetch(`${addr}/v1/sys/health`).then((r) => r.json() as Promise<{ sealed: boolean; initialized: boolean }>);
  expect(health).toMatchObject({ sealed: false, initialized: true });

  // A second start refuses while the first runs.
  const again = await runCli(['dev', '--detach'], { env });
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/already running/);

  // The printed ssh command's pieces work with plain OpenSSH and a signed certificate.
  const m = /fleetvault ssh dev-device --host (\S+) --port (\d+) --user-known-hosts-file (\S+)/.exec(up.stdout);
  expect(m).not.toBeNull();
  const key = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: { VAULT_ADDR: addr, VAULT_TOKEN: token } });
  expect(signed.code, signed.stderr).toBe(0);
  const out = execFileSync('ssh', ['-i', key, '-o', `CertificateFile=${key}-cert.pub`, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${m![3]}`, '-o', 'StrictHostKeyChecking=yes', '-p', m![2]!, `root@${m![1]}`, 'id -un']).toString();
  expect(out.trim()).toBe('root');

  const stop = await runCli(['dev', 'stop'], { env });
  expect(stop.code, stop.stderr).toBe(0);
  expect(existsSync(join(dir, 'state'))).toBe(false);
  await expect(fetch(`${addr}/v1/sys/health`)).rejects.toThrow();
});
