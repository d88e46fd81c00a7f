// Contexts against two real OpenBao servers: the shared one and a second started here. After
// `login`, a new shell (no VAULT_ADDR) talks to the logged-in server; each context keeps its own
// token, which never travels to another server; logout revokes it.
import { mkdtempSync, rmSync, statSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../../src/dev/openbao.js';
import { findVaultBinary } from '../../../src/dev/find-binary.js';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

test('login remembers the server; contexts switch between two Vaults; tokens stay with their server', async ({ vault, tmp }) => {
  const dir = mkdtempSync(join(tmpdir(), 'fv-second-vault-'));
  let second: DevServer | undefined;
  try {
    second = await startDevServer({ dir, bin: findVaultBinary() });
    const A = vault.address;
    const B = second.address;
    // A fresh user: own HOME, no state, no VAULT_* in the environment.
    const shell = (args: string[], env: Record<string, string> = {}, input?: string) => runCli(args, { env: { HOME: tmp, ...env }, input });

    const login = await shell(['login'], { VAULT_ADDR: A }, vault.rootToken);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`logged in to ${A} (context default)`);
    const cfg = join(tmp, '.config', 'fleetvault', 'config.json');
    expect(statSync(cfg).mode & 0o777).toBe(0o600);
    expect(readFileSync(cfg, 'utf8')).not.toContain(vault.rootToken);

    // A new shell: no VAULT_ADDR, and yet the logged-in server, not http://127.0.0.1:8200.
    const status = await shell(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ context: 'default', address: A, addressSource: 'context default', reachable: true, token: { valid: true } });

    // A second Vault as its own context, logged in with its own token.
    expect((await shell(['context', 'add', 'second', '--address', B, '--use'])).code).toBe(0);
    const login2 = await shell(['login'], {}, second.rootToken);
    expect(login2.code, login2.stderr).toBe(0);
    expect(existsSync(join(tmp, '.config', 'fleetvault', 'tokens', 'second'))).toBe(true);
    const who2 = await shell(['whoami', '--json']);
    expect(who2.code, who2.stderr).toBe(0);
    expect(JSON.parse(who2.stdout)).toMatchObject({ address: B, context: 'second', policies: ['root'] });

    // --context and FLEETVAULT_CONTEXT pick the other one for one command; the flag wins.
    expect(JSON.parse((await shell(['whoami', '--json', '--context', 'default'])).stdout).address).toBe(A);
    expect(JSON.parse((await shell(['status', '--json'], { FLEETVAULT_CONTEXT: 'default' })).stdout).address).toBe(A);
    expect(JSON.parse((await shell(['status', '--json', '--context', 'second'], { FLEETVAULT_CONTEXT: 'default' })).stdout).address).toBe(B);
    // env beats the context: VAULT_ADDR=A while "second" is current — and second's token stays home.
    const crossed = await shell(['whoami'], { VAULT_ADDR: A, HOME: join(tmp, 'nobody') });
    expect(crossed.code).toBe(2);
    expect(crossed.stderr).toMatch(/no Vault token for/);

    const list = await shell(['context', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^  default +${A}`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^\\* second +${B}`, 'm'));

    // logout of a root token only forgets it (revoking the dev/break-glass root token locks you
    // out); the file goes, the token still works; the other context is untouched.
    const tokenB = readFileSync(join(tmp, '.config', 'fleetvault', 'tokens', 'second'), 'utf8');
    const out = await shell(['logout', '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ revoked: false, rootKept: true, address: B });
    expect(out.stderr).toMatch(/root token is never revoked/);
    expect(existsSync(join(tmp, '.config', 'fleetvault', 'tokens', 'second'))).toBe(false);
    const afterB = await runCli(['whoami'], { env: { HOME: join(tmp, 'nobody'), VAULT_ADDR: B, VAULT_TOKEN: tokenB } });
    expect(afterB.code).toBe(0);
    // Logged out already: nothing to do, exit 0.
    const again = await shell(['logout']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^not logged in to .*: nothing to do$/m);
    expect((await shell(['whoami', '--context', 'default'])).code).toBe(0);

    // An unknown context: one line, exit 1.
    const unknown = await shell(['status', '--context', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^fleetvault: no context named "nope" in .*config\.json \(see fleetvault context list\)$/);

    // Issue 12 review, HIGH 1/2: two logins through VAULT_ADDR in a fresh HOME. Each token stays
    // tied to its server: never sent to the other, nor to a third one, nor after an address change.
    const h2 = join(tmp, 'h2');
    const shell2 = (args: string[], env: Record<string, string> = {}, input?: string) => runCli(args, { env: { HOME: h2, ...env }, input });
    expect((await shell2(['login'], { VAULT_ADDR: A }, vault.rootToken)).code).toBe(0);
    const l2 = await shell2(['login', '--json'], { VAULT_ADDR: B }, second.rootToken);
    expect(l2.code, l2.stderr).toBe(0);
    expect(JSON.parse(l2.stdout)).toMatchObject({ context: 'default-2', storedIn: join(h2, '.config', 'fleetvault', 'tokens', 'default-2') });
    const whoA = await shell2(['whoami', '--json', '--context', 'default']);
    expect(whoA.code, whoA.stderr).toBe(0);
    expect(JSON.parse(whoA.stdout)).toMatchObject({ address: A, tokenSource: join(h2, '.vault-token') });
    // A third address: ~/.vault-token is A's, so nothing is sent; exit 2 with the way out.
    const third = await shell2(['whoami'], { VAULT_ADDR: 'http://127.0.0.1:1' });
    expect(third.code).toBe(2);
    expect(third.stderr.trim()).toBe(`fleetvault: not logged in to http://127.0.0.1:1: the token in ${join(h2, '.vault-token')} is for ${A} (run fleetvault login to log in to this server)`);
    // Re-pointing default-2 at A drops B's token: whoami there finds none instead of sending it.
    const moved = await shell2(['context', 'add', 'default-2', '--address', A]);
    expect(moved.stdout).toMatch(/the address changed: the token for the old server .* is no longer used here/);
    const after = await shell2(['whoami', '--context', 'default-2']);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/no Vault token for/);
  } finally {
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
