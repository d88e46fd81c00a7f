// The Vault objects behind one scope: an SSH role that signs exactly its principal, a policy that
// lets a token use that role, and an internal identity group holding that policy whose members are
// the granted groups and entities. Vault decides who may ask for what: membership of the group is
// the grant. User groups (and the OIDC external groups claims map to) are never edited: they
// become member groups, and Vault passes a parent group's policies down to its members.
import type { LayoutSettings } from '../config.js';
import { sshRoleSettings } from '../vault/layout.js';
import { BREAK_GLASS_PRINCIPAL } from './principals.js';

/** Default and maximum validity of scoped certificates, as the engineer role (DESIGN.md). */
export const DEFAULT_MAX_TTL_SECONDS = 3600;
const DEFAULT_TTL_SECONDS = 1800;

export function accessGroupPrefix(l: LayoutSettings): string {
  return `${l.policyPrefix}-access-`;
}

/** The policy and the internal group share one name: `<prefix>-access-<principal>`. */
export function accessName(l: LayoutSettings, principal: string): string {
  return accessGroupPrefix(l) + principal;
}

/** The SSH role is named after its principal (both live in [A-Za-z0-9._-]). */
export function accessRolePath(l: LayoutSettings, principal: string): string {
  return `${l.sshMount}/roles/${principal}`;
}

/**
 * sourceCidrs binds every certificate of the scope to those source addresses: the role's default
 * source-address critical option. Vault drops role defaults as soon as a request names any critical
 * option, so the scope's policy then refuses critical_options outright (accessPolicyText).
 */
export function accessRoleSettings(principal: string, maxTtlSeconds = DEFAULT_MAX_TTL_SECONDS, sourceCidrs: string[] = []): Record<string, unknown> {
  return {
    ...sshRoleSettings(),
    // Exactly one principal, and it is the default: a request naming none gets this one, never root.
    allowed_users: principal,
    default_user: principal,
    ttl: Math.min(DEFAULT_TTL_SECONDS, maxTtlSeconds),
    max_ttl: maxTtlSeconds,
    default_critical_options: sourceCidrs.length ? { 'source-address': sourceCidrs.join(',') } : {},
  };
}

export function accessPolicyText(l: LayoutSettings, principal: string, bound = false): string {
  const breakGlass = principal === BREAK_GLASS_PRINCIPAL;
  // Break-glass: Vault itself demands a non-empty reason, which the audit log shows in clear.
  const required = breakGlass ? '["valid_principals", "reason"]' : '["valid_principals"]';
  const deniedReason = (breakGlass ? '\n    "reason"           = [""]' : '') + (bound ? '\n    "critical_options" = []' : '');
  // terraform/main.tf (vault_policy.access) writes this same text: change both.
  return `# ${accessName(l, principal)}: fleetvault scoped access. Sign certificates for
# principal ${principal} (role ${principal}) and nothing else.
path "${l.sshMount}/sign/${principal}" {
  capabilities = ["update"]
  required_parameters = ${required}
  denied_parameters = {
    "valid_principals" = [""]${deniedReason}
  }
}
path "${l.sshMount}/roles/${principal}" {
  capabilities = ["read"]
}
path "${l.sshMount}/public_key" {
  capabilities = ["read"]
}
path "${l.sshMount}/config/ca" {
  capabilities = ["read"]
}
`;
}
