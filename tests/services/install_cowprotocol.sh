#!/usr/bin/env bash
# Installs CoW Protocol's published contracts (npm `@cowprotocol/contracts`: the mainnet
# deployment records of GPv2Settlement and GPv2AllowListAuthentication with their creation
# bytecode) into ~/.cache/scorpius/cowprotocol, for the CoW settlement classifier's test on Anvil
# (idempotent).
set -euo pipefail
version="${SCORPIUS_COWPROTOCOL_VERSION:-1.8.0}"
prefix="${HOME}/.cache/scorpius/cowprotocol"
marker="${prefix}/node_modules/@cowprotocol/contracts/package.json"
if [ -f "$marker" ] && grep -q "\"version\": \"${version}\"" "$marker"; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_cowprotocol
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts "@cowprotocol/contracts@${version}"
