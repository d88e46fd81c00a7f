# fleetvault-operator: rolls the CA out to the fleet, rotates it, seals provisioning configs and
# runs factory batches. Cannot decrypt provisioning blobs (that is the flasher's only right) and
# cannot read the CA private key (Vault never exposes it).

# SSH CA: manage roles, read the CA, sign (rollout verification logs in with a fresh certificate).
path "ssh-client-signer/roles/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "ssh-client-signer/roles" {
  capabilities = ["list"]
}
path "ssh-client-signer/sign/*" {
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
# CA rotation on OpenBao (issuers); generating a new issuer never reveals a private key.
path "ssh-client-signer/issuers" {
  capabilities = ["list"]
}
path "ssh-client-signer/issuers/*" {
  capabilities = ["create", "update"]
}
path "ssh-client-signer/issuer/*" {
  capabilities = ["read", "update", "delete"]
}
path "ssh-client-signer/config/issuers" {
  capabilities = ["read", "update"]
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
}

# Factory batches: mint, inspect and destroy flasher secret_ids; read the role id they pair with.
path "auth/approle/role/flasher/role-id" {
  capabilities = ["read"]
}
path "auth/approle/role/flasher/secret-id" {
  capabilities = ["update", "list"]
}
path "auth/approle/role/flasher/secret-id-accessor/lookup" {
  capabilities = ["update"]
}
path "auth/approle/role/flasher/secret-id-accessor/destroy" {
  capabilities = ["update"]
}
path "auth/approle/role/flasher" {
  capabilities = ["read"]
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
