#!/usr/bin/env bash
# Installs CoW Protocol's published contracts (npm `@cowprotocol/contracts`: the mainnet
# deployment records of GPv2Settlement and GPv2AllowListAuthentication with their creation
# bytecode) into ~/.cache/scorpius/cowprotocol, for the CoW settlement classifier's test on Anvil
# (idempotent).
set -euo pipefail
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_cowprotocol "${HOME}/.cache/scorpius/cowprotocol" --ignore-scripts \
  "@cowprotocol/contracts@${SCORPIUS_COWPROTOCOL_VERSION:-1.8.0}"
