#!/usr/bin/env bash
# Installs FerretDB v1 (SQLite backend), the embedded database KIS falls back to when no MongoDB
# server can be had. Needs Go and its module proxy. Idempotent: does nothing when the right version
# is already in ~/go/bin.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the proxy refuses the
# module's version list (needed for the deprecation check), and the published module lacks
# build/version/version.txt, so the binary would panic at start. We build from the module's source
# with that file written instead.
set -euo pipefail
version=v1.24.2
gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
target="$gobin/ferretdb"

# The version is read whole before it is searched: `grep -q` or `head` stop reading early, and under
# pipefail the SIGPIPE that ferretdb then gets fails the pipe (exit 141 on a fresh machine).
installed() { [ -x "$target" ] && "$target" --version 2>/dev/null | sed -n 's/^version: //p' | grep -qx "$version"; }
if installed; then
  echo "FerretDB $version already installed at $target"
  exit 0
fi
command -v go >/dev/null || { echo "Go is needed to install FerretDB (apt-get install golang, or see https://go.dev/dl)" >&2; exit 1; }

echo "Installing FerretDB $version into $target (one-time, about a minute)..."
export GOFLAGS=-mod=mod
dir=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "go mod download did not report a source directory" >&2; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
echo "$version" > "$work/build/version/version.txt"
mkdir -p "$gobin"
(cd "$work" && go build -trimpath -o "$target.tmp" ./cmd/ferretdb)
mv "$target.tmp" "$target"
"$target" --version | sed -n 1p
