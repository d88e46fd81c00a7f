# fleetvault-admin: the platform team. Runs `fleetvault init` (or terraform/), changes roles, mounts
# and their tuning, and creates factory batches (each writes a per-batch policy naming the fleets it
# may decrypt, and a per-batch AppRole role). Whoever may write a policy can grant anything to a
# token it then obtains, so treat this persona like root: short-lived tokens, few people.
# Still out of reach: audit devices, raw storage, other mounts and auth methods, the transit key's
# export, backup or deletion, and tokens with arbitrary policies.

# Mounts of the fleetvault layout (and `ca rotate --strategy mount`'s <ssh-mount>-<date> mounts).
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/ssh-client-signer" {
  capabilities = ["create", "read", "update"]
}
path "sys/mounts/ssh-client-signer/tune" {
  capabilities = ["read", "update"]
}
path "sys/mounts/ssh-client-signer-*" {
  capabilities = ["create", "read", "update"]
}
path "sys/mounts/transit" {
  capabilities = ["create", "read", "update"]
}
path "sys/mounts/transit/tune" {
  capabilities = ["read", "update"]
}
path "sys/mounts/fleetvault" {
  capabilities = ["create", "read", "update"]
}
path "sys/mounts/fleetvault/tune" {
  capabilities = ["read", "update"]
}
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/approle" {
  capabilities = ["create", "read", "update", "sudo"]
}
path "sys/auth/approle/tune" {
  capabilities = ["read", "update", "sudo"]
}

# SSH CA: the CA itself, roles, issuers (rotation included).
path "ssh-client-signer/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "ssh-client-signer-*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# The provisioning key: create and configure, never export, back up or delete.
path "transit/keys/balena-provisioning" {
  capabilities = ["create", "read", "update"]
}
path "transit/keys/balena-provisioning/config" {
  capabilities = ["update"]
  denied_parameters = {
    "deletion_allowed"       = [true, "true"]
    "exportable"             = [true, "true"]
    "allow_plaintext_backup" = [true, "true"]
  }
}
path "transit/keys/balena-provisioning/rotate" {
  capabilities = ["update"]
}
path "transit/encrypt/balena-provisioning" {
  capabilities = ["update"]
}

# AppRole: the flasher role, per-batch roles and their secret_ids.
path "auth/approle/role" {
  capabilities = ["list"]
}
path "auth/approle/role/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# The fleetvault policies, per-batch policies included.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/fleetvault-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The balena API key for out-of-band registration.
path "fleetvault/data/balena" {
  capabilities = ["create", "read", "update"]
}

# Unlock an AppRole role locked by failed logins (on a mount where lockout is on).
path "sys/locked-users" {
  capabilities = ["read"]
}
path "sys/locked-users/+/unlock/+" {
  capabilities = ["update"]
}
