// The first hour, as a newcomer lives it: the README's commands on a fresh clone, with HOME under
// /tmp and no state dir, as root and as an unprivileged user, next to a second Vault server. Each
// step asserts what the user sees: the exit code and fleetvault's one-line message.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDevServer, type DevServer } from '../../../src/dev/openbao.js';
import { requireTools } from '../../support/tools.js';
import { cloneFor, freshClone, freshHome, messages, run, tempDir, unprivilegedAccount, type Account } from './workspace.js';

interface DevState { address: string; rootToken: string; device: { host: string; port: number; log: string } }
const devState = (home: string) => JSON.parse(readFileSync(join(home, '.local/state/fleetvault/dev/state.json'), 'utf8')) as DevState;

let top = '';
let clone = '';
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  requireTools(['git', 'sshd', 'ssh', 'jq', 'useradd']);
  top = tempDir('fv-first-contact-');
  clone = freshClone(top);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (top) rmSync(top, { recursive: true, force: true });
});

describe('README command 1 and the quick start, on a fresh clone', () => {
  test('as root, HOME under /tmp: demo.sh logs in, says how to stop, leaves ~/.vault-token alone; a second Vault is told apart by evidence', async () => {
    const home = freshHome(top);
    writeFileSync(join(home, '.vault-token'), 'my-own-login-token\n', { mode: 0o600 });
    const fv = (args: string[], env: Record<string, string> = {}) => run(process.execPath, ['dist/cli.js', ...args], { cwd: clone, home, env });
    cleanups.push(() => fv(['dev', 'stop']));

    const demo = await run('bash', ['scripts/demo.sh'], { cwd: clone, home, timeoutMs: 240_000 });
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/^ {3}logged in to \S+ as root with a Vault-signed certificate$/m);
    expect(demo.stdout).toMatch(/^Stop both with:\n {2}node dist\/cli\.js dev stop$/m);
    expect(demo.stdout).toMatch(/ssh-sign +ok .*reason="demo"/);
    // item 17 of the security review: the dev server never writes its root token over the user's.
    expect(readFileSync(join(home, '.vault-token'), 'utf8')).toBe('my-own-login-token\n');

    // The printed ssh command works as printed.
    const st = devState(home);
    const a = { VAULT_ADDR: st.address, VAULT_TOKEN: st.rootToken };
    const device = ['ssh', 'dev-device', '--host', st.device.host, '--port', String(st.device.port), '--user-known-hosts-file', join(home, '.local/state/fleetvault/dev/known_hosts')];
    const ok = await fv([...device, '--', 'id', '-un'], a);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('root\n');

    // A second Vault: `init` sets it up (idempotently); its certificates are not trusted by the
    // device, and the message says so from the device's own log, naming the second CA.
    const second: DevServer = await startDevServer({ dir: join(top, 'vault-b') });
    cleanups.push(() => second.stop());
    const b = { VAULT_ADDR: second.address, VAULT_TOKEN: second.rootToken };
    const init = await fv(['init'], b);
    expect(init.code, init.stderr).toBe(0);
    const again = await fv(['init', '--json'], b);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ changes: [] });
    const caB = await fv(['ca', 'authorized-key'], b);
    expect(caB.code).toBe(0);
    const fingerprintB = /fleetvault:ssh-client-signer:(SHA256:\S+)$/.exec(caB.stdout.trim())![1]!;
    const refused = await fv([...device, '--', 'true'], b);
    expect(refused.code).toBe(255);
    expect(messages(refused.stderr)).toEqual([
      `fleetvault: the device does not trust the CA that signed the certificate: no cert-authority line for ${fingerprintB} in its config.json os.sshKeys (sshd logged the refusal with no other reason); add \`fleetvault ca authorized-key\` or run \`fleetvault ca rollout\` (device log ${st.device.log})`,
    ]);

    // A second `dev` while the first runs, then stop, then stop again.
    const twice = await fv(['dev', '--detach']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^fleetvault: a fleetvault dev server is already running at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\) \(stop it with fleetvault dev stop\)$/m);
    const stop = await fv(['dev', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/^stopped the dev server at http:\/\/127\.0\.0\.1:\d+ \(pids \d+, \d+\)$/m);
    const stopAgain = await fv(['dev', 'stop']);
    expect(stopAgain.code).toBe(1);
    expect(messages(stopAgain.stderr)).toEqual(['fleetvault: no fleetvault dev server is recorded as running (start one with fleetvault dev --detach)']);
    expect(existsSync(join(home, '.local/state/fleetvault/dev'))).toBe(false);
  }, 300_000);

  test('as an unprivileged user, HOME under /tmp: dev --with-device logs that user in with the root-principal certificate', async () => {
    if (!existsSync(join(clone, 'dist/cli.js'))) {
      const built = await run('npm', ['run', '--silent', 'build'], { cwd: clone, home: top, timeoutMs: 240_000 });
      expect(built.code, built.stderr).toBe(0);
    }
    const user: Account = unprivilegedAccount();
    const own = tempDir('fv-first-contact-user-');
    cleanups.push(async () => rmSync(own, { recursive: true, force: true }));
    const ws = cloneFor(clone, own);
    const home = freshHome(own, user);
    const fv = (args: string[], env: Record<string, string> = {}) => run(process.execPath, ['dist/cli.js', ...args], { cwd: ws, home, env, as: user });
    cleanups.push(() => fv(['dev', 'stop']));

    const up = await fv(['dev', '--detach', '--with-device']);
    expect(up.code, up.stderr).toBe(0);
    expect(messages(up.stderr)).toEqual(['fleetvault: dev server detached; stop it with `fleetvault dev stop`']);
    const printed = /^# {3}fleetvault (ssh dev-device .*)$/m.exec(up.stdout)?.[1];
    expect(printed).toMatch(new RegExp(`--user-known-hosts-file \\S+ -o User=${user.name}$`));
    const st = devState(home);
    const a = { VAULT_ADDR: st.address, VAULT_TOKEN: st.rootToken };
    const ok = await fv([...printed!.split(' '), '--', 'id', '-un'], a);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${user.name}\n`);
    // Without -o User=… ssh asks for root, which an unprivileged sshd cannot serve: the message
    // comes from the device's log, not from a guess about CAs or clocks.
    const asRoot = await fv([...printed!.split(' ').slice(0, -2), '--', 'true'], a);
    expect(asRoot.code).toBe(255);
    expect(messages(asRoot.stderr)).toHaveLength(1);
    expect(messages(asRoot.stderr)[0]).toMatch(new RegExp(`^fleetvault: the device (has no usable account root \\(sshd: "User root not allowed because account is locked"\\); it runs unprivileged and logs in only ${user.name}: add -o User=${user.name}|.*\\(device log )`));
    expect(messages(asRoot.stderr)[0]).not.toMatch(/clock/);

    const stop = await fv(['dev', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
  }, 300_000);

  test('a fresh HOME with no Vault configured: one line that says what to do', async () => {
    const home = freshHome(top);
    const fv = (args: string[]) => run(process.execPath, ['dist/cli.js', ...args], { cwd: clone, home });
    if (!existsSync(join(clone, 'dist/cli.js'))) return expect.fail('dist/cli.js missing: the demo test builds it');
    const ssh = await fv(['ssh', 'mydevice', '--host', '127.0.0.1', '--', 'true']);
    expect(ssh.code).toBe(2);
    expect(ssh.stderr).toBe('fleetvault: no Vault token for http://127.0.0.1:8200 (set VAULT_TOKEN or run fleetvault login)\n');
    const stop = await fv(['dev', 'stop']);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toBe('fleetvault: no fleetvault dev server is recorded as running (start one with fleetvault dev --detach)\n');
    expect(existsSync(join(home, '.local'))).toBe(false);
  });
});
