# Every output is wrapped in try(): a switched-off resource yields null instead of an error.

output "ca_public_key" {
  description = "The SSH CA public key (OpenSSH format). Devices trust it as `cert-authority,principals=\"root\" <key>`; `fleetvault ca authorized-key` prints that line."
  value       = try(trimspace(vault_ssh_secret_backend_ca.this.public_key), null)
}

output "ssh_mount" {
  description = "Path of the SSH CA mount."
  value       = try(vault_mount.ssh.path, null)
}

output "ssh_role" {
  description = "Name of the engineer signing role."
  value       = try(vault_ssh_secret_backend_role.engineer.name, null)
}

output "transit_mount" {
  description = "Path of the transit mount."
  value       = try(vault_mount.transit.path, null)
}

output "transit_key" {
  description = "Name of the derived provisioning key."
  value       = try(vault_transit_secret_backend_key.provisioning.name, null)
}

output "approle_mount" {
  description = "Path of the flasher AppRole mount."
  value       = try(vault_auth_backend.approle.path, null)
}

output "flasher_role" {
  description = "Name of the flasher AppRole role."
  value       = try(vault_approle_auth_backend_role.flasher.role_name, null)
}

output "flasher_role_id" {
  description = "The flasher role's role_id (not secret on its own; a secret_id from `fleetvault factory batch create` completes it)."
  value       = try(vault_approle_auth_backend_role.flasher.role_id, null)
}

output "kv_mount" {
  description = "Path of the KV v2 mount."
  value       = try(vault_mount.kv.path, null)
}

output "policy_names" {
  description = "Persona → Vault policy name."
  value       = try({ for persona, _ in local.policy_files : persona => vault_policy.this["${var.policy_prefix}-${persona}"].name }, null)
}

output "userpass_mount" {
  description = "Path of the engineers' userpass mount, or null when create_userpass is off."
  value       = try(vault_auth_backend.userpass[0].path, null)
}

output "engineers_group_id" {
  description = "Id of the identity group that grants userpass engineers the engineer policy, or null."
  value       = try(vault_identity_group.engineers[0].id, null)
}

output "oidc_mount" {
  description = "Path of the engineers' OIDC mount, or null when create_oidc is off."
  value       = try(vault_jwt_auth_backend.oidc[0].path, null)
}

output "decrypt_quota" {
  description = "Name of the rate-limit quota on the decrypt path, or null."
  value       = try(vault_quota_rate_limit.decrypt[0].name, null)
}

output "audit_device" {
  description = "Path of the file audit device, or null when create_audit_device is off."
  value       = try(vault_audit.file[0].path, null)
}

output "fleetvault_env" {
  description = "The FLEETVAULT_* environment that points the CLI at this layout (add VAULT_ADDR and a token)."
  value = try({
    FLEETVAULT_SSH_MOUNT     = vault_mount.ssh.path
    FLEETVAULT_SSH_ROLE      = vault_ssh_secret_backend_role.engineer.name
    FLEETVAULT_TRANSIT_MOUNT = vault_mount.transit.path
    FLEETVAULT_TRANSIT_KEY   = vault_transit_secret_backend_key.provisioning.name
    FLEETVAULT_APPROLE_MOUNT = vault_auth_backend.approle.path
    FLEETVAULT_APPROLE_ROLE  = vault_approle_auth_backend_role.flasher.role_name
    FLEETVAULT_KV_MOUNT      = vault_mount.kv.path
    FLEETVAULT_POLICY_PREFIX = var.policy_prefix
  }, null)
}
