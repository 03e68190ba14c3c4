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
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # apt may be busy with another installer: wait for its lock rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq nodejs npm
  else
    echo "install_anvil: npm is required (apt-get install nodejs npm)" >&2
    exit 1
  fi
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund "@foundry-rs/anvil@${version}"
"$binary" --version | head -1
