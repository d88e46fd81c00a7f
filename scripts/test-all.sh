#!/usr/bin/env bash
# Every test on every Node major package.json's engines claims: what CI runs (.ci/run) and the
# README's second command. Node 20 (the node on PATH, engines' minimum) runs everything vitest
# includes; 22 and 24 (official binaries that scripts/install-tools.sh unpacks into .tools/node-<major>)
# run the unit suite and the integration suite minus the fleet-scale and fault-injection files.
#
# Budget: CI has 45 minutes on a 2-core machine, installs included. The excluded files drive many
# real sshd devices, OpenBao restarts, raft failover, OpenTofu and npm installs: they exercise the
# devices and servers, not the Node runtime, and take most of a full pass. Everything else
# (every command, the Vault client, ssh, tunnel, contexts, access, audit, provisioning) runs on all three.
#
#   FLEETVAULT_CI_NODES="22 24"                  which extra majors to run (empty: only Node 20)
#   FLEETVAULT_CI_MATRIX_SUITES="test/unit …"    what they run
set -euo pipefail
cd "$(dirname "$0")/.."

NODES="${FLEETVAULT_CI_NODES-22 24}"
HEAVY=(
  'test/integration/faults/**' test/integration/ca/rollout-faults.test.ts test/integration/ca/rollout.test.ts test/integration/ca/rollout-lab.test.ts
  'test/integration/ca/rotate*.test.ts' 'test/integration/device/balenaos-*.test.ts'
  test/integration/device/first-contact.test.ts test/integration/device/device-edges.test.ts
  test/integration/device/tunnel-fleet.test.ts test/integration/terraform/apply.test.ts
  test/integration/packaging/npm-global-install.test.ts test/integration/first-contact/first-contact.test.ts
)
default_matrix="test/unit test/integration"
for h in "${HEAVY[@]}"; do default_matrix+=" --exclude $h"; done
MATRIX_SUITES="${FLEETVAULT_CI_MATRIX_SUITES:-$default_matrix}"
summary=()

leg() { # leg <name> <node binary> <vitest args…>
  local name=$1 node=$2; shift 2
  local start=$SECONDS
  echo "::: $name: $("$node" --version) vitest run $*" >&2
  "$node" node_modules/vitest/vitest.mjs run "$@"
  summary+=("$name ($("$node" --version)): $((SECONDS - start))s")
}

npm run lint
npm run build

leg node20 "$(command -v node)"

for major in $NODES; do
  bin=".tools/node-$major/bin/node"
  [[ -x "$bin" ]] || { echo "::: node $major missing at $bin (scripts/install-tools.sh installs it)" >&2; exit 1; }
  # shellcheck disable=SC2086 # the suites are a word list on purpose; no globbing of the excludes
  set -f; leg "node$major" "$bin" $MATRIX_SUITES; set +f
done

printf '::: %s\n' "${summary[@]}" "total: ${SECONDS}s" >&2
