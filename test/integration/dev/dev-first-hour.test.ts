// `fleetvault dev` from a fresh HOME under /tmp: it leaves the user's ~/.vault-token alone, reports
// success only after a real login to its device, and a failed start leaves nothing running.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../../support/cli.js';
import { findVaultBinary } from '../../../src/dev/find-binary.js';
import { supportsNoStoreToken } from '../../../src/dev/openbao.js';

let home = '';
afterEach(async () => {
  await runCli(['dev', 'stop'], { env: { HOME: home } });
  rmSync(home, { recursive: true, force: true });
});

test('dev leaves a pre-existing ~/.vault-token untouched, and creates none', async () => {
  expect(supportsNoStoreToken(findVaultBinary()!)).toBe(true);
  home = mkdtempSync(join(tmpdir(), 'fv-dev-token-'));
  writeFileSync(join(home, '.vault-token'), 'hvs.my-real-login\n', { mode: 0o600 });
  const up = await runCli(['dev', '--detach'], { env: { HOME: home } });
  expect(up.code, up.stderr).toBe(0);
  expect(readFileSync(join(home, '.vault-token'), 'utf8')).toBe('hvs.my-real-login\n');
  expect((await runCli(['dev', 'stop'], { env: { HOME: home } })).code).toBe(0);
  rmSync(join(home, '.vault-token'));
  const again = await runCli(['dev', '--detach'], { env: { HOME: home } });
  expect(again.code, again.stderr).toBe(0);
  expect(existsSync(join(home, '.vault-token'))).toBe(false);
});

test('dev --with-device reports success only after a login with the new CA worked', async () => {
  home = mkdtempSync(join(tmpdir(), 'fv-dev-probe-'));
  const up = await runCli(['dev', '--detach', '--with-device', '--json'], { env: { HOME: home } });
  expect(up.code, up.stderr).toBe(0);
  const out = JSON.parse(up.stdout) as { auditLog: string; device: { user: string; log: string } };
  expect(out.device.user).toBe('root');
  expect(readFileSync(out.device.log, 'utf8')).toMatch(/Accepted publickey for root .*ED25519-CERT/);
  expect(readFileSync(out.auditLog, 'utf8')).toContain('fleetvault dev: login check');
});

test('a device that cannot start: one line, exit 1, and the server it started is stopped again', async () => {
  home = mkdtempSync(join(tmpdir(), 'fv-dev-fail-'));
  const dir = join(home, 'with space');
  const up = await runCli(['dev', '--detach', '--with-device'], { env: { HOME: home, FLEETVAULT_DEV_DIR: dir } });
  expect(up.code).toBe(1);
  expect(up.stderr).toMatch(/^fleetvault: cannot start the simulated device: its directory ".*with space\/device" has a quote, backslash, space or %, which sshd_config cannot hold \(set FLEETVAULT_DEV_DIR to a plain path; see fleetvault dev --help\)\n$/);
  expect(existsSync(dir)).toBe(false);
  // No OpenBao (or anything else) still runs with its config in that dir.
  expect(spawnSync('pgrep', ['-f', dir]).status).toBe(1);
});
