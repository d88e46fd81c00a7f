#!/usr/bin/env bash
# README command 1: the embedded default, end to end, on a fresh clone.
#  1. installs OpenBao + sshd (not the slow OpenTofu build) and builds fleetvault;
#  2. starts a local OpenBao bootstrapped like `fleetvault init`/terraform, plus a simulated
#     balenaOS device that trusts the CA through its config.json os.sshKeys, with what balenaOS
#     has around it: balena-supervisor writing its copy of config.json back, systemctl, fatrw,
#     os-sshkeys (`dev` itself checks that a login works before it reports success);
#  3. logs into the device with `fleetvault ssh` (fresh key, 30-minute certificate);
#  4. shows the audit log entry of that certificate.
# Everything keeps running afterwards; `node dist/cli.js dev stop` stops it. On any failure the
# script stops what it started itself.
# As root the device logs in any login name as root, as on balenaOS. As another user the device's
# sshd runs as that user and can only log that user in: the certificate's principal is still root.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEETVAULT_SKIP_TOFU=1 bash scripts/install-tools.sh
npm run --silent build
fv() { node dist/cli.js "$@"; }
fv dev stop >/dev/null 2>&1 || true
started=
on_exit() {
  local rc=$?
  if ((rc != 0)) && [[ -n $started ]]; then
    echo "demo failed (exit $rc); stopping the dev server and device it started" >&2
    fv dev stop >&2 || true
  fi
}
trap on_exit EXIT
state=$(fv dev --detach --with-device --json)
started=1
addr=$(jq -r .address <<<"$state"); token=$(jq -r .env.VAULT_TOKEN <<<"$state")
host=$(jq -r .device.host <<<"$state"); port=$(jq -r .device.port <<<"$state"); kh=$(jq -r .device.knownHostsFile <<<"$state")
user=$(jq -r .device.user <<<"$state")
as_user=(); [[ $user != root ]] && as_user=(-o "User=$user")
export VAULT_ADDR=$addr VAULT_TOKEN=$token
echo
echo "== OpenBao $(jq -r .version <<<"$state") at $addr, bootstrapped; the device trusts:"
echo "   $(jq -r .caLine <<<"$state")"
echo
echo "== fleetvault ssh dev-device --host $host --port $port ${as_user[*]} -- …"
fv ssh dev-device --host "$host" --port "$port" --user-known-hosts-file "$kh" "${as_user[@]}" --reason "demo" -- \
  'echo "   logged in to $(hostname) as $(id -un) with a Vault-signed certificate"; echo "   balena-supervisor on the device: $(systemctl is-active balena-supervisor)"'
echo
echo "== fleetvault audit --kind ssh (who got which certificate)"
fv audit --kind ssh --log "$(jq -r .auditLog <<<"$state")" 2>/dev/null | tail -n 3
echo
echo "Still running (OpenBao and the device). In your shell:"
echo "  export VAULT_ADDR=$addr VAULT_TOKEN=$token"
echo "  node dist/cli.js ssh dev-device --host $host --port $port --user-known-hosts-file $kh ${as_user[*]}"
echo "Stop both with:"
echo "  node dist/cli.js dev stop"
