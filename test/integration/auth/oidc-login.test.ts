// `fleetvault login --method oidc` end to end: a real OpenID provider (oidc-provider) on
// 127.0.0.1, configured as OpenBao's OIDC auth backend; the test plays the browser (follows the
// printed URL, signs in, consents, follows the redirect to the CLI's loopback callback).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, layoutEnv, type VaultFixture } from '../../support/context.js';
import { CLI, runCli } from '../../support/cli.js';
import { startOidcProvider, signInAtProvider, TestBrowser, type OidcProviderHandle } from '../../support/oidc-provider.js';
import { freePort } from '../../../src/dev/free-port.js';

interface OidcSetup { mount: string; role: string; policy: string; port: number; redirectUri: string; provider: OidcProviderHandle; cleanup(): Promise<void> }

async function setupOidc(vault: VaultFixture, slug: string): Promise<OidcSetup> {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/oidc/callback`;
  const provider = await startOidcProvider({ redirectUris: [redirectUri] });
  const mount = `oidc-${slug}`;
  const role = 'engineer';
  const policy = `${vault.layout.policyPrefix}-engineer`;
  await vault.root.write(`sys/auth/${mount}`, { type: 'oidc' });
  // OpenBao fetches the discovery document and JWKS here: the provider must already be serving.
  await vault.root.write(`auth/${mount}/config`, {
    oidc_discovery_url: provider.issuer, oidc_client_id: provider.clientId, oidc_client_secret: provider.clientSecret, default_role: role,
  });
  await vault.root.write(`auth/${mount}/role/${role}`, {
    role_type: 'oidc', user_claim: 'sub', allowed_redirect_uris: [redirectUri], bound_audiences: [provider.clientId],
    token_policies: [policy], token_ttl: '15m', oidc_scopes: ['email'],
  });
  return {
    mount, role, policy, port, redirectUri, provider,
    cleanup: async () => {
      await vault.root.delete(`sys/auth/${mount}`).catch(() => {});
      await provider.stop();
    },
  };
}

interface Running { child: ChildProcess; stderr(): string; stdout(): string; exited: Promise<number> }

function startLogin(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), LANG: 'C.UTF-8', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function authUrlFrom(run: Running, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /^\s+(https?:\/\/\S+)\s*$/m.exec(run.stderr());
    if (m) return m[1]!;
    if (run.child.exitCode !== null) throw new Error(`login exited ${run.child.exitCode} before printing the URL: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no auth URL printed: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('OIDC login through a real OpenID provider stores a working token with the role\'s policies', async ({ vault, tmp, slug }) => {
  const oidc = await setupOidc(vault, slug);
  const home = join(tmp, 'home');
  mkdirSync(home, { mode: 0o700 });
  try {
    const run = startLogin(['login', '--method', 'oidc', '--path', oidc.mount, '--listen', `127.0.0.1:${oidc.port}`, '--json'], {
      VAULT_ADDR: vault.address, HOME: home, FLEETVAULT_NO_BROWSER: '1',
    });
    const authUrl = await authUrlFrom(run);
    const auth = new URL(authUrl);
    expect(auth.origin).toBe(oidc.provider.issuer);
    expect(auth.searchParams.get('redirect_uri')).toBe(oidc.redirectUri);
    expect(auth.searchParams.get('client_id')).toBe(oidc.provider.clientId);

    // A forged callback (wrong state) is refused and does not end the login.
    const forged = await fetch(`${oidc.redirectUri}?state=forged&code=stolen`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/does not match/);

    const browser = new TestBrowser();
    const callbackUrl = await signInAtProvider(browser, authUrl, 'alice', `http://127.0.0.1:${oidc.port}`);
    const cb = new URL(callbackUrl);
    expect(cb.pathname).toBe('/oidc/callback');
    expect(cb.searchParams.get('state')).toBe(auth.searchParams.get('state'));
    expect(cb.searchParams.get('code')).toBeTruthy();
    // The provider really ran its interactions (login, then consent).
    expect(browser.visited.filter((u) => u.includes('/interaction/')).length).toBeGreaterThanOrEqual(2);

    const landing = await browser.request(callbackUrl);
    expect(landing.status).toBe(200);
    expect(await landing.text()).toMatch(/You can close this window/);

    const code = await run.exited;
    expect(code, run.stderr()).toBe(0);
    expect(run.stderr()).toMatch(/refused an OIDC callback with a wrong or missing state/);
    const info = JSON.parse(run.stdout());
    expect(info).toMatchObject({ method: 'oidc', storedIn: join(home, '.vault-token') });
    expect(info.policies).toContain(oidc.policy);
    expect(info.displayName).toContain('alice');
    expect(info.ttlSeconds).toBeGreaterThan(800);

    const tokenFile = join(home, '.vault-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8');
    expect(run.stdout() + run.stderr()).not.toContain(token);
    // Vault says the token belongs to the OIDC subject, through the test's mount.
    const look = await vault.root.write('auth/token/lookup', { token });
    expect(look.data).toMatchObject({ path: `auth/${oidc.mount}/oidc/callback` });
    expect((look.data as { policies: string[] }).policies).toContain(oidc.policy);
    // …and it works for the next command, with no VAULT_TOKEN anywhere.
    const next = await runCli(['ca', 'public-key'], { env: { VAULT_ADDR: vault.address, HOME: home, ...layoutEnv(vault.layout) } });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/^ssh-ed25519 /);

    // The callback listener is gone with the CLI: nothing keeps a port open after the login.
    await expect(fetch(callbackUrl)).rejects.toThrow();
  } finally {
    await oidc.cleanup();
  }
});

test('OIDC login refuses a wrong state and times out with a clear error, storing nothing', async ({ vault, tmp, slug }) => {
  const oidc = await setupOidc(vault, slug);
  const home = join(tmp, 'home');
  mkdirSync(home, { mode: 0o700 });
  try {
    const run = startLogin(['login', '--method', 'oidc', '--path', oidc.mount, '--listen', `127.0.0.1:${oidc.port}`, '--callback-timeout', '4s'], {
      VAULT_ADDR: vault.address, HOME: home, FLEETVAULT_NO_BROWSER: '1',
    });
    const authUrl = await authUrlFrom(run);
    // Sign in for real, but deliver the code with a state that is not this login's.
    const callbackUrl = new URL(await signInAtProvider(new TestBrowser(), authUrl, 'mallory', `http://127.0.0.1:${oidc.port}`));
    callbackUrl.searchParams.set('state', 'not-' + callbackUrl.searchParams.get('state'));
    const refused = await fetch(callbackUrl);
    expect(refused.status).toBe(400);
    const missing = await fetch(`http://127.0.0.1:${oidc.port}/oidc/callback`);
    expect(missing.status).toBe(400);

    const code = await run.exited;
    expect(code).toBe(2);
    expect(run.stderr()).toMatch(/failed to log in with OIDC: no browser callback on http:\/\/127\.0\.0\.1:\d+\/oidc\/callback within 4s/);
    expect(existsSync(join(home, '.vault-token'))).toBe(false);
  } finally {
    await oidc.cleanup();
  }
});

test('OIDC login with a redirect URI the role does not allow fails at once with a hint', async ({ vault, tmp, slug }) => {
  const oidc = await setupOidc(vault, slug);
  try {
    // OpenBao matches loopback redirect URIs port-agnostically (RFC 8252), but not across host
    // names: "localhost" is not the allowed 127.0.0.1 — the classic copy-paste mistake.
    const r = await runCli(['login', '--method', 'oidc', '--path', oidc.mount, '--listen', 'localhost:0'], {
      env: { VAULT_ADDR: vault.address, HOME: tmp, FLEETVAULT_NO_BROWSER: '1' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/failed to start the OIDC login at auth\/oidc-/);
    expect(r.stderr).toMatch(/allowed_redirect_uris/);
  } finally {
    await oidc.cleanup();
  }
});
