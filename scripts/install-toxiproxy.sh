#!/usr/bin/env bash
# Builds Shopify's Toxiproxy (server and CLI) from the Go module proxy into the git-ignored
# .tools/bin, for the fleet lab (test/support/fleet-lab.ts, bench/fleet-lab.js): every lab device
# sits behind a Toxiproxy link with latency and connection resets, because this kernel has no netem.
#
#   scripts/install-toxiproxy.sh      (install-tools.sh runs it; FLEETVAULT_SKIP_TOXIPROXY=1 skips)
#
# Idempotent: a stamp names the version built; when it matches, nothing runs (no `go` invocation).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="${FLEETVAULT_TOOLS_DIR:-$ROOT/.tools}"
# v2.5.0 is the newest version the module proxy serves for the /v2 module path.
TOXIPROXY_VERSION="${FLEETVAULT_TOXIPROXY_VERSION:-2.5.0}"
BIN="$TOOLS/bin"
STAMP="$BIN/.toxiproxy-$TOXIPROXY_VERSION"

say() { printf 'install-toxiproxy: %s\n' "$*" >&2; }

if [[ -x "$BIN/toxiproxy-server" && -x "$BIN/toxiproxy-cli" && -e "$STAMP" ]]; then
  say "toxiproxy $TOXIPROXY_VERSION present"
  exit 0
fi
command -v go >/dev/null || { say "ERROR: go not found on PATH"; exit 1; }
mkdir -p "$BIN"

# `go install` names binaries after their package directory (cmd/server -> "server", cmd/cli ->
# "cli"), so build into a private GOBIN and give them Toxiproxy's release names when moving them.
work=$(mktemp -d "$TOOLS/.toxiproxy.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building toxiproxy v$TOXIPROXY_VERSION (server + cli) with go install"
t0=$SECONDS
GOBIN="$work" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" \
  "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" \
  "github.com/Shopify/toxiproxy/v2/cmd/cli@v$TOXIPROXY_VERSION"
"$work/server" --version >/dev/null 2>&1 || "$work/server" -help >/dev/null 2>&1 ||
  { say "ERROR: the built toxiproxy server does not run"; exit 1; }
# Atomic per binary: a killed install never leaves a half-written one in place.
mv -f "$work/server" "$BIN/toxiproxy-server"
mv -f "$work/cli" "$BIN/toxiproxy-cli"
rm -f "$BIN"/.toxiproxy-*; touch "$STAMP"
say "toxiproxy $TOXIPROXY_VERSION built in $((SECONDS - t0))s"
