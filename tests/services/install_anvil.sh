#!/usr/bin/env bash
# Installs Anvil (Foundry's local Ethereum node) from npm `@foundry-rs/anvil` into
# ~/.cache/scorpius/node (idempotent: does nothing when the pinned version is already there).
# The npm package is a launcher; the native binary ships in the per-platform optional dependency
# @foundry-rs/anvil-<os>-<arch>/bin/anvil, which tests/services/anvil.py runs directly.
set -euo pipefail
version="${SCORPIUS_ANVIL_VERSION:-1.7.1}"
prefix="${HOME}/.cache/scorpius/node"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-amd64 ;;
  *) echo "install_anvil: no @foundry-rs/anvil build for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
binary="${prefix}/node_modules/@foundry-rs/anvil-${platform}/bin/anvil"
if [ -x "$binary" ] && "$binary" --version 2>/dev/null | grep -q "Version: ${version}"; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_anvil
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund "@foundry-rs/anvil@${version}"
"$binary" --version | head -1
