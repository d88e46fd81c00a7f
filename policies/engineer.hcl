# fleetvault-engineer: an engineer who logs into devices with `fleetvault ssh`.
# Sign a short-lived user certificate with role "engineer" and nothing else. The role itself
# (allowed_users, max_ttl, allowed_extensions) is what limits what such a certificate can do.
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

# Read the role so the client can refuse a TTL above max_ttl before asking (never silently capped).
path "ssh-client-signer/roles/engineer" {
  capabilities = ["read"]
}

# The CA public key (also readable unauthenticated) and, on OpenBao, the issuers that publish it.
path "ssh-client-signer/public_key" {
  capabilities = ["read"]
}
path "ssh-client-signer/config/ca" {
  capabilities = ["read"]
}
