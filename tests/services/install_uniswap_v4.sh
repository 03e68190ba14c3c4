#!/usr/bin/env bash
# Installs Uniswap V4's published build artifacts (npm `@uniswap/v4-core`: PoolManager, its
# PoolSwapTest / PoolModifyLiquidityTest routers and MockERC20, under out/) into
# ~/.cache/scorpius/uniswap-v4, for the V4 classifier's test on Anvil (idempotent).
set -euo pipefail
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_uniswap_v4 "${HOME}/.cache/scorpius/uniswap-v4" --ignore-scripts \
  "@uniswap/v4-core@${SCORPIUS_UNISWAP_V4_VERSION:-1.0.2}"
