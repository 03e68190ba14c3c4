#!/usr/bin/env bash
# kustomize, built from its Go module (the Go module proxy is reachable; no binary download).
set -euo pipefail
bin="$HOME/.cache/scorpius/bin"
[ -x "$bin/kustomize" ] && exit 0
mkdir -p "$bin"
# v5.6.0 is the newest release that builds with Go 1.26 (later ones require Go 1.27).
GOBIN="$bin" GOTOOLCHAIN=local GOFLAGS=-mod=mod go install sigs.k8s.io/kustomize/kustomize/v5@v5.6.0
