# fleetvault-operator: rolls the CA out to the fleet, rotates it, seals provisioning configs,
# watches and revokes factory batches. Cannot decrypt provisioning blobs (that is a batch's only
# right), cannot read the CA private key (Vault never exposes it), and changes no role, mount,
# policy or Vault setting: those belong to fleetvault-admin (policies/admin.hcl).

# SSH CA: read the roles (a TTL above max_ttl is refused before asking), read the CA, sign (rollout
# and rotation verification log in with a fresh certificate). No role writes: a role with
# allowed_users="*", a long max_ttl or forwarding extensions would be a master key to the fleet.
path "ssh-client-signer/roles/*" {
  capabilities = ["read"]
}
path "ssh-client-signer/roles" {
  capabilities = ["list"]
}
# Sign with the engineer role only: scoped roles (device-*, fleet-*, break-glass) are reached
# through `fleetvault access grant` like anyone else's, or the operator would bypass every grant
# and break-glass's reason.
path "ssh-client-signer/sign/engineer" {
  capabilities = ["update"]
  # Defence in depth: HashiCorp Vault 1.14 signs a certificate with NO principals when a client
  # calling the API directly sends an empty valid_principals — on OpenSSH < 10.3 such a certificate
  # matches any cert-authority line without principals=. fleetvault never sends one; this refuses
  # everyone else's too.
  required_parameters = ["valid_principals"]
  denied_parameters = {
    "valid_principals" = [""]
  }
}
path "ssh-client-signer/public_key" {
  capabilities = ["read"]
}
path "ssh-client-signer/config/ca" {
  capabilities = ["read"]
}

# CA rotation on OpenBao (issuers), exactly the calls `fleetvault ca rotate` makes (src/ca/rotate*.ts).
# Whoever may import an issuer with a private_key owns the fleet: an operator may only have a new
# issuer GENERATED inside Vault, under rotate's own name (fleetvault-<yyyymmdd>-<hhmmss>), not as
# the default (switching is its own, verified step). private_key/public_key are refused outright.
path "ssh-client-signer/issuers" {
  capabilities = ["list"]
}
path "ssh-client-signer/issuers/import/fleetvault-*" {
  capabilities = ["update"]
  allowed_parameters = {
    "generate_signing_key" = [true]
    "key_type"             = ["ed25519"]
    "set_default"          = [false]
  }
  denied_parameters = {
    "private_key" = []
    "public_key"  = []
  }
}
# Read an issuer (resume a prepare). No rename, no delete: a policy cannot tell the default
# (signing) issuer from an old one, and deleting the signing issuer stops every certificate.
# `ca rotate --delete-old-issuer` and `ca rotate abort` print the admin's `bao delete` on a 403.
path "ssh-client-signer/issuer/*" {
  capabilities = ["read"]
}
# Switch (and switch back after a failed verification): the default issuer and nothing else. Every
# issuer an operator can pick was generated inside Vault; `fleetvault init` and `ca status` report a
# default issuer fleetvault did not make.
path "ssh-client-signer/config/issuers" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "default" = []
  }
}

# Transit: seal (encrypt) and rewrap provisioning configs; rotate and retire key versions.
path "transit/encrypt/balena-provisioning" {
  capabilities = ["update"]
}
path "transit/rewrap/balena-provisioning" {
  capabilities = ["update"]
}
path "transit/keys/balena-provisioning" {
  capabilities = ["read"]
}
path "transit/keys/balena-provisioning/rotate" {
  capabilities = ["update"]
}
path "transit/keys/balena-provisioning/config" {
  capabilities = ["update"]
  # Retire old key versions; never deletion_allowed, exportable or allow_plaintext_backup.
  allowed_parameters = {
    "min_decryption_version" = []
    "min_encryption_version" = []
  }
}

# Factory batches: see them, reconcile them, revoke them. Creating one writes a per-batch policy
# (the fleets it may decrypt) and AppRole role, which is fleetvault-admin's. No secret_id minting:
# an operator could otherwise mint an unlimited, never-expiring one (num_uses=0, ttl=0).
path "auth/approle/role" {
  capabilities = ["list"]
}
path "auth/approle/role/+" {
  capabilities = ["read"]
}
path "auth/approle/role/+/role-id" {
  capabilities = ["read"]
}
path "auth/approle/role/+/secret-id" {
  capabilities = ["list"]
}
path "auth/approle/role/+/secret-id-accessor/lookup" {
  capabilities = ["update"]
}
path "auth/approle/role/+/secret-id-accessor/destroy" {
  capabilities = ["update"]
}
# Revoke the outstanding tokens of a revoked batch.
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# Out-of-band registration reads the balena API key kept in KV v2; never written from argv.
path "fleetvault/data/balena" {
  capabilities = ["read"]
}

# Reports: resolve HMAC'd audit fields.
path "sys/audit-hash/*" {
  capabilities = ["update"]
}
