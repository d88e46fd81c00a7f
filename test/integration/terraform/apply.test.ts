// terraform/ applied for real: OpenTofu + hashicorp/vault 5.9.0 (offline mirror) against the test
// OpenBao, then `tofu plan` must show nothing to do; `fleetvault init` must find nothing to change on
// that layout and must build an identical one next to it; and the flows of the other issues
// (certificates, sealed provisioning configs through the flasher AppRole, engineer logins through
// userpass and OIDC, the decrypt quota) work against what terraform built.
// One apply for the whole file (tofu init + apply take a few seconds each), shared by the tests.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { LayoutSettings } from '../../../src/config.js';
import { VaultClient } from '../../../src/vault/client.js';
import { differingFields } from '../../../src/vault/bootstrap.js';
import {
  APPROLE_AUDIT_NON_HMAC_REQUEST, SSH_AUDIT_NON_HMAC_REQUEST, SSH_AUDIT_NON_HMAC_RESPONSE, TRANSIT_AUDIT_NON_HMAC_REQUEST,
  POLICY_FILES, flasherRoleSettings, policyName, renderPolicy, sshRoleSettings, transitKeySettings, type Persona,
} from '../../../src/vault/layout.js';
import { CLI, runCli } from '../../support/cli.js';
import { layoutEnv, slugFor, testLayout } from '../../support/context.js';
import { REPO, ensureTofu, tofuWorkspace, type TofuWorkspace } from '../../support/tofu.js';
import { freePort } from '../../../src/dev/free-port.js';
import { TestBrowser, signInAtProvider, startOidcProvider, type OidcProviderHandle } from '../../support/oidc-provider.js';

// 127.0.0.0-127.0.0.1 is the factory; 127.0.0.2 plays a machine outside it. Not a /32: Vault
// stores token_bound_cidrs "127.0.0.1/32" as "127.0.0.1", which `fleetvault init` (bootstrap.ts)
// then reports as a change on every run.
const FACTORY = ['127.0.0.0/31'];
const v = inject('vault');
const root = new VaultClient({ address: v.address, token: v.rootToken });
const slugA = slugFor('terraform');
// Custom role and key names too, so the policy rewriting (renderPolicy() vs its HCL twin in
// main.tf) is exercised for every prefix, not only the mount names.
function customLayout(slug: string): LayoutSettings {
  return { ...testLayout(slug), sshRole: `eng-${slug}`, transitKey: `prov-${slug}`, approleRole: `fl-${slug}` };
}
const A = customLayout(slugA);
const B = customLayout(slugFor('terraform-init'));
const userpassMount = `userpass-${slugA}`;
const oidcMount = `oidc-${slugA}`;
const engineerUser = 'alice';
// Scoped access (issue 14): the same grants through terraform's fleet_access and `init --fleet-access`.
const oncallGroup = `oncall-${slugA}`;
const DEVICE = 'ab'.repeat(16);
const FLEET_ACCESS = [
  { fleet: 'My_Org/fleet.a', groups: [oncallGroup] },
  { device: DEVICE, groups: [oncallGroup], max_ttl: 900, source_cidrs: ['127.0.0.0/8'] },
  { break_glass: true, groups: [oncallGroup] },
];
const ACCESS_PRINCIPALS = ['fleet-my_5forg.fleet_2ea', `device-${DEVICE}`, 'break-glass'];

let dir: string;
let ws: TofuWorkspace;
let outputs: Record<string, unknown>;
let oidc: OidcProviderHandle;
let oidcPort: number;

async function token(policies: string[]): Promise<string> {
  const r = await root.write('auth/token/create', { policies, no_default_policy: false, ttl: '10m' });
  return r.auth!.client_token;
}

beforeAll(async () => {
  ensureTofu(); // fails loudly (also under CI) when tofu or the provider cannot be built
  dir = mkdtempSync(join(tmpdir(), 'fv-terraform-'));
  oidcPort = await freePort();
  // OpenBao fetches the discovery document during apply: the provider must already be serving.
  oidc = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${oidcPort}/oidc/callback`] });
  // fleet_access names existing groups (OIDC group claims map to such groups).
  await root.write(`identity/group/name/${oncallGroup}`, { type: 'internal' });
  ws = tofuWorkspace({
    parent: dir, address: v.address, token: v.rootToken,
    vars: {
      vault_version_override: '1.15.0', skip_child_token: true,
      ssh_mount: A.sshMount, ssh_role: A.sshRole, transit_mount: A.transitMount, transit_key: A.transitKey,
      approle_mount: A.approleMount, approle_role: A.approleRole, kv_mount: A.kvMount, policy_prefix: A.policyPrefix,
      factory_cidrs: FACTORY,
      create_userpass: true, userpass_mount: userpassMount, engineer_usernames: [engineerUser],
      create_oidc: true, oidc_mount: oidcMount, oidc_discovery_url: oidc.issuer, oidc_client_id: oidc.clientId,
      oidc_client_secret: oidc.clientSecret, oidc_user_claim: 'sub',
      oidc_allowed_redirect_uris: [`http://127.0.0.1:${oidcPort}/oidc/callback`],
      // Low enough that a burst trips it, high enough that single flows never do.
      create_decrypt_quota: true, decrypt_rate_limit: 5, decrypt_rate_limit_interval: 1,
      fleet_access: FLEET_ACCESS,
      name_ssh_issuer: inject('vault').flavour !== 'vault',
    },
  });
  await ws.must(['init', '-input=false', '-no-color']);
  await ws.must(['apply', '-auto-approve', '-input=false', '-no-color']);
  outputs = await ws.outputs();
}, 15 * 60_000);

afterAll(async () => {
  // No `tofu destroy`: deletion_allowed=false on the transit key makes it refuse, by design.
  for (const l of [A, B]) {
    for (const m of [l.sshMount, l.transitMount, l.kvMount]) await root.delete(`sys/mounts/${m}`).catch(() => {});
    await root.delete(`sys/auth/${l.approleMount}`).catch(() => {});
    for (const p of Object.keys(POLICY_FILES) as Persona[]) await root.delete(`sys/policies/acl/${policyName(l, p)}`).catch(() => {});
    for (const p of ACCESS_PRINCIPALS) {
      await root.delete(`identity/group/name/${l.policyPrefix}-access-${p}`).catch(() => {});
      await root.delete(`sys/policies/acl/${l.policyPrefix}-access-${p}`).catch(() => {});
    }
  }
  for (const m of [userpassMount, oidcMount]) await root.delete(`sys/auth/${m}`).catch(() => {});
  await root.delete(`sys/quotas/rate-limit/${A.policyPrefix}-transit-decrypt`).catch(() => {});
  await root.delete(`identity/group/name/${A.policyPrefix}-engineers`).catch(() => {});
  await root.delete(`identity/group/name/${oncallGroup}`).catch(() => {});
  await root.delete(`identity/entity/name/${A.policyPrefix}-${engineerUser}`).catch(() => {});
  await oidc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Everything `fleetvault init` creates, read back from the server, with the layout's names replaced by placeholders. */
async function readBack(l: LayoutSettings): Promise<Record<string, unknown>> {
  const mounts = (await root.read<Record<string, { type: string; description: string; options: unknown; config: unknown }>>('sys/mounts')).data;
  const auths = (await root.read<Record<string, { type: string; description: string; options: unknown; config: unknown }>>('sys/auth')).data;
  // options: the provider enables auth methods with options null, the CLI with {}; Vault treats
  // both as "no options" (the one difference the two are allowed to have).
  const mount = (m: { type: string; description: string; options: unknown; config: unknown }) => ({ type: m.type, description: m.description, options: m.options ?? {}, config: m.config });
  const { keys: _versions, ...key } = (await root.read<Record<string, unknown>>(`${l.transitMount}/keys/${l.transitKey}`)).data;
  const ca = (await root.read<{ public_key: string }>(`${l.sshMount}/config/ca`)).data.public_key;
  const policies: Record<string, string> = {};
  for (const p of Object.keys(POLICY_FILES) as Persona[]) {
    policies[p] = (await root.read<{ policy: string }>(`sys/policies/acl/${policyName(l, p)}`)).data.policy;
  }
  const access: Record<string, unknown> = {};
  for (const p of ACCESS_PRINCIPALS) {
    const g = (await root.read<Record<string, unknown>>(`identity/group/name/${l.policyPrefix}-access-${p}`)).data;
    access[p] = {
      role: (await root.read(`${l.sshMount}/roles/${p}`)).data,
      policy: (await root.read<{ policy: string }>(`sys/policies/acl/${l.policyPrefix}-access-${p}`)).data.policy,
      group: { name: g.name, type: g.type, policies: g.policies, member_group_ids: g.member_group_ids, member_entity_ids: g.member_entity_ids ?? [], metadata: g.metadata },
    };
  }
  const raw = {
    access,
    mounts: {
      ssh: mount(mounts[`${l.sshMount}/`]!), transit: mount(mounts[`${l.transitMount}/`]!), kv: mount(mounts[`${l.kvMount}/`]!),
      approle: mount(auths[`${l.approleMount}/`]!),
    },
    tune: {
      ssh: (await root.read(`sys/mounts/${l.sshMount}/tune`)).data,
      transit: (await root.read(`sys/mounts/${l.transitMount}/tune`)).data,
      kv: (await root.read(`sys/mounts/${l.kvMount}/tune`)).data,
      approle: (await root.read(`sys/auth/${l.approleMount}/tune`)).data,
    },
    sshRole: (await root.read(`${l.sshMount}/roles/${l.sshRole}`)).data,
    caKeyType: ca.split(' ')[0],
    transitKey: key,
    approleRole: (await root.read(`auth/${l.approleMount}/role/${l.approleRole}`)).data,
    policies,
  };
  // Longest names first; every name carries the layout's unique slug, so none is part of another.
  const names: [string, string][] = [
    [l.approleMount, '<approle>'], [l.transitMount, '<transit>'], [l.sshMount, '<ssh>'], [l.kvMount, '<kv>'], [l.policyPrefix, '<prefix>'],
    [l.sshRole, '<role>'], [l.transitKey, '<key>'], [l.approleRole, '<flasher>'],
  ];
  let json = JSON.stringify(raw);
  for (const [name, placeholder] of names) json = json.replaceAll(name, placeholder);
  return JSON.parse(json) as Record<string, unknown>;
}

describe('terraform/', () => {
  test('tofu fmt -check and tofu validate pass (root module and examples/complete)', async () => {
    const fmt = await ws.run(['fmt', '-check', '-recursive', '-no-color', join(REPO, 'terraform')]);
    expect(fmt.code, `unformatted files:\n${fmt.stdout}${fmt.stderr}`).toBe(0);
    const valid = await ws.run(['validate', '-no-color']);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toMatch(/configuration is valid/);
    const example = join(ws.dir, 'examples/complete');
    await ws.must(['init', '-input=false', '-no-color', '-backend=false'], { cwd: example });
    const ex = await ws.run(['validate', '-no-color'], { cwd: example });
    expect(ex.code, ex.stderr).toBe(0);
  });

  test('after apply, tofu plan shows no changes and the outputs describe the layout', async () => {
    const plan = await ws.run(['plan', '-detailed-exitcode', '-input=false', '-no-color']);
    // 0 = no changes, 2 = changes pending (drift between what the provider writes and reads back).
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/No changes/);
    expect(outputs.fleetvault_env).toEqual(layoutEnv(A));
    expect(outputs.policy_names).toEqual({ engineer: `${A.policyPrefix}-engineer`, operator: `${A.policyPrefix}-operator`, flasher: `${A.policyPrefix}-flasher`, auditor: `${A.policyPrefix}-auditor`, admin: `${A.policyPrefix}-admin` });
    expect(outputs.ca_public_key).toMatch(/^ssh-ed25519 AAAA\S+$/);
    expect(outputs.audit_device ?? null).toBeNull(); // create_audit_device defaults to off (OpenBao ≥ 2.4 refuses it)
    const quota = (await root.read(`sys/quotas/rate-limit/${outputs.decrypt_quota}`)).data;
    expect(quota).toMatchObject({ path: `${A.transitMount}/decrypt/${A.transitKey}`, rate: 5, interval: 1 });
  });

  test('fleetvault init finds nothing to change on the terraform layout, and builds an identical one', async () => {
    const env = { VAULT_ADDR: v.address, VAULT_TOKEN: v.rootToken };
    const accessFile = join(dir, 'fleet-access.json');
    writeFileSync(accessFile, JSON.stringify(FLEET_ACCESS));
    const again = await runCli(['init', '--json', '--factory-cidr', ...FACTORY, '--fleet-access', accessFile], { env: { ...env, ...layoutEnv(A) } });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ changes: [] });

    const made = await runCli(['init', '--json', '--factory-cidr', ...FACTORY, '--fleet-access', accessFile], { env: { ...env, ...layoutEnv(B) } });
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout).changes.length).toBeGreaterThan(5);

    const a = await readBack(A);
    const b = await readBack(B);
    // Section by section, so a drift names what drifted.
    for (const k of Object.keys(b)) expect(a[k], `terraform vs fleetvault init: ${k}`).toEqual(b[k]);
    // The scoped-access section really holds the grants (fleet_access vs --fleet-access).
    const access = a.access as Record<string, { policy: string; role: { allowed_users: string; max_ttl: number }; group: { member_group_ids: string[] } }>;
    expect(Object.keys(access)).toEqual(ACCESS_PRINCIPALS);
    expect(access['break-glass']!.policy).toContain('required_parameters = ["valid_principals", "reason"]');
    expect(access[`device-${DEVICE}`]!.role).toMatchObject({ allowed_users: `device-${DEVICE}`, max_ttl: 900, default_critical_options: { 'source-address': '127.0.0.0/8' } });
    expect(access[`device-${DEVICE}`]!.policy).toContain('"critical_options" = []');
    expect(access['fleet-my_5forg.fleet_2ea']!.group.member_group_ids).toHaveLength(1);
    expect(a).toEqual(b);

    // And both match the source of truth in src/vault/layout.ts, not merely each other.
    // HashiCorp Vault 1.14 does not know allow_empty_principals (docs/compat.md): the
    // only field allowed to differ there, and only there.
    const vaultOnly = inject('vault').flavour === 'vault' ? ['allow_empty_principals'] : [];
    expect(differingFields(sshRoleSettings(), (await root.read(`${A.sshMount}/roles/${A.sshRole}`)).data)).toEqual(vaultOnly);
    expect(differingFields(transitKeySettings(), (await root.read(`${A.transitMount}/keys/${A.transitKey}`)).data)).toEqual([]);
    expect(differingFields(flasherRoleSettings(FACTORY, policyName(A, 'flasher')), (await root.read(`auth/${A.approleMount}/role/${A.approleRole}`)).data)).toEqual([]);
    expect(a.caKeyType).toBe('ssh-ed25519');
    // Both name the CA issuer they generate (OpenBao), so an unnamed import is drift (review of issue 11, item 2).
    if (inject('vault').flavour !== 'vault') {
      for (const l of [A, B]) {
        const def = (await root.read<{ default: string }>(`${l.sshMount}/config/issuers`)).data.default;
        expect((await root.read<{ issuer_name: string }>(`${l.sshMount}/issuer/${def}`)).data.issuer_name, l.sshMount).toBe('fleetvault-initial');
      }
    }
    expect(a.tune).toMatchObject({
      ssh: { audit_non_hmac_request_keys: SSH_AUDIT_NON_HMAC_REQUEST, audit_non_hmac_response_keys: SSH_AUDIT_NON_HMAC_RESPONSE },
      transit: { audit_non_hmac_request_keys: TRANSIT_AUDIT_NON_HMAC_REQUEST },
      approle: { audit_non_hmac_request_keys: APPROLE_AUDIT_NON_HMAC_REQUEST },
    });
    for (const p of Object.keys(POLICY_FILES) as Persona[]) {
      const text = (await root.read<{ policy: string }>(`sys/policies/acl/${policyName(A, p)}`)).data.policy;
      expect(text, p).toBe(renderPolicy(readFileSync(join(REPO, 'policies', POLICY_FILES[p]), 'utf8'), A));
    }
  });

  test('an engineer token signs a certificate with the terraform CA; the flasher AppRole unseals from 127.0.0.1', async () => {
    const key = join(dir, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const engineer = await token([policyName(A, 'engineer')]);
    const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env: { VAULT_ADDR: v.address, VAULT_TOKEN: engineer, ...layoutEnv(A) } });
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ type: 'user', principals: ['root'] });
    writeFileSync(join(dir, 'ca.pub'), `${outputs.ca_public_key}\n`);
    const caFp = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'ca.pub')], { encoding: 'utf8' }).split(' ')[1];
    expect(execFileSync('ssh-keygen', ['-L', '-f', `${key}-cert.pub`], { encoding: 'utf8' })).toContain(`Signing CA: ED25519 ${caFp}`);

    // Seal as the operator, unseal as the flasher (AppRole role from terraform, secret_id from root).
    const plain = join(dir, 'config.json');
    writeFileSync(plain, JSON.stringify({ applicationId: 7, deviceType: 'raspberrypi4-64', apiKey: 'provisioning-key-abc' }));
    const operator = await token([policyName(A, 'operator')]);
    const sealed = join(dir, 'config.sealed.json');
    const s = await runCli(['provision', 'seal', plain, '--fleet', 'acme/sensors', '--out', sealed], { env: { VAULT_ADDR: v.address, VAULT_TOKEN: operator, ...layoutEnv(A) } });
    expect(s.code, s.stderr).toBe(0);
    const secretId = (await root.write<{ secret_id: string }>(`auth/${A.approleMount}/role/${A.approleRole}/secret-id`, {})).data.secret_id;
    const out = join(dir, 'unsealed.json');
    const u = await runCli(['provision', 'unseal', sealed, '--out', out], {
      env: { VAULT_ADDR: v.address, FLEETVAULT_ROLE_ID: String(outputs.flasher_role_id), FLEETVAULT_SECRET_ID: secretId, ...layoutEnv(A) },
    });
    expect(u.code, u.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(plain));

    // From outside factory_cidrs the same kind of credential does not even log in.
    const outside = new VaultClient({ address: v.address, localAddress: '127.0.0.2', retries: 0 });
    const fresh = (await root.write<{ secret_id: string }>(`auth/${A.approleMount}/role/${A.approleRole}/secret-id`, {})).data.secret_id;
    await expect(outside.write(`auth/${A.approleMount}/login`, { role_id: outputs.flasher_role_id, secret_id: fresh }, { anonymous: true }))
      .rejects.toMatchObject({ status: expect.any(Number) });
    const inside = await root.write(`auth/${A.approleMount}/login`, { role_id: outputs.flasher_role_id, secret_id: fresh }, { anonymous: true });
    expect(inside.auth?.token_policies ?? inside.auth?.policies).toEqual([policyName(A, 'flasher')]);
  });

  test('an engineer in engineer_usernames logs in with userpass and gets the engineer policy through the identity group', async () => {
    // The password is set out of band (never in terraform state), as terraform/README.md says.
    await root.write(`auth/${userpassMount}/users/${engineerUser}`, { password: 'correct horse battery' });
    const r = await runCli(['login', '--method', 'userpass', '--path', userpassMount, '--username', engineerUser, '--no-store', '--json'], {
      env: { VAULT_ADDR: v.address, HOME: dir }, input: 'correct horse battery\n',
    });
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout).token as string;
    const self = (await root.write<{ identity_policies?: string[] }>('auth/token/lookup', { token: t })).data;
    expect(self.identity_policies).toEqual([policyName(A, 'engineer')]);
    const key = join(dir, 'up');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env: { VAULT_ADDR: v.address, VAULT_TOKEN: t, ...layoutEnv(A) } });
    expect(signed.code, signed.stderr).toBe(0);
    // …and nothing an engineer should not do: the transit key is out of reach.
    await expect(root.write(`${A.transitMount}/encrypt/${A.transitKey}`, { plaintext: 'aGk=', context: 'YQ==' }, { token: t })).rejects.toMatchObject({ status: 403 });
  });

  test('an engineer logs in through OIDC with the terraform role and gets the engineer policy', async () => {
    const child = spawn(process.execPath, [CLI, 'login', '--method', 'oidc', '--path', oidcMount, '--listen', `127.0.0.1:${oidcPort}`, '--no-store', '--json'], {
      env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), HOME: dir, LANG: 'C.UTF-8', VAULT_ADDR: v.address, FLEETVAULT_NO_BROWSER: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    try {
      let url: string | undefined;
      for (const deadline = Date.now() + 15_000; !url && Date.now() < deadline;) {
        url = /^\s+(https?:\/\/\S+)\s*$/m.exec(err)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 50));
      }
      expect(url, err).toBeDefined();
      const browser = new TestBrowser();
      const callback = await signInAtProvider(browser, url!, 'bob@example.com', `http://127.0.0.1:${oidcPort}`);
      expect((await browser.request(callback)).status).toBe(200);
      expect(await exited, err).toBe(0);
      const info = JSON.parse(out) as { policies: string[]; token: string };
      expect(info.policies).toContain(policyName(A, 'engineer'));
    } finally {
      child.kill();
    }
  });

  test('the decrypt quota refuses a burst of decrypts (429) while encrypt stays unlimited', async () => {
    const ctx = Buffer.from('acme/sensors').toString('base64');
    const { ciphertext } = (await root.write<{ ciphertext: string }>(`${A.transitMount}/encrypt/${A.transitKey}`, { plaintext: 'aGk=', context: ctx })).data;
    const raw = (path: string, body: object) => fetch(`${v.address}/v1/${path}`, { method: 'POST', headers: { 'X-Vault-Token': v.rootToken }, body: JSON.stringify(body) }).then((r) => r.status);
    const decrypts = await Promise.all(Array.from({ length: 20 }, () => raw(`${A.transitMount}/decrypt/${A.transitKey}`, { ciphertext, context: ctx })));
    expect(decrypts.filter((s) => s === 429).length, decrypts.join(' ')).toBeGreaterThan(0);
    expect(decrypts.filter((s) => s === 200).length).toBeGreaterThan(0);
    const encrypts = await Promise.all(Array.from({ length: 20 }, () => raw(`${A.transitMount}/encrypt/${A.transitKey}`, { plaintext: 'aGk=', context: ctx })));
    expect(encrypts.every((s) => s === 200), encrypts.join(' ')).toBe(true);
  });
});
