# fleetvault-engineer: an engineer who logs into devices with `fleetvault ssh`.
# Sign a short-lived user certificate with role "engineer" and nothing else. The role itself
# (allowed_users, max_ttl, allowed_extensions) is what limits what such a certificate can do.
path "ssh-client-signer/sign/engineer" {
  capabilities = ["update"]
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
