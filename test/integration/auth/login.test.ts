// `fleetvault login` with a token and with userpass against the real OpenBao: the token lands in
// $HOME/.vault-token (0600) and the next command works from it alone; refused logins store nothing;
// secrets travel by stdin only and never appear in any process's argv or in the output.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { CLI, runCli, type CliResult } from '../../support/cli.js';
import { layoutEnv } from '../../support/context.js';

function homeIn(tmp: string): string {
  const home = join(tmp, 'home');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return home;
}

/** Every process's argv on this machine that contains needle (the test's own excepted: it has none). */
function processesWithInArgv(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) hits.push(pid);
    } catch { /* exited meanwhile */ }
  }
  return hits;
}

/**
 * Run the CLI with stdin held open, check no process has the secret in its argv while the CLI is
 * alive and waiting, then type the secret on stdin.
 */
function runCliTypingSecret(args: string[], env: Record<string, string>, secret: string): Promise<CliResult & { argvHits: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), LANG: 'C.UTF-8', ...env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let argvHits: string[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr, signal, argvHits }); });
    // Give the CLI time to start and block on stdin, then look at every argv on the machine.
    setTimeout(() => {
      argvHits = processesWithInArgv(secret);
      child.stdin.end(`${secret}\n`);
    }, 700);
  });
}

test('token login via stdin stores a 0600 ~/.vault-token that the next command uses', async ({ vault, tmp }) => {
  const home = homeIn(tmp);
  const policy = `${vault.layout.policyPrefix}-engineer`;
  const created = await vault.root.write('auth/token/create', { policies: [policy], ttl: '1h', display_name: 'alice' });
  const token = created.auth!.client_token;

  // Before login, without VAULT_TOKEN, a command that needs a token fails.
  const cliEnv = { VAULT_ADDR: vault.address, HOME: home, ...layoutEnv(vault.layout) };
  const before = await runCli(['whoami'], { env: cliEnv });
  expect(before.code).toBe(2);
  expect(before.stderr).toMatch(/no Vault token.*fleetvault login/);

  const r = await runCliTypingSecret(['login', '--json'], { VAULT_ADDR: vault.address, HOME: home }, token);
  expect(r.code, r.stderr).toBe(0);
  expect(r.argvHits).toEqual([]);
  expect(r.stdout + r.stderr).not.toContain(token);
  const info = JSON.parse(r.stdout);
  const tokenFile = join(home, '.vault-token');
  expect(info).toMatchObject({ method: 'token', policies: ['default', policy], storedIn: tokenFile, renewable: true });
  expect(info.displayName).toMatch(/alice/);
  expect(info.ttlSeconds).toBeGreaterThan(3500);
  expect(info.ttlSeconds).toBeLessThanOrEqual(3600);
  expect(info.token).toBeUndefined();

  expect(readFileSync(tokenFile, 'utf8')).toBe(token);
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  // No temp files left next to it; the login also remembered the server (.config/fleetvault).
  expect(readdirSync(home).sort()).toEqual(['.config', '.vault-token']);

  // The stored token alone (no VAULT_TOKEN) authenticates the next command.
  const after = await runCli(['whoami', '--json'], { env: cliEnv });
  expect(after.code, after.stderr).toBe(0);
  expect(JSON.parse(after.stdout).displayName).toMatch(/alice/);

  // Human output: who, policies, ttl, where; never the token.
  const human = await runCli(['login'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: token });
  expect(human.code, human.stderr).toBe(0);
  expect(human.stdout).toContain(`policies: default, ${policy}`);
  expect(human.stdout).toMatch(/token ttl: \d+[smh]/);
  expect(human.stdout).toContain(`token stored in ${tokenFile}`);
  expect(human.stdout + human.stderr).not.toContain(token);
});

test('a bad token exits 2 and stores nothing; an existing login stays', async ({ vault, tmp }) => {
  const home = homeIn(tmp);
  const tokenFile = join(home, '.vault-token');
  const bogus = 's.ThisTokenDoesNotExist12345';
  const r = await runCli(['login'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: `${bogus}\n` });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^fleetvault: failed to log in with a token: Vault does not accept this token/);
  expect(r.stdout + r.stderr).not.toContain(bogus);
  expect(existsSync(tokenFile)).toBe(false);

  writeFileSync(tokenFile, 'previous-login', { mode: 0o600 });
  const again = await runCli(['login'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: bogus });
  expect(again.code).toBe(2);
  expect(readFileSync(tokenFile, 'utf8')).toBe('previous-login');
  expect(readdirSync(home)).toEqual(['.vault-token']);

  // Nothing on stdin is a local error, not a Vault one.
  const empty = await runCli(['login'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: '' });
  expect(empty.code).toBe(1);
  expect(empty.stderr).toMatch(/no token given/);
});

test('--no-store verifies without writing, and hands the token over only with --json', async ({ vault, tmp }) => {
  const home = homeIn(tmp);
  const created = await vault.root.write('auth/token/create', { policies: [`${vault.layout.policyPrefix}-engineer`], ttl: '10m' });
  const token = created.auth!.client_token;
  const plain = await runCli(['login', '--no-store'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: token });
  expect(plain.code, plain.stderr).toBe(0);
  expect(plain.stdout).toContain('token not stored');
  expect(plain.stdout + plain.stderr).not.toContain(token);
  const json = await runCli(['login', '--no-store', '--json'], { env: { VAULT_ADDR: vault.address, HOME: home }, input: token });
  expect(json.code, json.stderr).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({ token, storedIn: null });
  expect(existsSync(join(home, '.vault-token'))).toBe(false);
});

test('userpass login end to end; a wrong password exits 2 and stores nothing', async ({ vault, tmp, slug }) => {
  const home = homeIn(tmp);
  const mount = `userpass-${slug}`;
  const policy = `${vault.layout.policyPrefix}-engineer`;
  const password = `pw-${slug}-Correct-Horse`;
  await vault.root.write(`sys/auth/${mount}`, { type: 'userpass' });
  try {
    await vault.root.write(`auth/${mount}/users/alice`, { password, token_policies: [policy], token_ttl: '20m' });
    const env = { VAULT_ADDR: vault.address, HOME: home };

    // Wrong password first: refused by Vault → exit 2, nothing stored, password not echoed.
    const wrong = `${password}-nope`;
    const bad = await runCliTypingSecret(['login', '--method', 'userpass', '--path', mount, '--username', 'alice'], env, wrong);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/failed to log in as alice at auth\/userpass-.*invalid username or password/);
    expect(bad.stdout + bad.stderr).not.toContain(wrong);
    expect(bad.argvHits).toEqual([]);
    expect(existsSync(join(home, '.vault-token'))).toBe(false);

    // The right password; the username from FLEETVAULT_USERNAME (every flag reads its env var).
    const ok = await runCliTypingSecret(['login', '--method', 'userpass', '--path', mount, '--json'], { ...env, FLEETVAULT_USERNAME: 'alice' }, password);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.argvHits).toEqual([]);
    expect(ok.stdout + ok.stderr).not.toContain(password);
    const info = JSON.parse(ok.stdout);
    expect(info).toMatchObject({ method: 'userpass', displayName: `${mount}-alice`, path: `auth/${mount}/login/alice` });
    expect(info.policies).toContain(policy);
    expect(info.ttlSeconds).toBeGreaterThan(1100);
    const tokenFile = join(home, '.vault-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const stored = readFileSync(tokenFile, 'utf8');
    expect(ok.stdout).not.toContain(stored);

    // Vault agrees the stored token is alice's.
    const look = await vault.root.write('auth/token/lookup', { token: stored });
    expect(look.data).toMatchObject({ display_name: `${mount}-alice`, meta: { username: 'alice' } });
    const next = await runCli(['ca', 'public-key'], { env: { ...env, ...layoutEnv(vault.layout) } });
    expect(next.code, next.stderr).toBe(0);

    // Piped stdin without a username is a usage error, before any request.
    const noUser = await runCli(['login', '--method', 'userpass', '--path', mount], { env, input: password });
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toMatch(/--username is required/);
  } finally {
    await vault.root.delete(`sys/auth/${mount}`).catch(() => {});
  }
});
