#!/usr/bin/env bash
# Installs Uniswap V4's published build artifacts (npm `@uniswap/v4-core`: PoolManager, its
# PoolSwapTest / PoolModifyLiquidityTest routers and MockERC20, under out/) into
# ~/.cache/scorpius/uniswap-v4, for the V4 classifier's test on Anvil (idempotent).
set -euo pipefail
version="${SCORPIUS_UNISWAP_V4_VERSION:-1.0.2}"
prefix="${HOME}/.cache/scorpius/uniswap-v4"
marker="${prefix}/node_modules/@uniswap/v4-core/package.json"
if [ -f "$marker" ] && grep -q "\"version\": \"${version}\"" "$marker"; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_uniswap_v4
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts "@uniswap/v4-core@${version}"
