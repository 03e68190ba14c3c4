#!/usr/bin/env bash
# Installs Uniswap's published contract builds from npm into ~/.cache/scorpius/uniswap (idempotent:
# does nothing when the pinned versions are there): V2 core and periphery (build/*.json) and V3
# core and periphery (artifacts/**/*.json). The mempool lab (bench/lab) deploys their bytecode
# as it is on npm, never a hand-written AMM.
set -euo pipefail
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_uniswap "${HOME}/.cache/scorpius/uniswap" \
  "@uniswap/v2-core@1.0.1" \
  "@uniswap/v2-periphery@1.1.0-beta.0" \
  "@uniswap/v3-core@1.0.1" \
  "@uniswap/v3-periphery@1.4.4"
