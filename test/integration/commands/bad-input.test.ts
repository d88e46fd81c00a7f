// Bad input: one line on stderr, the right exit code, nothing written, and no token in any output.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);

test('unknown command and unknown flag: exit 1, one line', async () => {
  for (const args of [['frobnicate'], ['cert', 'sign', '--public-key', 'x', '--bogus-flag'], ['ca'], ['cert', 'inspect']]) {
    const r = await runCli(args);
    expect(r.code, args.join(' ')).toBe(1);
    expect(oneLine(r.stderr), r.stderr).toBe(true);
    expect(r.stdout).toBe('');
  }
});

test('unreachable VAULT_ADDR: exit 2, one line naming the address, no stack', async ({ tmp }) => {
  const key = join(tmp, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: 'x' } });
  expect(r.code).toBe(2);
  expect(oneLine(r.stderr)).toBe(true);
  expect(r.stderr).toContain('http://127.0.0.1:9');
  expect(existsSync(`${key}-cert.pub`)).toBe(false);
});

test('missing token: exit 2 with how to log in', async ({ vault, tmp }) => {
  // (ca public-key needs no token: Vault serves it unauthenticated.)
  const r = await runCli(['whoami'], { env: { VAULT_ADDR: vault.address, HOME: tmp } });
  expect(r.code).toBe(2);
  expect(oneLine(r.stderr)).toBe(true);
  expect(r.stderr).toMatch(/no Vault token.*fleetvault login/);
});

test('unreadable or invalid public key file: exit 1, nothing written', async ({ vault, tmp }) => {
  const cases: [string, string | null][] = [
    ['missing.pub', null],
    ['junk.pub', 'not a key\n'],
    ['empty.pub', ''],
    ['private.pub', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n'],
    ['two.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb a\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb b\n'],
  ];
  for (const [name, content] of cases) {
    const p = join(tmp, name);
    if (content !== null) writeFileSync(p, content);
    const r = await runCli(['cert', 'sign', '--public-key', p], { env: vault.env });
    expect(r.code, `${name}: ${r.stderr}`).toBe(1);
    expect(oneLine(r.stderr)).toBe(true);
    expect(existsSync(join(tmp, name.replace('.pub', '-cert.pub')))).toBe(false);
  }
  const dir = mkdtempSync(join(tmp, 'd'));
  const r = await runCli(['cert', 'inspect', dir]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is a directory/);
});

test('a planted token never appears in any output', async ({ vault, tmp }) => {
  const planted = 'hvs.PLANTEDSECRET0123456789abcdef';
  const key = join(tmp, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const runs = await Promise.all([
    runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: { ...vault.env, VAULT_TOKEN: planted } }),
    runCli(['whoami'], { env: { ...vault.env, VAULT_TOKEN: planted, FLEETVAULT_DEBUG: '1' } }),
    runCli(['init'], { env: { ...vault.env, VAULT_TOKEN: planted } }),
    runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env: { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: planted, FLEETVAULT_DEBUG: '1' } }),
  ]);
  for (const r of runs) {
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(planted);
    expect(r.stdout + r.stderr).not.toContain('PLANTEDSECRET');
  }
  expect(runs[0]!.stderr).toMatch(/permission denied/);
});

test('VAULT_SKIP_VERIFY with a nonsense value is a usage error, not a silent skip', async ({ vault }) => {
  const r = await runCli(['ca', 'public-key'], { env: { ...vault.env, VAULT_SKIP_VERIFY: 'sometimes' } });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/invalid VAULT_SKIP_VERIFY/);
});

test('a TTL above the role maximum is refused, never capped', async ({ vault, tmp }) => {
  const key = join(tmp, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '2h'], { env: vault.env });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/TTL 2h is above role engineer's maximum of 1h/);
  expect(existsSync(`${key}-cert.pub`)).toBe(false);
});

test('flags read FLEETVAULT_<FLAG> and unrelated FLEETVAULT_* variables do not break a command', async ({ vault, tmp }) => {
  const key = join(tmp, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env: { ...vault.env, FLEETVAULT_TTL: '5m', FLEETVAULT_CONCURRENCY: '8', FLEETVAULT_DEV_DIR: tmp } });
  expect(r.code, r.stderr).toBe(0);
  const info = JSON.parse(r.stdout);
  const secs = (Date.parse(info.validBefore) - Date.now()) / 1000;
  expect(secs).toBeGreaterThan(200);
  expect(secs).toBeLessThan(330);
});
