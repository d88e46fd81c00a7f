# --- provider --------------------------------------------------------------------------------
# The address and token come from VAULT_ADDR / VAULT_TOKEN in the environment (never from a
# variable: variables end up in plan files and CI logs).

variable "vault_version_override" {
  description = "Server version the provider assumes instead of reading it from sys/seal-status. Leave null for HashiCorp Vault; set \"1.15.0\" for OpenBao, whose 2.x version numbers make the provider disable features it would otherwise use."
  type        = string
  default     = null
}

variable "skip_child_token" {
  description = "Use VAULT_TOKEN directly instead of minting a short-lived child token for the run. Set true for OpenBao and when the token may not create child tokens."
  type        = bool
  default     = false
}

# --- layout (the same names `fleetvault init` takes as --ssh-mount, … or FLEETVAULT_* env) ----

variable "ssh_mount" {
  description = "Path of the SSH secrets engine that holds the user CA (FLEETVAULT_SSH_MOUNT)."
  type        = string
  default     = "ssh-client-signer"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.ssh_mount))
    error_message = "ssh_mount must be a mount path: letters, digits, - _ . and inner slashes."
  }
}

variable "ssh_role" {
  description = "Name of the SSH signing role engineers use (FLEETVAULT_SSH_ROLE)."
  type        = string
  default     = "engineer"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.ssh_role))
    error_message = "ssh_role must be a role name: letters, digits, - _ ."
  }
}

variable "ssh_ca_key_type" {
  description = "Key type of the CA generated inside Vault. fleetvault, `fleetvault init` and the tests use ed25519; changing it replaces the CA (every device must then trust the new key)."
  type        = string
  default     = "ed25519"
}

variable "transit_mount" {
  description = "Path of the transit secrets engine that seals provisioning configs (FLEETVAULT_TRANSIT_MOUNT)."
  type        = string
  default     = "transit"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.transit_mount))
    error_message = "transit_mount must be a mount path: letters, digits, - _ . and inner slashes."
  }
}

variable "transit_key" {
  description = "Name of the derived transit key (context = fleet slug) that seals provisioning configs (FLEETVAULT_TRANSIT_KEY)."
  type        = string
  default     = "balena-provisioning"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.transit_key))
    error_message = "transit_key must be a key name: letters, digits, - _ ."
  }
}

variable "transit_auto_rotate_period" {
  description = "Rotate the transit key automatically after this many seconds (0 = never, the `fleetvault init` default). Rotation keeps old versions decryptable until min_decryption_version is raised; `fleetvault provision rewrap` moves envelopes forward. Vault refuses periods below 3600."
  type        = number
  default     = 0
  validation {
    condition     = var.transit_auto_rotate_period == 0 || var.transit_auto_rotate_period >= 3600
    error_message = "transit_auto_rotate_period must be 0 (off) or at least 3600 seconds."
  }
}

variable "approle_mount" {
  description = "Path of the AppRole auth method for factory flashers (FLEETVAULT_APPROLE_MOUNT)."
  type        = string
  default     = "approle"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.approle_mount))
    error_message = "approle_mount must be a mount path: letters, digits, - _ . and inner slashes."
  }
}

variable "approle_role" {
  description = "Name of the flasher AppRole role (FLEETVAULT_APPROLE_ROLE)."
  type        = string
  default     = "flasher"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.approle_role))
    error_message = "approle_role must be a role name: letters, digits, - _ ."
  }
}

variable "factory_cidrs" {
  description = "Source ranges the factory flashers connect from. Bound to both the secret_id (login) and the token (every use). Behind a proxy Vault sees the proxy's address unless its listener trusts X-Forwarded-For."
  type        = list(string)
  default     = ["127.0.0.0/8"]
  validation {
    condition     = length(var.factory_cidrs) > 0 && alltrue([for c in var.factory_cidrs : can(cidrhost(c, 0))])
    error_message = "factory_cidrs must be a non-empty list of CIDR blocks such as 203.0.113.0/24."
  }
}

variable "kv_mount" {
  description = "Path of the KV v2 engine holding fleetvault settings, e.g. the balena API key at <kv_mount>/balena (FLEETVAULT_KV_MOUNT)."
  type        = string
  default     = "fleetvault"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.kv_mount))
    error_message = "kv_mount must be a mount path: letters, digits, - _ . and inner slashes."
  }
}

variable "policy_prefix" {
  description = "Policies are named <prefix>-engineer, <prefix>-operator, <prefix>-flasher, <prefix>-auditor and <prefix>-admin (FLEETVAULT_POLICY_PREFIX)."
  type        = string
  default     = "fleetvault"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.policy_prefix))
    error_message = "policy_prefix must be letters, digits, - _ ."
  }
}

variable "policies_dir" {
  description = "Directory holding engineer.hcl, fleet-operator.hcl, flasher.hcl, auditor.hcl and admin.hcl. Null: the policies/ directory next to this module (the same files `fleetvault init` uses)."
  type        = string
  default     = null
}

# --- engineers: userpass ------------------------------------------------------------------------

variable "create_userpass" {
  description = "Mount a userpass auth method for engineers (`fleetvault login --method userpass`). Passwords are never managed here; see engineer_usernames."
  type        = bool
  default     = false
}

variable "userpass_mount" {
  description = "Path of the userpass auth method (`fleetvault login --path`)."
  type        = string
  default     = "userpass"
}

variable "engineer_usernames" {
  description = "Userpass user names that get the engineer policy, through an identity entity + alias each and one internal identity group. Create the users themselves (with their password) out of band, e.g. `bao write auth/userpass/users/alice password=-`, so no password reaches the Terraform state. Apply this before such a user first logs in (otherwise Vault already made an entity for that alias: import it or delete it). Needs create_userpass."
  type        = list(string)
  default     = []
}

# --- engineers: OIDC ----------------------------------------------------------------------------

variable "create_oidc" {
  description = "Mount an OIDC auth method with a role that grants the engineer policy (`fleetvault login --method oidc`). Vault fetches oidc_discovery_url during apply."
  type        = bool
  default     = false
}

variable "oidc_mount" {
  description = "Path of the OIDC auth method (`fleetvault login --path`)."
  type        = string
  default     = "oidc"
}

variable "oidc_role" {
  description = "Name of the OIDC role for engineers; also the mount's default_role."
  type        = string
  default     = "engineer"
}

variable "oidc_discovery_url" {
  description = "Issuer URL of the identity provider (without /.well-known/openid-configuration). Required when create_oidc."
  type        = string
  default     = null
}

variable "oidc_client_id" {
  description = "OAuth client id registered at the identity provider; also the role's bound audience. Required when create_oidc."
  type        = string
  default     = null
}

variable "oidc_client_secret" {
  description = "OAuth client secret. Stored in the Terraform state (the provider's write-only variant needs Terraform/OpenTofu >= 1.11): keep the state encrypted and access-controlled."
  type        = string
  default     = null
  sensitive   = true
}

variable "oidc_user_claim" {
  description = "Claim that names the engineer (the Vault entity alias, and so the certificate key id)."
  type        = string
  default     = "email"
}

variable "oidc_scopes" {
  description = "Scopes Vault asks for besides openid; \"email\" makes the provider include the email claim that oidc_user_claim defaults to."
  type        = list(string)
  default     = ["email"]
}

variable "oidc_bound_claims" {
  description = "Claims an id_token must carry to get the engineer policy, e.g. { groups = \"fleet-engineers\" }. Empty: every account the provider lets sign in to this client."
  type        = map(string)
  default     = {}
}

variable "oidc_allowed_redirect_uris" {
  description = "Callbacks the CLI may use: `fleetvault login --method oidc` listens on 127.0.0.1:8250 by default."
  type        = list(string)
  default     = ["http://127.0.0.1:8250/oidc/callback", "http://localhost:8250/oidc/callback"]
}

variable "engineer_token_ttl" {
  description = "Lifetime in seconds of engineer tokens from userpass/OIDC logins (certificates themselves live 30 minutes)."
  type        = number
  default     = 28800
}

# --- quotas and audit ---------------------------------------------------------------------------

variable "create_decrypt_quota" {
  description = "Create a rate-limit quota on <transit_mount>/decrypt/<transit_key>: a leaked flasher credential cannot drain provisioning configs faster than this."
  type        = bool
  default     = true
}

variable "decrypt_rate_limit" {
  description = "Decrypt requests allowed per interval (all callers together)."
  type        = number
  default     = 20
}

variable "decrypt_rate_limit_interval" {
  description = "Interval of the decrypt quota, in seconds."
  type        = number
  default     = 1
}

variable "decrypt_rate_limit_block_interval" {
  description = "Seconds a client is refused after exceeding the decrypt quota (0 = only until the interval ends)."
  type        = number
  default     = 0
}

variable "create_audit_device" {
  description = "Enable a file audit device through the API. Off by default: OpenBao >= 2.4 refuses API-created audit devices (declare an `audit \"file\"` block in its server config instead), and most Vault deployments already have one."
  type        = bool
  default     = false
}

variable "audit_file_path" {
  description = "Where the file audit device writes (on the Vault server's filesystem). Used when create_audit_device."
  type        = string
  default     = "/var/log/vault/audit.log"
}

variable "audit_device_path" {
  description = "Path (name) of the file audit device. Used when create_audit_device."
  type        = string
  default     = "fleetvault-file"
}

variable "fleet_access" {
  description = "Scoped access grants, the twin of `fleetvault init --fleet-access` and `fleetvault access grant`: each entry names one scope (fleet = balena slug org/fleet, device = balena uuid, or break_glass = true) and the existing Vault identity groups whose members may sign certificates for it; max_ttl in seconds; source_cidrs binds its certificates to source addresses. Creates per scope an SSH role named after the principal, a policy and an internal group <policy_prefix>-access-<principal> with these groups as members."
  type = list(object({
    fleet       = optional(string)
    device      = optional(string)
    break_glass = optional(bool, false)
    groups      = list(string)
    max_ttl     = optional(number, 3600)
    # Bind the scope's certificates to these source CIDRs (source-address; the policy then refuses
    # any client-sent critical option, so it cannot be widened or dropped).
    source_cidrs = optional(list(string), [])
  }))
  default = []
  validation {
    condition     = alltrue([for a in var.fleet_access : (a.fleet != null ? 1 : 0) + (a.device != null ? 1 : 0) + (a.break_glass ? 1 : 0) == 1 && length(a.groups) > 0 && a.max_ttl > 0])
    error_message = "Each fleet_access entry names exactly one of fleet, device or break_glass, at least one group, and a positive max_ttl."
  }
  validation {
    # The principal rules of src/access/principals.ts: balena slugs of a-z 0-9 . _ - and 32/62-hex uuids.
    condition     = alltrue([for a in var.fleet_access : (a.fleet == null || can(regex("^[a-z0-9._-]{1,100}/[a-z0-9._-]{1,100}$", lower(a.fleet)))) && (a.device == null || can(regex("^([0-9a-f]{32}|[0-9a-f]{62})$", lower(a.device))))])
    error_message = "fleet must be a balena slug org/fleet of a-z 0-9 . _ - ; device a balena uuid (32 or 62 hex characters)."
  }
}

variable "name_ssh_issuer" {
  description = "Name the generated SSH CA issuer fleetvault-initial (OpenBao), as `fleetvault init` does, so an unnamed imported issuer is drift. Set false on HashiCorp Vault, which has no SSH issuers."
  type        = bool
  default     = true
}
