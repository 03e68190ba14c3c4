#!/usr/bin/env bash
# Installs Uniswap's published contract builds from npm into ~/.cache/scorpius/uniswap (idempotent:
# does nothing when the pinned versions are there): V2 core and periphery (build/*.json) and V3
# core and periphery (artifacts/**/*.json). The mempool lab (bench/lab) deploys their bytecode
# as it is on npm, never a hand-written AMM.
set -euo pipefail
prefix="${HOME}/.cache/scorpius/uniswap"
packages=(
  "@uniswap/v2-core@1.0.1"
  "@uniswap/v2-periphery@1.1.0-beta.0"
  "@uniswap/v3-core@1.0.1"
  "@uniswap/v3-periphery@1.4.4"
)
installed=true
for spec in "${packages[@]}"; do
  name="${spec%@*}"
  version="${spec##*@}"
  manifest="${prefix}/node_modules/${name}/package.json"
  if ! { [ -f "$manifest" ] && grep -q "\"version\": \"${version}\"" "$manifest"; }; then
    installed=false
  fi
done
$installed && exit 0
. "$(dirname "$0")/npm.sh"
ensure_npm install_uniswap
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund "${packages[@]}"
