#!/usr/bin/env bash
# Installs 1inch's Limit Order Protocol (npm `@1inch/limit-order-protocol-contract`: the
# LimitOrderProtocol source with its mocks; the package ships no build artifacts, its npm
# dependencies bring @1inch/solidity-utils and @openzeppelin/contracts) and the Solidity compiler
# its pragma pins (npm `solc` 0.8.30, solcjs) into ~/.cache/scorpius/oneinch-lop, for the 1inch
# limit-order fill test on Anvil (idempotent). The test compiles it in the session.
set -euo pipefail
. "$(dirname "$0")/npm.sh"
npm_install_pinned install_oneinch_lop "${HOME}/.cache/scorpius/oneinch-lop" --ignore-scripts \
  "@1inch/limit-order-protocol-contract@${SCORPIUS_ONEINCH_LOP_VERSION:-4.3.3}" "solc@0.8.30"
