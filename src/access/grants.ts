// `fleetvault access grant|revoke|list`: who may ask Vault for which scoped principal. Every
// check that can fail (input, the group or entity named) runs before the first write, so bad input
// changes nothing; a repeated grant or revoke finds nothing to do and changes nothing either.
import type { LayoutSettings } from '../config.js';
import { UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { differingFields } from '../vault/bootstrap.js';
import { describeScope, parseScopePrincipal, scopePrincipal, type Scope } from './principals.js';
import { accessGroupPrefix, accessName, accessPolicyText, accessRolePath, accessRoleSettings, DEFAULT_MAX_TTL_SECONDS } from './vault-objects.js';

export type Grantee = { kind: 'group'; name: string } | { kind: 'entity'; name: string };

export interface AccessChange { kind: 'ssh-role' | 'policy' | 'group'; path: string; action: 'created' | 'updated' | 'deleted' }

export interface AccessOptions {
  client: VaultClient;
  layout: LayoutSettings;
  scope: Scope;
  grantee: Grantee;
  /** Maximum certificate validity for this scope (the role's max_ttl; shared by all its grantees). */
  maxTtlSeconds?: number;
  /** Bind the scope's certificates to these source CIDRs (default: keep the role's binding, or none). */
  sourceCidrs?: string[];
}

export interface AccessResult { principal: string; scope: Scope; grantee: Grantee; changes: AccessChange[] }

interface IdentityGroup { id: string; name: string; policies?: string[] | null; member_group_ids?: string[] | null; member_entity_ids?: string[] | null; type?: string }

// Vault identity names go into a path: keep them to characters that need no escaping.
const IDENTITY_NAME = /^[A-Za-z0-9._@+=-]{1,128}$/;

export function checkGrantee(g: Grantee): void {
  if (!IDENTITY_NAME.test(g.name)) {
    throw new UsageError(`${g.kind} name ${JSON.stringify(g.name.slice(0, 80))} refused`, { hint: 'Vault identity names here may use A-Z a-z 0-9 . _ @ + = -' });
  }
}

/** The grantee's identity id; a missing group or entity is refused before anything is written. */
export async function resolveGrantee(client: VaultClient, g: Grantee): Promise<string> {
  checkGrantee(g);
  const path = `identity/${g.kind}/name/${g.name}`;
  let found;
  try {
    found = await client.readOptional<{ id: string }>(path);
  } catch (e) {
    throw failedTo(`look up ${g.kind} ${g.name}`, e);
  }
  if (!found?.data?.id) {
    throw new VaultError(`${g.kind} ${g.name} does not exist in Vault`, {
      path, status: 404, hint: g.kind === 'group' ? 'create it (or log in once through the OIDC mount that maps it) first' : 'the entity appears on its first login',
    });
  }
  return found.data.id;
}

async function readAccessGroup(client: VaultClient, name: string): Promise<IdentityGroup | undefined> {
  return (await client.readOptional<IdentityGroup>(`identity/group/name/${name}`))?.data ?? undefined;
}

export async function grantAccess(o: AccessOptions): Promise<AccessResult> {
  const { client, layout: l } = o;
  const principal = scopePrincipal(o.scope);
  if (o.maxTtlSeconds !== undefined && !(o.maxTtlSeconds > 0)) throw new UsageError('--max-ttl must be positive');
  const memberId = await resolveGrantee(client, o.grantee);
  const changes: AccessChange[] = [];
  const name = accessName(l, principal);
  const what = `grant ${describeScope(o.scope)} to ${o.grantee.kind} ${o.grantee.name}`;
  try {
    // Role: exactly this principal.
    const rolePath = accessRolePath(l, principal);
    const haveRole = (await client.readOptional(rolePath))?.data;
    const maxTtl = o.maxTtlSeconds ?? (haveRole?.max_ttl as number | undefined) ?? DEFAULT_MAX_TTL_SECONDS;
    const haveCidrs = ((haveRole?.default_critical_options as Record<string, string> | undefined)?.['source-address'] ?? '').split(',').filter(Boolean);
    const cidrs = o.sourceCidrs ?? haveCidrs;
    const wantRole = accessRoleSettings(principal, maxTtl, cidrs);
    const writeRole = async () => {
      // Fields the server does not return are fields it does not know (see bootstrap.ts): not drift.
      if (differingFields(wantRole, haveRole).filter((k) => !haveRole || k in haveRole).length) {
        await client.write(rolePath, wantRole);
        changes.push({ kind: 'ssh-role', path: rolePath, action: haveRole ? 'updated' : 'created' });
      }
    };
    // Policy: use of that role.
    const policyPath = `sys/policies/acl/${name}`;
    const wantPolicy = accessPolicyText(l, principal, cidrs.length > 0);
    const havePolicy = (await client.readOptional<{ policy: string }>(policyPath))?.data?.policy;
    const writePolicy = async () => {
      if (havePolicy !== wantPolicy) {
        await client.write(policyPath, { policy: wantPolicy });
        changes.push({ kind: 'policy', path: policyPath, action: havePolicy === undefined ? 'created' : 'updated' });
      }
    };
    // Never a moment where a client could replace a source binding: when binding, the policy that
    // refuses client critical options goes first; when unbinding, the role's default goes first.
    if (cidrs.length > 0) { await writePolicy(); await writeRole(); } else { await writeRole(); await writePolicy(); }
    // Group: membership is the grant.
    const group = await readAccessGroup(client, name);
    const key = o.grantee.kind === 'group' ? 'member_group_ids' : 'member_entity_ids';
    const members = { member_group_ids: group?.member_group_ids ?? [], member_entity_ids: group?.member_entity_ids ?? [] };
    const policiesOk = group && JSON.stringify(group.policies ?? []) === JSON.stringify([name]);
    if (!group || !members[key].includes(memberId) || !policiesOk) {
      if (!members[key].includes(memberId)) members[key] = [...members[key], memberId];
      await client.write(`identity/group/name/${name}`, { type: 'internal', policies: [name], ...members, metadata: { 'fleetvault-principal': principal } });
      changes.push({ kind: 'group', path: `identity/group/name/${name}`, action: group ? 'updated' : 'created' });
    }
  } catch (e) {
    throw failedTo(what, e);
  }
  return { principal, scope: o.scope, grantee: o.grantee, changes };
}

export async function revokeAccess(o: Omit<AccessOptions, 'maxTtlSeconds'>): Promise<AccessResult> {
  const { client, layout: l } = o;
  const principal = scopePrincipal(o.scope);
  const memberId = await resolveGrantee(client, o.grantee);
  const name = accessName(l, principal);
  const changes: AccessChange[] = [];
  try {
    const group = await readAccessGroup(client, name);
    const key = o.grantee.kind === 'group' ? 'member_group_ids' : 'member_entity_ids';
    if (!group || !(group[key] ?? []).includes(memberId)) return { principal, scope: o.scope, grantee: o.grantee, changes };
    const members = { member_group_ids: group.member_group_ids ?? [], member_entity_ids: group.member_entity_ids ?? [] };
    members[key] = members[key].filter((id) => id !== memberId);
    if (members.member_group_ids.length + members.member_entity_ids.length > 0) {
      await client.write(`identity/group/name/${name}`, { policies: [name], ...members });
      changes.push({ kind: 'group', path: `identity/group/name/${name}`, action: 'updated' });
    } else {
      // Last grantee gone: nothing may use the scope, so its group, policy and role go too.
      await client.delete(`identity/group/name/${name}`);
      changes.push({ kind: 'group', path: `identity/group/name/${name}`, action: 'deleted' });
      await client.delete(`sys/policies/acl/${name}`);
      changes.push({ kind: 'policy', path: `sys/policies/acl/${name}`, action: 'deleted' });
      await client.delete(accessRolePath(l, principal));
      changes.push({ kind: 'ssh-role', path: accessRolePath(l, principal), action: 'deleted' });
    }
  } catch (e) {
    throw failedTo(`revoke ${describeScope(o.scope)} from ${o.grantee.kind} ${o.grantee.name}`, e);
  }
  return { principal, scope: o.scope, grantee: o.grantee, changes };
}

export interface AccessGrant {
  principal: string;
  scope: Scope;
  groups: string[];
  entities: string[];
  maxTtlSeconds?: number;
  /** Source addresses the scope's certificates are bound to; empty: any. */
  sourceCidrs: string[];
}

export interface ListAccessOptions { client: VaultClient; layout: LayoutSettings; scope?: Scope; grantee?: Grantee }

/** Every scope with at least one grantee, with names resolved; filtered by scope and/or grantee. */
export async function listAccess(o: ListAccessOptions): Promise<AccessGrant[]> {
  const { client, layout: l } = o;
  const wantPrincipal = o.scope ? scopePrincipal(o.scope) : undefined;
  if (o.grantee) checkGrantee(o.grantee);
  const prefix = accessGroupPrefix(l);
  try {
    const names = (await client.list('identity/group/name')).filter((n) => n.startsWith(prefix));
    const out: AccessGrant[] = [];
    const nameOf = new Map<string, string>();
    const resolveName = async (kind: 'group' | 'entity', id: string) => {
      if (!nameOf.has(id)) nameOf.set(id, (await client.readOptional<{ name: string }>(`identity/${kind}/id/${id}`))?.data?.name ?? id);
      return nameOf.get(id)!;
    };
    for (const n of names.sort()) {
      const principal = n.slice(prefix.length);
      const scope = parseScopePrincipal(principal);
      if (!scope || (wantPrincipal && principal !== wantPrincipal)) continue;
      const g = await readAccessGroup(client, n);
      if (!g) continue;
      const groups = await Promise.all((g.member_group_ids ?? []).map((id) => resolveName('group', id)));
      const entities = await Promise.all((g.member_entity_ids ?? []).map((id) => resolveName('entity', id)));
      if (o.grantee && !(o.grantee.kind === 'group' ? groups : entities).includes(o.grantee.name)) continue;
      const role = (await client.readOptional(accessRolePath(l, principal)))?.data;
      const sourceCidrs = ((role?.default_critical_options as Record<string, string> | undefined)?.['source-address'] ?? '').split(',').filter(Boolean);
      out.push({ principal, scope, groups: groups.sort(), entities: entities.sort(), maxTtlSeconds: role?.max_ttl as number | undefined, sourceCidrs });
    }
    return out;
  } catch (e) {
    throw failedTo('list access grants', e);
  }
}
