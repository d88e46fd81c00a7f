// Grants via OIDC (issue 14 acceptance): "members of acme-oncall may reach fleet A" is one grant on
// the Vault group the provider's `groups` claim maps to. A user of the real OpenID provider in
// acme-oncall gets exactly fleet A; one outside it gets nothing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { adminEnv } from '../../support/access.js';
import { test, expect, type VaultFixture } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startOidcProvider, signInAtProvider, TestBrowser } from '../../support/oidc-provider.js';
import { freePort } from '../../../src/dev/free-port.js';

/** An OIDC login through Vault's API, the browser played by TestBrowser: the user's Vault token. */
async function oidcToken(vault: VaultFixture, mount: string, redirectUri: string, port: number, subject: string): Promise<string> {
  const { auth_url: authUrl } = (await vault.root.write<{ auth_url: string }>(`auth/${mount}/oidc/auth_url`, { role: 'engineer', redirect_uri: redirectUri }, { anonymous: true })).data;
  const cb = new URL(await signInAtProvider(new TestBrowser(), authUrl, subject, `http://127.0.0.1:${port}`));
  const res = await fetch(`${vault.address}/v1/auth/${mount}/oidc/callback?state=${encodeURIComponent(cb.searchParams.get('state')!)}&code=${encodeURIComponent(cb.searchParams.get('code')!)}`);
  const body = await res.json() as { auth?: { client_token: string }; errors?: string[] };
  if (!body.auth) throw new Error(`OIDC callback refused: ${JSON.stringify(body.errors)}`);
  // The login made an entity on the shared server: remove it with the test.
  const entityId = (await vault.root.write<{ entity_id: string }>('auth/token/lookup', { token: body.auth.client_token })).data.entity_id;
  onTestFinished(async () => { await vault.root.delete(`identity/entity/id/${entityId}`).catch(() => {}); });
  return body.auth.client_token;
}

test('an OIDC user in acme-oncall gets exactly fleet A; a user outside it gets nothing', async ({ vault, tmp, slug }) => {
  const oncall = `acme-oncall-${slug}`;
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/oidc/callback`;
  const provider = await startOidcProvider({ redirectUris: [redirectUri], claims: (sub) => ({ groups: sub === 'alice' ? [oncall, 'staff'] : ['staff'] }) });
  const mount = `oidc-${slug}`;
  onTestFinished(async () => {
    await vault.root.delete(`sys/auth/${mount}`).catch(() => {});
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === oncall || n.startsWith(`${vault.layout.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
    await provider.stop();
  });
  await vault.root.write(`sys/auth/${mount}`, { type: 'oidc' });
  await vault.root.write(`auth/${mount}/config`, { oidc_discovery_url: provider.issuer, oidc_client_id: provider.clientId, oidc_client_secret: provider.clientSecret, default_role: 'engineer' });
  await vault.root.write(`auth/${mount}/role/engineer`, {
    role_type: 'oidc', user_claim: 'sub', groups_claim: 'groups', allowed_redirect_uris: [redirectUri], bound_audiences: [provider.clientId], token_ttl: '15m', oidc_scopes: ['groups'],
  });
  // The platform team maps the claim once: an external group with an alias on the OIDC mount.
  const accessor = (await vault.root.read<Record<string, { accessor: string }>>('sys/auth')).data[`${mount}/`]!.accessor;
  const groupId = (await vault.root.write<{ id: string }>('identity/group', { name: oncall, type: 'external' })).data.id;
  await vault.root.write('identity/group-alias', { name: oncall, mount_accessor: accessor, canonical_id: groupId });

  const admin = await adminEnv(vault);
  const g = await runCli(['access', 'grant', '--fleet', 'acme/a', '--group', oncall], { env: admin });
  expect(g.code, g.stderr).toBe(0);

  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signAs = async (token: string, fleet: string) => runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--fleet', fleet, '--out', '-', '--json'], { env: { ...vault.env, VAULT_TOKEN: token } });

  const alice = await oidcToken(vault, mount, redirectUri, port, 'alice');
  const a = await signAs(alice, 'acme/a');
  expect(a.code, a.stderr).toBe(0);
  expect(JSON.parse(a.stdout).principals).toEqual(['fleet-acme.a']);
  const b = await signAs(alice, 'acme/b');
  expect(b.code).toBe(2);
  expect(b.stderr.trim().split('\n')).toHaveLength(1);
  expect((await signAs(alice, 'acme/a.b')).code).toBe(2);

  const bob = await oidcToken(vault, mount, redirectUri, port, 'bob');
  const refused = await signAs(bob, 'acme/a');
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('no grant for principal fleet-acme.a');
});
