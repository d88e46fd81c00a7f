# fleetvault-flasher: the factory flasher, logged in through AppRole from a factory address.
# Exactly one right: decrypt sealed provisioning configs with the provisioning key. The AppRole
# role adds token_num_uses = 1 and CIDR bindings on both the secret_id and the token.
path "transit/decrypt/balena-provisioning" {
  capabilities = ["update"]
}
