#!/usr/bin/env bash
# kustomize, built from its Go module (the Go module proxy is reachable; no binary download).
# Needs Go 1.22.7 or newer on PATH (kustomize v5.6.0's go.mod); Debian's golang-go is older.
set -euo pipefail
bin="$HOME/.cache/scorpius/bin"
[ -x "$bin/kustomize" ] && exit 0
if ! command -v go >/dev/null 2>&1; then
  echo "install_kustomize.sh: Go 1.22.7 or newer is required (https://go.dev/doc/install), then run make test again" >&2
  exit 1
fi
mkdir -p "$bin"
# v5.6.0 is the newest release that builds with Go 1.26 (later ones require Go 1.27).
GOBIN="$bin" GOTOOLCHAIN=local GOFLAGS=-mod=mod go install sigs.k8s.io/kustomize/kustomize/v5@v5.6.0
