# The fleetvault layout (DESIGN.md "Default Vault layout"), exactly as `fleetvault init` creates
# it (src/vault/layout.ts + src/vault/bootstrap.ts). test/integration/terraform applies this module
# and `fleetvault init` to the same server and requires both to read back equal: change one, change
# the other.

provider "vault" {
  # Address and token: VAULT_ADDR / VAULT_TOKEN (and VAULT_CACERT, VAULT_NAMESPACE, …).
  skip_child_token       = var.skip_child_token
  vault_version_override = var.vault_version_override
}

locals {
  policy_files = {
    engineer = "engineer.hcl"
    operator = "fleet-operator.hcl"
    flasher  = "flasher.hcl"
    auditor  = "auditor.hcl"
    admin    = "admin.hcl"
  }
  policies_dir = coalesce(var.policies_dir, "${path.module}/../policies")

  # The policy files are written for the default layout; rewrite their path prefixes for custom
  # names in the same order as renderPolicy() in src/vault/layout.ts. Trap: replace() treats a
  # search string that starts AND ends with "/" as a regular expression, so the one such pattern
  # ("/balena-provisioning/") is written as an explicit, escaped regex.
  policies = {
    for persona, file in local.policy_files : "${var.policy_prefix}-${persona}" => replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
      file("${local.policies_dir}/${file}"),
      "\"ssh-client-signer/sign/engineer\"", "\"${var.ssh_mount}/sign/${var.ssh_role}\""),
      "\"ssh-client-signer/roles/engineer\"", "\"${var.ssh_mount}/roles/${var.ssh_role}\""),
      "\"ssh-client-signer/", "\"${var.ssh_mount}/"),
      "/balena-provisioning\"", "/${var.transit_key}\""),
      "/\\/balena-provisioning\\//", "/${var.transit_key}/"),
      "\"transit/", "\"${var.transit_mount}/"),
      "\"auth/approle/role/flasher", "\"auth/${var.approle_mount}/role/${var.approle_role}"),
      "\"fleetvault/data/", "\"${var.kv_mount}/data/"),
      "\"sys/mounts/ssh-client-signer", "\"sys/mounts/${var.ssh_mount}"),
      "\"sys/mounts/transit", "\"sys/mounts/${var.transit_mount}"),
      "\"sys/mounts/fleetvault", "\"sys/mounts/${var.kv_mount}"),
      "\"sys/auth/approle", "\"sys/auth/${var.approle_mount}"),
      "\"ssh-client-signer-", "\"${var.ssh_mount}-"),
      "\"auth/approle/", "\"auth/${var.approle_mount}/"),
      "\"sys/policies/acl/fleetvault-", "\"sys/policies/acl/${var.policy_prefix}-"),
    "\"identity/group/name/fleetvault-access-", "\"identity/group/name/${var.policy_prefix}-access-")
  }

  # Request fields the audit log shows in clear (SSH_AUDIT_NON_HMAC_* etc. in src/vault/layout.ts):
  # principals, ttl, key id, serial, transit context (the fleet), batch metadata. Never public
  # keys, plaintext or ciphertext: those stay HMAC'd.
  ssh_audit_non_hmac_request     = ["valid_principals", "ttl", "key_id", "cert_type", "reason", "extensions"]
  ssh_audit_non_hmac_response    = ["serial_number", "error"]
  transit_audit_non_hmac_request = ["context", "key_version"]
  # Refusals (over-long TTLs, CIDR-refused logins) carry their reason only in response.data.error.
  transit_audit_non_hmac_response = ["error"]
  approle_audit_non_hmac_request  = ["role_name", "metadata", "cidr_list", "num_uses", "role_id"]
  approle_audit_non_hmac_response = ["error"]
  engineer_policy                 = "${var.policy_prefix}-engineer"
  flasher_policy                  = "${var.policy_prefix}-flasher"
  engineer_usernames              = var.create_userpass ? toset(var.engineer_usernames) : toset([])
}

# --- secrets engines ---------------------------------------------------------------------------

resource "vault_mount" "ssh" {
  path                         = var.ssh_mount
  type                         = "ssh"
  description                  = "fleetvault SSH user CA for balenaOS devices"
  audit_non_hmac_request_keys  = local.ssh_audit_non_hmac_request
  audit_non_hmac_response_keys = local.ssh_audit_non_hmac_response
}

resource "vault_mount" "transit" {
  path                         = var.transit_mount
  type                         = "transit"
  description                  = "fleetvault provisioning envelopes"
  audit_non_hmac_request_keys  = local.transit_audit_non_hmac_request
  audit_non_hmac_response_keys = local.transit_audit_non_hmac_response
}

resource "vault_mount" "kv" {
  path        = var.kv_mount
  type        = "kv"
  description = "fleetvault settings (balena API key)"
  options     = { version = "2" }
}

# --- SSH CA and the engineer role ----------------------------------------------------------------

resource "vault_ssh_secret_backend_ca" "this" {
  backend = vault_mount.ssh.path
  # Generated inside Vault: the private key never leaves it and never enters the state.
  generate_signing_key = true
  key_type             = var.ssh_ca_key_type
}

# OpenBao: config/ca makes an unnamed issuer, which is also what an import without a name makes.
# `fleetvault init` names the CA it generates fleetvault-initial so drift checks can tell them
# apart (src/vault/issuer-drift.ts); this does the same, once, at creation: after a rotation the
# default issuer is another one, which must not be renamed.
resource "vault_generic_endpoint" "ssh_initial_issuer" {
  count                = var.name_ssh_issuer ? 1 : 0
  depends_on           = [vault_ssh_secret_backend_ca.this]
  path                 = "${vault_mount.ssh.path}/issuer/default"
  ignore_absent_fields = true
  disable_delete       = true
  data_json            = jsonencode({ issuer_name = "fleetvault-initial" })
  lifecycle {
    ignore_changes = [data_json]
  }
}

resource "vault_ssh_secret_backend_role" "engineer" {
  backend                 = vault_mount.ssh.path
  name                    = var.ssh_role
  key_type                = "ca"
  algorithm_signer        = "default"
  allow_user_certificates = true
  allow_host_certificates = false
  allowed_users           = "root"
  default_user            = "root"
  ttl                     = "1800"
  max_ttl                 = "3600"
  allowed_extensions      = "permit-pty"
  # Nothing by default: Vault applies default_extensions whenever a request names none, so a
  # non-empty default would put permit-pty on every certificate.
  default_extensions = {}
  # Empty would mean ANY critical option: only source-address (`--from CIDR`), which only narrows.
  allowed_critical_options = "source-address"
  # OpenSSH < 10.3 treats a certificate with no principals as valid for any cert-authority line
  # without principals=: such a certificate must never be issued.
  allow_empty_principals = false
  # sshd logs the key id on login, so it must name the Vault identity, not whatever the caller says.
  allow_user_key_ids = false
  key_id_format      = "fleetvault-{{token_display_name}}-{{public_key_hash}}"

  depends_on = [vault_ssh_secret_backend_ca.this]
}

# --- transit key ---------------------------------------------------------------------------------

resource "vault_transit_secret_backend_key" "provisioning" {
  backend = vault_mount.transit.path
  name    = var.transit_key
  type    = "aes256-gcm96"
  # Derived: the context is the fleet slug, so an envelope decrypts only for the fleet it names.
  derived                = true
  exportable             = false
  deletion_allowed       = false
  allow_plaintext_backup = false
  auto_rotate_period     = var.transit_auto_rotate_period
}

# --- AppRole for factory flashers ----------------------------------------------------------------

resource "vault_auth_backend" "approle" {
  type        = "approle"
  path        = var.approle_mount
  description = "fleetvault factory flashers"
}

# Not the resource's own `tune` block: that writes every tune field, and an unset list comes back
# from Vault as [""] (passthrough_request_headers, allowed_response_headers, …), which differs from
# what `fleetvault init` leaves. Only the one field we mean to set is written here.
resource "vault_generic_endpoint" "approle_tune" {
  path                 = "sys/auth/${vault_auth_backend.approle.path}/tune"
  ignore_absent_fields = true
  disable_delete       = true
  data_json = jsonencode({
    audit_non_hmac_request_keys  = local.approle_audit_non_hmac_request
    audit_non_hmac_response_keys = local.approle_audit_non_hmac_response
    # User lockout off (APPROLE_USER_LOCKOUT in src/vault/layout.ts): it is keyed on the role_id,
    # which is on every factory USB stick, so five bad logins from anywhere would lock every batch
    # out for 15 minutes. The secret_id is long, random, use-counted and CIDR-bound.
    user_lockout_config = { lockout_disable = true }
  })
}

resource "vault_approle_auth_backend_role" "flasher" {
  backend                 = vault_auth_backend.approle.path
  role_name               = var.approle_role
  token_policies          = [vault_policy.this[local.flasher_policy].name]
  token_no_default_policy = true
  bind_secret_id          = true
  # secret_id_bound_cidrs only gates the login; token_bound_cidrs also gates every use of the token.
  secret_id_bound_cidrs = var.factory_cidrs
  token_bound_cidrs     = var.factory_cidrs
  # One login = one decrypt: a batch of N secret_id uses allows exactly N decrypts.
  token_num_uses = 1
  token_ttl      = 300
  token_max_ttl  = 600
  token_type     = "service"
}

# --- policies (policies/*.hcl, the same files `fleetvault init` writes) ---------------------------

resource "vault_policy" "this" {
  for_each = local.policies
  name     = each.key
  policy   = each.value
}

# --- engineers: userpass (+ identity group) ------------------------------------------------------

resource "vault_auth_backend" "userpass" {
  count       = var.create_userpass ? 1 : 0
  type        = "userpass"
  path        = var.userpass_mount
  description = "fleetvault engineers"
}

resource "vault_identity_entity" "engineer" {
  for_each = local.engineer_usernames
  name     = "${var.policy_prefix}-${each.key}"
  metadata = { fleetvault = "engineer" }
}

resource "vault_identity_entity_alias" "engineer" {
  for_each       = local.engineer_usernames
  name           = each.key
  mount_accessor = vault_auth_backend.userpass[0].accessor
  canonical_id   = vault_identity_entity.engineer[each.key].id
}

resource "vault_identity_group" "engineers" {
  count             = var.create_userpass && length(var.engineer_usernames) > 0 ? 1 : 0
  name              = "${var.policy_prefix}-engineers"
  type              = "internal"
  policies          = [vault_policy.this[local.engineer_policy].name]
  member_entity_ids = [for e in vault_identity_entity.engineer : e.id]
}

# --- engineers: OIDC -----------------------------------------------------------------------------

resource "vault_jwt_auth_backend" "oidc" {
  count              = var.create_oidc ? 1 : 0
  type               = "oidc"
  path               = var.oidc_mount
  description        = "fleetvault engineers (OIDC)"
  oidc_discovery_url = var.oidc_discovery_url
  oidc_client_id     = var.oidc_client_id
  oidc_client_secret = var.oidc_client_secret
  default_role       = var.oidc_role

  lifecycle {
    precondition {
      condition     = var.oidc_discovery_url != null && var.oidc_client_id != null && var.oidc_client_secret != null
      error_message = "create_oidc needs oidc_discovery_url, oidc_client_id and oidc_client_secret."
    }
  }
}

resource "vault_jwt_auth_backend_role" "engineer" {
  count                 = var.create_oidc ? 1 : 0
  backend               = vault_jwt_auth_backend.oidc[0].path
  role_name             = var.oidc_role
  role_type             = "oidc"
  user_claim            = var.oidc_user_claim
  bound_audiences       = [var.oidc_client_id]
  bound_claims          = length(var.oidc_bound_claims) > 0 ? var.oidc_bound_claims : null
  allowed_redirect_uris = var.oidc_allowed_redirect_uris
  oidc_scopes           = var.oidc_scopes
  token_policies        = [vault_policy.this[local.engineer_policy].name]
  token_ttl             = var.engineer_token_ttl
  token_max_ttl         = var.engineer_token_ttl
}

# --- quota and audit -----------------------------------------------------------------------------

resource "vault_quota_rate_limit" "decrypt" {
  count          = var.create_decrypt_quota ? 1 : 0
  name           = "${var.policy_prefix}-transit-decrypt"
  path           = "${vault_mount.transit.path}/decrypt/${vault_transit_secret_backend_key.provisioning.name}"
  rate           = var.decrypt_rate_limit
  interval       = var.decrypt_rate_limit_interval
  block_interval = var.decrypt_rate_limit_block_interval
}

# OpenBao >= 2.4 answers "audit devices cannot be enabled through the API" here: declare the
# device in the server config file instead and leave create_audit_device off.
resource "vault_audit" "file" {
  count       = var.create_audit_device ? 1 : 0
  type        = "file"
  path        = var.audit_device_path
  description = "fleetvault audit log"
  options = {
    file_path = var.audit_file_path
    mode      = "0600"
  }
}

# --- scoped access (fleet_access; src/access/: the same roles, policies and groups) ------------

locals {
  # Principal per scope, as src/access/principals.ts: fleet slugs lower-cased and encoded
  # `_` → `_5f`, `.` → `_2e`, then `/` → `.` (in this order, so no escape is escaped again).
  fleet_access = {
    for a in var.fleet_access : (
      a.break_glass ? "break-glass" : a.device != null ? "device-${lower(a.device)}" :
      "fleet-${replace(replace(replace(lower(a.fleet), "_", "_5f"), ".", "_2e"), "/\\//", ".")}"
    ) => a
  }
  access_groups = toset(flatten([for a in var.fleet_access : a.groups]))
}

data "vault_identity_group" "access" {
  for_each   = local.access_groups
  group_name = each.key
}

resource "vault_ssh_secret_backend_role" "access" {
  for_each                 = local.fleet_access
  backend                  = vault_mount.ssh.path
  name                     = each.key
  key_type                 = "ca"
  algorithm_signer         = "default"
  allow_user_certificates  = true
  allow_host_certificates  = false
  allowed_users            = each.key
  default_user             = each.key
  ttl                      = tostring(min(1800, each.value.max_ttl))
  max_ttl                  = tostring(each.value.max_ttl)
  allowed_extensions       = "permit-pty"
  default_extensions       = {}
  allowed_critical_options = "source-address"
  default_critical_options = length(each.value.source_cidrs) > 0 ? { "source-address" = join(",", each.value.source_cidrs) } : {}
  allow_empty_principals   = false
  allow_user_key_ids       = false
  key_id_format            = "fleetvault-{{token_display_name}}-{{public_key_hash}}"

  depends_on = [vault_ssh_secret_backend_ca.this]
}

# Same text as accessPolicyText() in src/access/vault-objects.ts: change both.
resource "vault_policy" "access" {
  for_each = local.fleet_access
  name     = "${var.policy_prefix}-access-${each.key}"
  policy   = <<-EOT
    # ${var.policy_prefix}-access-${each.key}: fleetvault scoped access. Sign certificates for
    # principal ${each.key} (role ${each.key}) and nothing else.
    path "${var.ssh_mount}/sign/${each.key}" {
      capabilities = ["update"]
      required_parameters = ${each.key == "break-glass" ? "[\"valid_principals\", \"reason\"]" : "[\"valid_principals\"]"}
      denied_parameters = {
        "valid_principals" = [""]${each.key == "break-glass" ? "\n    \"reason\"           = [\"\"]" : ""}${length(each.value.source_cidrs) > 0 ? "\n    \"critical_options\" = []" : ""}
      }
    }
    path "${var.ssh_mount}/roles/${each.key}" {
      capabilities = ["read"]
    }
    path "${var.ssh_mount}/public_key" {
      capabilities = ["read"]
    }
    path "${var.ssh_mount}/config/ca" {
      capabilities = ["read"]
    }
  EOT
}

resource "vault_identity_group" "access" {
  for_each         = local.fleet_access
  name             = "${var.policy_prefix}-access-${each.key}"
  type             = "internal"
  policies         = [vault_policy.access[each.key].name]
  member_group_ids = [for g in each.value.groups : data.vault_identity_group.access[g].group_id]
  metadata         = { "fleetvault-principal" = each.key }
}
