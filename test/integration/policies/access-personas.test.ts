// Scoped access as each persona's token sees it on a real OpenBao: only fleetvault-admin writes the
// scope roles, policies and access groups; nobody else can grant themselves a scope, edit a user
// group, or sign with a scoped role without a grant (the operator included).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { test, expect, describe, type VaultFixture } from '../../support/context.js';
import { VaultError } from '../../../src/errors.js';
import { VaultClient } from '../../../src/vault/client.js';
import { policyName, type Persona } from '../../../src/vault/layout.js';
import { grantAccess, listAccess, revokeAccess } from '../../../src/access/grants.js';

type Ops = Record<string, () => Promise<unknown>>;

async function tokenFor(vault: VaultFixture, persona: Persona): Promise<string> {
  return (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, persona)], ttl: '10m' })).auth!.client_token;
}

async function statuses(ops: Ops): Promise<Record<string, number | 'ok'>> {
  const out: Record<string, number | 'ok'> = {};
  for (const [name, op] of Object.entries(ops)) {
    try { await op(); out[name] = 'ok'; } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      out[name] = e.status ?? -1;
    }
  }
  return out;
}

/** A user group, a scope granted to it by root, and a public key. */
async function world(vault: VaultFixture, tmp: string, slug: string) {
  const l = vault.layout;
  const userGroup = `oncall-${slug}`;
  await vault.root.write(`identity/group/name/${userGroup}`, { type: 'internal' });
  onTestFinished(async () => {
    for (const n of await vault.root.list('identity/group/name')) {
      if (n === userGroup || n.startsWith(`${l.policyPrefix}-`)) await vault.root.delete(`identity/group/name/${n}`).catch(() => {});
    }
  });
  await grantAccess({ client: vault.root, layout: l, scope: { kind: 'fleet', slug: 'acme/a' }, grantee: { kind: 'group', name: userGroup } });
  await grantAccess({ client: vault.root, layout: l, scope: { kind: 'break-glass' }, grantee: { kind: 'group', name: userGroup } });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'id')]);
  return { l, userGroup, publicKey: readFileSync(join(tmp, 'id.pub'), 'utf8'), accessGroup: `${l.policyPrefix}-access-fleet-acme.a` };
}

/** What only an administrator may do about scoped access, tried with `token`. */
function grantOps(vault: VaultFixture, w: Awaited<ReturnType<typeof world>>, token: string): Ops {
  const { l } = w;
  const r = vault.root;
  const t = { token };
  return {
    'create a scope role': () => r.write(`${l.sshMount}/roles/fleet-acme.b`, { key_type: 'ca', allow_user_certificates: true, allowed_users: 'fleet-acme.b' }, t),
    'widen a scope role': () => r.write(`${l.sshMount}/roles/fleet-acme.a`, { key_type: 'ca', allow_user_certificates: true, allowed_users: '*' }, t),
    'delete a scope role': () => r.delete(`${l.sshMount}/roles/fleet-acme.a`, t),
    'write a scope policy': () => r.write(`sys/policies/acl/${l.policyPrefix}-access-fleet-acme.b`, { policy: 'path "*" { capabilities = ["read"] }' }, t),
    'create an access group': () => r.write(`identity/group/name/${l.policyPrefix}-access-fleet-acme.b`, { policies: [`${l.policyPrefix}-access-fleet-acme.a`] }, t),
    'join an access group': () => r.write(`identity/group/name/${w.accessGroup}`, { member_group_ids: [] }, t),
    'delete an access group': () => r.delete(`identity/group/name/${w.accessGroup}`, t),
  };
}

describe('scoped access under the persona policies', () => {
  test('admin: grants, lists and revokes; never edits a user group, entity or alias', async ({ vault, tmp, slug }) => {
    const w = await world(vault, tmp, slug);
    const token = await tokenFor(vault, 'admin');
    const asAdmin = new VaultClient({ address: vault.address, token });
    const scope = { kind: 'device', uuid: 'ab'.repeat(16) } as const;
    const grantee = { kind: 'group', name: w.userGroup } as const;
    expect((await grantAccess({ client: asAdmin, layout: w.l, scope, grantee })).changes).toHaveLength(3);
    expect((await grantAccess({ client: asAdmin, layout: w.l, scope, grantee })).changes).toEqual([]);
    expect((await listAccess({ client: asAdmin, layout: w.l })).map((g) => g.principal)).toEqual(['break-glass', `device-${'ab'.repeat(16)}`, 'fleet-acme.a']);
    expect((await revokeAccess({ client: asAdmin, layout: w.l, scope, grantee })).changes).toHaveLength(3);
    const r = vault.root;
    const t = { token };
    const forbidden: Ops = {
      'give a user group a policy': () => r.write(`identity/group/name/${w.userGroup}`, { policies: [`${w.l.policyPrefix}-access-fleet-acme.a`] }, t),
      'delete a user group': () => r.delete(`identity/group/name/${w.userGroup}`, t),
      'create a group outside the prefix': () => r.write(`identity/group/name/evil-${slug}`, { policies: ['default'] }, t),
      'create an entity': () => r.write(`identity/entity/name/evil-${slug}`, { policies: [`${w.l.policyPrefix}-admin`] }, t),
      'create an entity alias': () => r.write('identity/entity-alias', { name: 'x', canonical_id: 'y', mount_accessor: 'z' }, t),
      // (Signing is not refused: the admin owns the SSH mount — a root-like persona, policies/admin.hcl.)
    };
    expect(await statuses(forbidden)).toEqual(Object.fromEntries(Object.keys(forbidden).map((k) => [k, 403])));
  });

  for (const persona of ['engineer', 'operator', 'auditor', 'flasher'] as const) {
    test(`${persona}: cannot grant, edit grants or sign with a scope role it was not granted`, async ({ vault, tmp, slug }) => {
      const w = await world(vault, tmp, slug);
      const token = await tokenFor(vault, persona);
      const r = vault.root;
      const t = { token };
      const forbidden: Ops = {
        ...grantOps(vault, w, token),
        'sign with the fleet role': () => r.write(`${w.l.sshMount}/sign/fleet-acme.a`, { public_key: w.publicKey, valid_principals: 'fleet-acme.a' }, t),
        'sign break-glass (with a reason)': () => r.write(`${w.l.sshMount}/sign/break-glass`, { public_key: w.publicKey, valid_principals: 'break-glass', reason: 'x' }, t),
        'give a user group a policy': () => r.write(`identity/group/name/${w.userGroup}`, { policies: [`${w.l.policyPrefix}-access-break-glass`] }, t),
        'read the access group': () => r.read(`identity/group/name/${w.accessGroup}`, t),
      };
      expect(await statuses(forbidden)).toEqual(Object.fromEntries(Object.keys(forbidden).map((k) => [k, 403])));
    });
  }

  test('a granted member: signs its scope only; break-glass only with a non-empty reason', async ({ vault, tmp, slug }) => {
    const w = await world(vault, tmp, slug);
    const r = vault.root;
    // A token carrying exactly what the access group hands down to its members.
    const token = (await r.write('auth/token/create', { policies: [`${w.l.policyPrefix}-access-fleet-acme.a`, `${w.l.policyPrefix}-access-break-glass`], ttl: '10m' })).auth!.client_token;
    const t = { token };
    const sign = (role: string, body: Record<string, unknown>) => r.write(`${w.l.sshMount}/sign/${role}`, { public_key: w.publicKey, ...body }, t);
    expect(await statuses({
      'fleet A': () => sign('fleet-acme.a', { valid_principals: 'fleet-acme.a' }),
      'break-glass with a reason': () => sign('break-glass', { valid_principals: 'break-glass', reason: 'INC-1' }),
    })).toEqual({ 'fleet A': 'ok', 'break-glass with a reason': 'ok' });
    expect(await statuses({
      'break-glass without a reason': () => sign('break-glass', { valid_principals: 'break-glass' }),
      'break-glass with an empty reason': () => sign('break-glass', { valid_principals: 'break-glass', reason: '' }),
      'fleet A with no principals': () => sign('fleet-acme.a', { valid_principals: '' }),
      'the engineer role (root)': () => sign(w.l.sshRole, { valid_principals: 'root' }),
      ...grantOps(vault, w, token),
    })).toEqual({
      'break-glass without a reason': 403, 'break-glass with an empty reason': 403, 'fleet A with no principals': 403, 'the engineer role (root)': 403,
      ...Object.fromEntries(Object.keys(grantOps(vault, w, token)).map((k) => [k, 403])),
    });
    // The role signs its one principal and nothing else (400 from the role, not the policy).
    await expect(sign('fleet-acme.a', { valid_principals: 'fleet-acme.b' })).rejects.toMatchObject({ status: 400 });
    await expect(sign('fleet-acme.a', { valid_principals: 'fleet-acme.a,root' })).rejects.toMatchObject({ status: 400 });
  });
});
