# fleetvault-auditor: security review. Read-only: list the audit devices and hash known values
# (a certificate serial, a ciphertext) to find them in the HMAC'd audit log. Nothing else.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit-hash/*" {
  capabilities = ["update"]
}
