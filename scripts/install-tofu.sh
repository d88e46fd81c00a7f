#!/usr/bin/env bash
# Builds OpenTofu and the hashicorp/vault provider from the Go module proxy into the git-ignored
# .tools/ and writes a CLI config that makes `tofu init` work fully offline:
#
#   scripts/install-tofu.sh
#   export TF_CLI_CONFIG_FILE="$PWD/.tools/tofurc"   # then: tofu init / plan / apply
#
# Why build from source: this machine (and CI) reach only the package registries, never GitHub,
# releases.hashicorp.com or the provider registries, so the usual `tofu init` download path and
# prebuilt release zips are out. The Go module proxy does serve both projects' source.
#
# Idempotent: a stamp records what was built and verified; when it matches, the script exits at
# once (a few milliseconds, no `go` invocation). The first build takes a few minutes; Go's module
# and build caches (default ~/go/pkg/mod and ~/.cache/go-build) are left where they are on purpose,
# because they outlive a fresh work tree, so a re-install after a new clone is mostly linking.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${FLEETVAULT_TOOLS_DIR:-$ROOT/.tools}"

# --- Pins -------------------------------------------------------------------------------------
# OpenTofu 1.12.x: the newest line the proxy serves, supported upstream until 2027, and (unlike
# 1.6.x) it understands what provider 5.x advertises: ephemeral resources and write-only
# attributes. Its go.mod has a `replace` for hcl, so `go install pkg@version` refuses it; we
# build inside a copy of the module instead (see build_module).
TOFU_VERSION=1.12.6
# terraform-provider-vault 5.9.0. The module's path has no /v5 suffix, so Go cannot name its
# v2+ tags at all (v5.9.0 is an "invalid version" to the proxy); the only way to fetch modern
# source is a v1.x pseudo-version of a commit. This one is the 5.9.0 release commit (its
# version/VERSION file says 5.9.0, and that is what we register it as in the mirror). It is the
# only post-2019 revision the proxy here serves; v1.9.0 (2019) lacks vault_version_override,
# quotas and ed25519 SSH CA keys.
PROVIDER_VERSION=5.9.0
PROVIDER_MODULE=github.com/hashicorp/terraform-provider-vault
PROVIDER_MODULE_VERSION=v1.9.1-0.20260422134934-5e9fcd457a99
TOFU_MODULE=github.com/opentofu/opentofu

BIN="$TOOLS/bin"
MIRROR="$TOOLS/tf-mirror"
TOFURC="$TOOLS/tofurc"
STAMP="$TOOLS/.tofu-installed"
# Includes the tools path because tofurc holds an absolute mirror path: moving
# FLEETVAULT_TOOLS_DIR must rewrite it.
WANT="tofu=$TOFU_VERSION vault=$PROVIDER_VERSION@$PROVIDER_MODULE_VERSION mirror=$MIRROR"

say() { printf 'install-tofu: %s\n' "$*" >&2; }

# Fast path: pure bash, no forks of go/tofu, so callers can run this unconditionally.
if [[ -x "$BIN/tofu" && -f "$TOFURC" && -d "$MIRROR/registry.opentofu.org/hashicorp/vault/$PROVIDER_VERSION" &&
      -f "$STAMP" && "$(<"$STAMP")" == "$WANT" ]]; then
  say "tofu $TOFU_VERSION + hashicorp/vault $PROVIDER_VERSION present ($TOFURC)"
  exit 0
fi

command -v go >/dev/null || { say "ERROR: go not found on PATH (need Go >= 1.26.6)"; exit 1; }
mkdir -p "$BIN" "$MIRROR"

# Two runs at once (install-tools.sh and a test runner, say) would race on the same outputs.
exec 9>"$TOOLS/.install-tofu.lock"
if command -v flock >/dev/null; then flock 9; fi
# From here on the install is "in progress": a failed or interrupted run must not leave a stamp
# that a later fast path would trust.
rm -f "$STAMP"

GOOS=$(go env GOOS); GOARCH=$(go env GOARCH)
PLATFORM="${GOOS}_${GOARCH}"

# Downloads module@version from the proxy (checked against sum.golang.org) and builds `pkg`
# from a writable copy. Why not `go install`: it rejects modules whose go.mod has replace
# directives (opentofu) or whose path lacks the major-version suffix (the provider), while a
# build *inside* the module treats it as the main module, where both are fine. -mod=readonly
# keeps the module's own go.sum authoritative (no silent dependency upgrades); -buildvcs=false
# because the copy sits inside this repo's work tree and must not pick up our git state.
build_module() { # module version pkg out expected-version/VERSION [extra ldflags]
  local module=$1 version=$2 pkg=$3 out=$4 expect=$5 ldflags="-s -w ${6:-}"
  local json dir
  # On failure the JSON's "Error" field is the useful part (e.g. the proxy no longer serving
  # that version), so show it rather than just go's exit status.
  json=$(go mod download -json "$module@$version") ||
    { say "ERROR: go mod download $module@$version failed:"; printf '%s\n' "$json" >&2; return 1; }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -d "$dir" ]] || { say "ERROR: no module dir for $module@$version"; return 1; }
  # Both projects keep their release number in version/VERSION. Checking it guards against a
  # bump of one pin without the other (the provider's pseudo-version says nothing of 5.x).
  local got; got=$(tr -d '[:space:]' <"$dir/version/VERSION" 2>/dev/null || true)
  [[ "$got" == "$expect" ]] ||
    { say "ERROR: $module@$version is version '$got', expected '$expect'; fix the pins"; return 1; }
  local work; work=$(mktemp -d "$TOOLS/.build.XXXXXX")
  # shellcheck disable=SC2064  # expand $work now: the trap outlives this function's locals
  trap "rm -rf '$work'" EXIT
  cp -R "$dir" "$work/src"
  chmod -R u+w "$work/src"   # the module cache is read-only; go build may write in the tree
  (cd "$work/src" && go build -mod=readonly -buildvcs=false -trimpath -ldflags "$ldflags" \
     -o "$out.part" "$pkg")
  mv -f "$out.part" "$out"   # atomic: a killed build never leaves a half-written binary in place
  rm -rf "$work"; trap - EXIT
}

# --- 1. tofu -----------------------------------------------------------------------------------
if [[ -x "$BIN/tofu" && -e "$BIN/.tofu-$TOFU_VERSION" ]]; then
  say "tofu $TOFU_VERSION already built"
else
  say "building tofu $TOFU_VERSION from $TOFU_MODULE (cold Go cache: ~3-5 min)"
  t0=$SECONDS
  # version.dev=no: without it the binary calls itself "1.12.6-dev", which is what release
  # builds avoid and which confuses required_version checks and bug reports.
  build_module "$TOFU_MODULE" "v$TOFU_VERSION" ./cmd/tofu "$BIN/tofu" "$TOFU_VERSION" \
    "-X $TOFU_MODULE/version.dev=no"
  rm -f "$BIN"/.tofu-*; touch "$BIN/.tofu-$TOFU_VERSION"
  say "tofu built in $((SECONDS - t0))s"
fi

# --- 2. provider into a filesystem mirror ------------------------------------------------------
# Unpacked mirror layout: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION.
# Both hostnames: tofu resolves a bare `source = "hashicorp/vault"` to registry.opentofu.org,
# while configs/lock files written for Terraform say registry.terraform.io. tofu ignores a
# symlinked hostname directory (it only follows a symlink at the mirror root), so each host
# gets a real directory tree and the binary is hard-linked (copied if that fails).
PROVIDER_FILE="terraform-provider-vault_v$PROVIDER_VERSION"
PRIMARY="$MIRROR/registry.terraform.io/hashicorp/vault/$PROVIDER_VERSION/$PLATFORM"
PSTAMP="$MIRROR/.vault-$PROVIDER_VERSION-$PROVIDER_MODULE_VERSION"
if [[ -x "$PRIMARY/$PROVIDER_FILE" && -e "$PSTAMP" ]]; then
  say "hashicorp/vault $PROVIDER_VERSION already built"
else
  say "building hashicorp/vault $PROVIDER_VERSION ($PROVIDER_MODULE@$PROVIDER_MODULE_VERSION; cold Go cache: ~2 min)"
  t0=$SECONDS
  # A stale version left in the mirror would make `tofu init` without an exact pin pick it.
  rm -rf "$MIRROR"/registry.*/hashicorp/vault "$MIRROR"/.vault-*
  mkdir -p "$PRIMARY"
  build_module "$PROVIDER_MODULE" "$PROVIDER_MODULE_VERSION" . "$PRIMARY/$PROVIDER_FILE" \
    "$PROVIDER_VERSION"
  touch "$PSTAMP"
  say "hashicorp/vault built in $((SECONDS - t0))s"
fi
for host in registry.opentofu.org; do
  d="$MIRROR/$host/hashicorp/vault/$PROVIDER_VERSION/$PLATFORM"
  mkdir -p "$d"
  ln -f "$PRIMARY/$PROVIDER_FILE" "$d/$PROVIDER_FILE" 2>/dev/null ||
    cp -f "$PRIMARY/$PROVIDER_FILE" "$d/$PROVIDER_FILE"
done

# --- 3. CLI config -------------------------------------------------------------------------------
# An explicit provider_installation with only a filesystem_mirror (no `direct` block) means tofu
# never tries the network for providers: anything not in the mirror fails at once and clearly,
# instead of hanging on a registry this machine cannot reach.
say "writing $TOFURC"
cat >"$TOFURC.part" <<EOF
# Generated by scripts/install-tofu.sh; use with TF_CLI_CONFIG_FILE=$TOFURC
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["*/*/*"]
  }
}
EOF
mv -f "$TOFURC.part" "$TOFURC"

# --- 4. verify -----------------------------------------------------------------------------------
# Offline init proves the mirror/config wiring; validate proves the provider binary starts and
# its schema has what fleetvault relies on (validate checks configs without contacting Vault).
say "verifying: tofu init + validate offline"
vdir=$(mktemp -d)
trap 'rm -rf "$vdir"' EXIT
cat >"$vdir/main.tf" <<EOF
terraform {
  required_providers {
    vault = { source = "hashicorp/vault", version = "= $PROVIDER_VERSION" }
  }
}
provider "vault" {
  address                = "http://127.0.0.1:1"
  token                  = "x"
  skip_child_token       = true
  skip_tls_verify        = true
  vault_version_override = "1.15.0"
}
resource "vault_ssh_secret_backend_ca" "ca" {
  backend              = "ssh"
  generate_signing_key = true
  key_type             = "ed25519"
}
resource "vault_quota_rate_limit" "q" {
  name = "q"
  rate = 10
}
resource "vault_approle_auth_backend_role" "r" {
  role_name             = "r"
  secret_id_bound_cidrs = ["127.0.0.1/32"]
  token_bound_cidrs     = ["127.0.0.1/32"]
}
resource "vault_transit_secret_backend_key" "k" {
  backend = "transit"
  name    = "k"
  derived = true
}
EOF
(
  cd "$vdir"
  export TF_CLI_CONFIG_FILE="$TOFURC" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
  unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
  "$BIN/tofu" init -input=false -no-color >init.log 2>&1 || { cat init.log >&2; exit 1; }
  "$BIN/tofu" validate -no-color >validate.log 2>&1 || { cat validate.log >&2; exit 1; }
)
say "$(TF_CLI_CONFIG_FILE="$TOFURC" "$BIN/tofu" version | head -n1); provider hashicorp/vault $PROVIDER_VERSION OK"
rm -rf "$vdir"; trap - EXIT

printf '%s\n' "$WANT" >"$STAMP"
say "done: export TF_CLI_CONFIG_FILE=$TOFURC  (tofu at $BIN/tofu)"
