#!/usr/bin/env bash
# Installs the Solidity compiler from npm `solc` (solcjs: the compiler built to JavaScript/wasm,
# no native binary) into ~/.cache/scorpius/node (idempotent: does nothing when the pinned
# version is already there). tests/services/solc.py compiles the end-to-end test's contracts
# with it through node, in the test session.
set -euo pipefail
prefix="${HOME}/.cache/scorpius/node"
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_solc "$prefix" "solc@${SCORPIUS_SOLC_VERSION:-0.8.28}"
if $npm_installed; then
  node -e "console.log('solc', require('${prefix}/node_modules/solc').version())"
fi
