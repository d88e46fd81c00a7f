#!/usr/bin/env bash
# Builds HashiCorp Vault from the Go module proxy into the git-ignored .tools/vault/bin/vault, for
# the opt-in compatibility tests (OpenBao is the tested default; see docs/compat.md):
#
#   scripts/install-vault.sh                          # or: FLEETVAULT_WITH_VAULT=1 scripts/install-tools.sh
#   npm run build && FLEETVAULT_VAULT_BIN=$PWD/.tools/vault/bin/vault npx vitest run test/integration
#
# Why build from source: this machine (and CI) reach only the package registries, never
# releases.hashicorp.com or GitHub; the Go module proxy does serve Vault's source.
#
# Opt-in, not part of install-tools.sh by default: a cold build compiles ~1,500 packages and takes
# 10-15 minutes on 2 cores, far too slow for every CI run.
#
# Idempotent: a stamp records what was built and verified; when it matches, the script exits at
# once (pure bash, no `go` invocation). Go's module and build caches are left in place on purpose
# (a re-install after a fresh clone is then mostly linking).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${FLEETVAULT_TOOLS_DIR:-$ROOT/.tools}"

# --- Pin -----------------------------------------------------------------------------------------
# Vault 1.14.2: the 1.14 line is the last under MPL-2.0 (1.14.10 is BUSL-1.1; the proxy serves
# 1.14.0-3, .6, .8, .10 and 403s the rest) and is OpenBao's fork point, within the design's
# "Vault >= 1.12" promise. Why .2 and not .8: see SUBMODULES. 1.21.x is served too, but is BUSL.
VAULT_VERSION=1.14.2
VAULT_MODULE=github.com/hashicorp/vault
# Vault's go.mod replaces its own api/ and sdk/ modules with the in-tree directories, but a module
# zip never contains nested modules, so the proxy's copy of vault@v1.14.x has no ./api or ./sdk.
# We fill each replacement directory with the version go.mod itself requires (checked below).
# Traps, found the slow way (the proxy here serves only versions it already holds, so the exact
# sdk commit of a release branch cannot be fetched):
#  - 1.14.3+ use sdk backports (raft fencing, request-role context keys) that no sdk tag carries:
#    they do not compile against any sdk the proxy serves.
#  - 1.14.0/.1 name an sdk pseudo-version from before the branch's own backports: no compile.
#  - 1.14.2 compiles against the tagged sdk v0.9.2, which was cut from main after the branch and
#    adds one developer assertion the 1.14 branch never had: framework.Backend.init panics on
#    a path with a CreateOperation but no ExistenceCheck, and 1.14's sys/managed-keys stubs
#    (enterprise-only) are such paths, so the server panics at start. We disable exactly that
#    assertion (see the patch below) — it only detects coding errors, it changes no behaviour.
# So: 1.14.2 + sdk v0.9.2 minus that assertion. For a dev server in tests that is fine (diffed
# against 1.14.8: the SSH engine and audit devices are identical; transit only adds nonce checks
# for convergent keys; AppRole login errors read "invalid role or secret ID" from 1.14.3 on).
# "module@version:replacement-dir"; parents before the modules nested in them.
SUBMODULES=(
  sdk@v0.9.2:sdk
  api@v1.9.2:api
  api/auth/approle@v0.1.0:api/auth/approle
  api/auth/kubernetes@v0.4.1:api/auth/kubernetes
  api/auth/userpass@v0.1.0:api/auth/userpass
)

DEST="$TOOLS/vault/bin"
BIN="$DEST/vault"
STAMP="$TOOLS/vault/.installed"
WANT="vault=$VAULT_VERSION module=$VAULT_MODULE@v$VAULT_VERSION ${SUBMODULES[*]} patch=sdk-existence-check"

say() { printf 'install-vault: %s\n' "$*" >&2; }

# Fast path: pure bash, so callers can run this unconditionally.
if [[ -x "$BIN" && -f "$STAMP" && "$(<"$STAMP")" == "$WANT" ]]; then
  say "vault $VAULT_VERSION present ($BIN)"
  exit 0
fi

command -v go >/dev/null || { say "ERROR: go not found on PATH (need Go >= 1.20)"; exit 1; }
mkdir -p "$DEST"

# Two runs at once would race on the same outputs (and double a 10-minute build).
exec 9>"$TOOLS/vault/.install.lock"
if command -v flock >/dev/null; then flock 9; fi
# Re-check after waiting for the lock: the other run may just have finished the job.
if [[ -x "$BIN" && -f "$STAMP" && "$(<"$STAMP")" == "$WANT" ]]; then
  say "vault $VAULT_VERSION present ($BIN)"
  exit 0
fi
# From here on the install is "in progress": a failed run must not leave a stamp a later fast
# path would trust.
rm -f "$STAMP"

# Prints the module cache dir of module@version (downloaded from the proxy, checked against
# sum.golang.org). On failure the JSON's "Error" field is the useful part (e.g. the proxy's 403
# for a version it does not serve), so show it rather than just go's exit status.
module_dir() {
  local json dir
  json=$(go mod download -json "$1") ||
    { say "ERROR: go mod download $1 failed:"; printf '%s\n' "$json" >&2; return 1; }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -d "$dir" ]] || { say "ERROR: no module dir for $1"; return 1; }
  printf '%s\n' "$dir"
}

dir=$(module_dir "$VAULT_MODULE@v$VAULT_VERSION")
# The release number lives in version/VERSION from 1.14.3 on, in version_base.go before.
got=$({ tr -d '[:space:]' <"$dir/version/VERSION"; } 2>/dev/null ||
      sed -n 's/^[[:space:]]*Version[[:space:]]*= "\([0-9.]*\)"$/\1/p' "$dir/version/version_base.go")
[[ "$got" == "$VAULT_VERSION" ]] ||
  { say "ERROR: $VAULT_MODULE@v$VAULT_VERSION says version '$got'; fix the pin"; exit 1; }

say "building vault $VAULT_VERSION from $VAULT_MODULE (cold Go cache: ~10 min on 2 cores)"
t0=$SECONDS
work=$(mktemp -d "$TOOLS/vault/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$dir" "$work/src"
chmod -R u+w "$work/src"   # the module cache is read-only
for sub in "${SUBMODULES[@]}"; do
  mod=${sub%%:*} target=${sub#*:}
  # Guard against a pin bump that forgets these: go.mod must require exactly this version.
  grep -Eq "^[[:space:]]*$VAULT_MODULE/${mod%@*} ${mod#*@}( |\$)" "$dir/go.mod" ||
    { say "ERROR: $VAULT_MODULE@v$VAULT_VERSION's go.mod does not require $VAULT_MODULE/$mod; fix SUBMODULES"; exit 1; }
  subdir=$(module_dir "$VAULT_MODULE/$mod")
  mkdir -p "$work/src/$target"
  cp -R "$subdir/." "$work/src/$target/"
  chmod -R u+w "$work/src/$target"
done
# The one source patch (see SUBMODULES): turn off sdk v0.9.2's CreateOperation/ExistenceCheck
# assertion. Checked to match exactly once, so an sdk bump cannot silently patch something else.
fw="$work/src/sdk/framework/backend.go"
[[ $(grep -c '^		if p.ExistenceCheck == nil {$' "$fw") == 1 ]] ||
  { say "ERROR: sdk patch target not found in $fw; review the patch for the new sdk"; exit 1; }
sed -i 's/^		if p.ExistenceCheck == nil {$/		if false \&\& p.ExistenceCheck == nil { \/\/ fleetvault: not in 1.14'"'"'s own sdk/' "$fw"
# Why a build inside a copy and not `go install …@v1.14.8`: Vault's go.mod has replace directives
# (./api, ./sdk), which `go install pkg@version` refuses; inside the module they are fine.
# -mod=readonly keeps Vault's own go.sum authoritative; -buildvcs=false because the copy sits in
# our work tree and must not stamp our git state into the binary. CGO_ENABLED=0 like upstream's
# release builds (static binary, no libc coupling). No `ui` build tag: the web UI needs a
# node/ember build, and the tests only use the API. Vault's main package is the module root.
(cd "$work/src" && CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath \
   -ldflags "-s -w" -o "$BIN.part" .)
mv -f "$BIN.part" "$BIN"   # atomic: a killed build never leaves a half-written binary in place
rm -rf "$work"; trap - EXIT
say "vault built in $((SECONDS - t0))s"

# Verify the binary starts and is what we pinned ("Vault v1.14.2").
ver=$("$BIN" version)
[[ "$ver" == "Vault v$VAULT_VERSION"* ]] || { say "ERROR: unexpected '$BIN version': $ver"; exit 1; }
printf '%s\n' "$WANT" >"$STAMP"
say "done: $ver ($BIN)"
