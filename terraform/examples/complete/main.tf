# Everything switched on: the fleetvault layout with custom names, factory ranges, userpass and
# OIDC logins for engineers, a decrypt quota and key rotation. Run from this directory:
#
#   export VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=…   # a token that may manage mounts,
#                                                                      # auth methods, policies, quotas
#   tofu init && tofu apply -var oidc_client_secret="$OIDC_SECRET"   # or terraform
#
# Against OpenBao also pass -var vault_version_override=1.15.0 -var skip_child_token=true.

module "fleetvault" {
  source = "../.."

  vault_version_override = var.vault_version_override
  skip_child_token       = var.skip_child_token

  ssh_mount     = "ssh-fleet"
  transit_mount = "transit-fleet"
  approle_mount = "approle-factory"
  kv_mount      = "fleetvault-fleet"
  policy_prefix = "fleet"

  factory_cidrs              = ["203.0.113.0/24", "198.51.100.16/28"]
  transit_auto_rotate_period = 30 * 24 * 3600

  create_userpass    = true
  engineer_usernames = ["alice", "bob"]

  create_oidc        = var.oidc_discovery_url != null
  oidc_discovery_url = var.oidc_discovery_url
  oidc_client_id     = var.oidc_client_id
  oidc_client_secret = var.oidc_client_secret
  oidc_bound_claims  = { groups = "fleet-engineers" }

  create_decrypt_quota = true
  decrypt_rate_limit   = 10

  # Vault only; OpenBao >= 2.4 takes audit devices from its config file.
  create_audit_device = false
}

variable "vault_version_override" {
  description = "\"1.15.0\" for OpenBao; null for HashiCorp Vault."
  type        = string
  default     = null
}

variable "skip_child_token" {
  description = "true for OpenBao."
  type        = bool
  default     = false
}

variable "oidc_discovery_url" {
  description = "Identity provider issuer URL; null leaves OIDC off."
  type        = string
  default     = null
}

variable "oidc_client_id" {
  description = "OAuth client id for Vault at the identity provider."
  type        = string
  default     = null
}

variable "oidc_client_secret" {
  description = "OAuth client secret (ends up in the state: keep it encrypted)."
  type        = string
  default     = null
  sensitive   = true
}

output "ca_public_key" {
  description = "The SSH CA public key devices trust."
  value       = module.fleetvault.ca_public_key
}

output "fleetvault_env" {
  description = "FLEETVAULT_* environment for the CLI."
  value       = module.fleetvault.fleetvault_env
}

output "flasher_role_id" {
  description = "role_id of the flasher AppRole."
  value       = module.fleetvault.flasher_role_id
}
