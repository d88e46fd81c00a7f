terraform {
  # 1.6: the oldest OpenTofu line, and Terraform releases since late 2023. Nothing here needs
  # write-only attributes or ephemeral resources.
  required_version = ">= 1.6"

  required_providers {
    vault = {
      source = "hashicorp/vault"
      # 4.0 brought vault_quota_rate_limit's current schema and ed25519 SSH CAs through
      # key_type; the tests pin 5.9.0 through their offline mirror.
      version = ">= 4.0"
    }
  }
}
