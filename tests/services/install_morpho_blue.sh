#!/usr/bin/env bash
# Installs Morpho Blue's published source (npm `@morpho-org/morpho-blue`: Morpho.sol and its
# mocks ERC20Mock, OracleMock, IrmMock; the package ships no build artifacts) and the Solidity
# compiler its pragma pins (npm `solc` 0.8.19, solcjs) into ~/.cache/scorpius/morpho-blue, for the
# Morpho Blue liquidation test on Anvil (idempotent). The test compiles it in the session.
set -euo pipefail
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_morpho_blue "${HOME}/.cache/scorpius/morpho-blue" --ignore-scripts \
  "@morpho-org/morpho-blue@${SCORPIUS_MORPHO_BLUE_VERSION:-1.0.0}" "solc@0.8.19"
