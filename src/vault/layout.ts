// The default Vault layout of DESIGN.md, as data. `fleetvault init`, `fleetvault dev` and
// terraform/ all create exactly this; test/integration/terraform checks the two never drift.
import type { LayoutSettings } from '../config.js';

/** Persona → policy file in policies/. The Vault policy is named `<policyPrefix>-<persona>`. */
export const POLICY_FILES = {
  engineer: 'engineer.hcl',
  operator: 'fleet-operator.hcl',
  flasher: 'flasher.hcl',
  auditor: 'auditor.hcl',
  admin: 'admin.hcl',
} as const;
export type Persona = keyof typeof POLICY_FILES;

export function policyName(l: LayoutSettings, persona: Persona): string {
  return `${l.policyPrefix}-${persona}`;
}

/**
 * Request fields the audit log shows in clear, so `fleetvault audit` can answer "who got a
 * certificate for which principals, for how long, and why" without --resolve. Never public keys,
 * plaintext or ciphertext: those stay HMAC'd.
 */
export const SSH_AUDIT_NON_HMAC_REQUEST = ['valid_principals', 'ttl', 'key_id', 'cert_type', 'reason', 'extensions'];
// Refusals (a TTL above max_ttl, a CIDR-refused login) carry their reason only in
// response.data.error: in clear, `fleetvault audit` can say why a request was refused.
export const SSH_AUDIT_NON_HMAC_RESPONSE = ['serial_number', 'error'];
// The transit context is the fleet slug (base64): not a secret, and what ties a decrypt to a fleet.
export const TRANSIT_AUDIT_NON_HMAC_REQUEST = ['context', 'key_version'];
export const TRANSIT_AUDIT_NON_HMAC_RESPONSE = ['error'];
// AppRole secret_id metadata names the batch; role_name identifies the flasher role; role_id (not a
// secret: it is printed by batch create and sits on every USB stick) ties a REFUSED login — which
// carries no token and no metadata — to its batch, so `factory reconcile` counts a copied stick.
export const APPROLE_AUDIT_NON_HMAC_REQUEST = ['role_name', 'metadata', 'cidr_list', 'num_uses', 'role_id'];
export const APPROLE_AUDIT_NON_HMAC_RESPONSE = ['error'];

/**
 * The AppRole mount's user lockout (OpenBao, Vault >= 1.13): off. Lockout is keyed on the role_id,
 * which is not secret (it is on every factory USB stick), so five bad logins from anywhere would
 * lock every batch of the role out for 15 minutes — an availability hole, not a defence. The
 * secret_id it would protect is 128 random bits, single-batch, use-counted and CIDR-bound.
 */
export const APPROLE_USER_LOCKOUT = { lockout_disable: true };

export function sshRoleSettings(): Record<string, unknown> {
  return {
    key_type: 'ca',
    algorithm_signer: 'default',
    allow_user_certificates: true,
    allow_host_certificates: false,
    allowed_users: 'root',
    default_user: 'root',
    ttl: 1800,
    max_ttl: 3600,
    allowed_extensions: 'permit-pty',
    // Nothing by default: Vault applies default_extensions whenever a request names none, so a
    // non-empty default would put permit-pty on every certificate. Clients ask for it explicitly
    // for interactive sessions.
    default_extensions: {},
    // Empty would mean ANY critical option (Vault's reading of an empty list). fleetvault only ever
    // asks for source-address (`--from CIDR`), which can only narrow a certificate; force-command
    // and anything else are refused.
    allowed_critical_options: 'source-address',
    // OpenSSH < 10.3 treats a certificate with no principals as valid for any cert-authority line
    // without principals=: such a certificate must never be issued.
    allow_empty_principals: false,
    // Engineers cannot choose their key id: sshd logs it on login, so it must name the Vault identity.
    allow_user_key_ids: false,
    key_id_format: 'fleetvault-{{token_display_name}}-{{public_key_hash}}',
  };
}

export function transitKeySettings(): Record<string, unknown> {
  return { type: 'aes256-gcm96', derived: true, exportable: false, deletion_allowed: false, allow_plaintext_backup: false };
}

export function flasherRoleSettings(factoryCidrs: string[], policy: string): Record<string, unknown> {
  return {
    token_policies: [policy],
    token_no_default_policy: true,
    bind_secret_id: true,
    // secret_id_bound_cidrs only gates the login; token_bound_cidrs also gates every use of the token.
    secret_id_bound_cidrs: factoryCidrs,
    token_bound_cidrs: factoryCidrs,
    // One login = one decrypt: a batch of N secret_id uses allows exactly N decrypts.
    token_num_uses: 1,
    token_ttl: 300,
    token_max_ttl: 600,
    token_type: 'service',
  };
}

/** Policies are written for the default layout; a custom layout rewrites their path prefixes. */
export function renderPolicy(text: string, l: LayoutSettings): string {
  return text
    .replaceAll('"ssh-client-signer/sign/engineer"', `"${l.sshMount}/sign/${l.sshRole}"`)
    .replaceAll('"ssh-client-signer/roles/engineer"', `"${l.sshMount}/roles/${l.sshRole}"`)
    .replaceAll('"ssh-client-signer/', `"${l.sshMount}/`)
    .replaceAll('/balena-provisioning"', `/${l.transitKey}"`)
    .replaceAll('/balena-provisioning/', `/${l.transitKey}/`)
    .replaceAll('"transit/', `"${l.transitMount}/`)
    .replaceAll('"auth/approle/role/flasher', `"auth/${l.approleMount}/role/${l.approleRole}`)
    .replaceAll('"fleetvault/data/', `"${l.kvMount}/data/`)
    // admin.hcl and the per-batch AppRole paths name mounts and the policy prefix elsewhere in a path.
    .replaceAll('"sys/mounts/ssh-client-signer', `"sys/mounts/${l.sshMount}`)
    .replaceAll('"sys/mounts/transit', `"sys/mounts/${l.transitMount}`)
    .replaceAll('"sys/mounts/fleetvault', `"sys/mounts/${l.kvMount}`)
    .replaceAll('"sys/auth/approle', `"sys/auth/${l.approleMount}`)
    .replaceAll('"ssh-client-signer-', `"${l.sshMount}-`)
    .replaceAll('"auth/approle/', `"auth/${l.approleMount}/`)
    .replaceAll('"sys/policies/acl/fleetvault-', `"sys/policies/acl/${l.policyPrefix}-`);
}
