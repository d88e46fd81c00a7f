# fleetvault-admin: the platform team. Runs `fleetvault init` (or terraform/), changes roles, mounts
# and their tuning, and creates factory batches (each writes a per-batch policy naming the fleets it
# may decrypt, and a per-batch AppRole role). Whoever may write a policy can grant anything to a
# token it then obtains, so treat this persona like root: short-lived tokens, few people.
# Refused to this token directly (not a boundary: it can write itself a policy): audit devices, raw storage, other mounts and auth methods, the transit key's
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
# The transit key: exportable, deletion_allowed and allow_plaintext_backup may only be false. An
# allow-list of exact values: a deny-list of [true, "true"] let "1", "t" and 1 through (Vault parses
# them as true). Every other parameter of these endpoints is refused.
path "transit/keys/balena-provisioning" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "type"                   = ["aes256-gcm96"]
    "derived"                = [true]
    "convergent_encryption"  = [false]
    "exportable"             = [false]
    "allow_plaintext_backup" = [false]
    "auto_rotate_period"     = []
  }
}
path "transit/keys/balena-provisioning/config" {
  capabilities = ["update"]
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
    "auto_rotate_period"     = []
    "deletion_allowed"       = [false]
    "exportable"             = [false]
    "allow_plaintext_backup" = [false]
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

# Scoped access (`fleetvault access grant|revoke|list`): per-scope SSH roles live under the SSH
# mount (above) and per-scope policies under the policy prefix (above). The grant itself is an
# internal identity group <prefix>-access-<principal> holding only such a policy; the groups and
# entities granted become its members. User groups are read (name → id), never written.
# No allowed_parameters on "policies": Vault matches a parameter glob against the whole
# comma-separated string ("fleetvault-access-x,other" passes "fleetvault-access-*") and refuses
# the list form outright, so such a constraint would only look like one. Whoever writes
# fleetvault-* policies is root-like anyway (see the top of this file).
path "identity/group/name/fleetvault-access-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "identity/group/name" {
  capabilities = ["list"]
}
path "identity/group/name/*" {
  capabilities = ["read"]
}
path "identity/group/id/*" {
  capabilities = ["read"]
}
path "identity/entity/name/*" {
  capabilities = ["read"]
}
path "identity/entity/id/*" {
  capabilities = ["read"]
}
