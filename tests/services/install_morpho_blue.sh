#!/usr/bin/env bash
# Installs Morpho Blue's published source (npm `@morpho-org/morpho-blue`: Morpho.sol and its
# mocks ERC20Mock, OracleMock, IrmMock; the package ships no build artifacts) and the Solidity
# compiler its pragma pins (npm `solc` 0.8.19, solcjs) into ~/.cache/scorpius/morpho-blue, for the
# Morpho Blue liquidation test on Anvil (idempotent). The test compiles it in the session.
set -euo pipefail
version="${SCORPIUS_MORPHO_BLUE_VERSION:-1.0.0}"
solc_version="0.8.19"
prefix="${HOME}/.cache/scorpius/morpho-blue"
marker="${prefix}/node_modules/@morpho-org/morpho-blue/package.json"
solc_marker="${prefix}/node_modules/solc/package.json"
if [ -f "$marker" ] && grep -q "\"version\": \"${version}\"" "$marker" \
  && [ -f "$solc_marker" ] && grep -q "\"version\": \"${solc_version}\"" "$solc_marker"; then
  exit 0
fi
. "$(dirname "$0")/npm.sh"
ensure_npm install_morpho_blue
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts \
  "@morpho-org/morpho-blue@${version}" "solc@${solc_version}"
