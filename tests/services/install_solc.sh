#!/usr/bin/env bash
# Installs the Solidity compiler from npm `solc` (solcjs: the compiler built to JavaScript/wasm,
# no native binary) into ~/.cache/scorpius/node (idempotent: does nothing when the pinned
# version is already there). tests/services/solc.py compiles the end-to-end test's contracts
# with it through node, in the test session.
set -euo pipefail
version="${SCORPIUS_SOLC_VERSION:-0.8.28}"
prefix="${HOME}/.cache/scorpius/node"
package="${prefix}/node_modules/solc/package.json"
if [ -f "$package" ] && grep -q "\"version\": \"${version}\"" "$package"; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_solc
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund "solc@${version}"
node -e "console.log('solc', require('${prefix}/node_modules/solc').version())"
