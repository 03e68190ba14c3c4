#!/usr/bin/env bash
# Installs Balancer V3's published source (npm `@balancer-labs/v3-vault` 1.0.0: Vault,
# VaultExtension, VaultAdmin, ProtocolFeeController, Router; `v3-pool-weighted`: WeightedPool; with
# `v3-interfaces`, `v3-solidity-utils`, `v3-pool-utils` and OpenZeppelin 5.0.2; none ships build
# artifacts) and the compiler Balancer builds with (npm `solc` 0.8.26) into
# ~/.cache/scorpius/balancer-v3, for the Balancer V3 swap test on Anvil, which compiles them in the
# session. The Router pulls tokens through Permit2: Permit2 and solmate's MockERC20 come from the
# copy npm `@uniswap/v4-periphery` 1.0.3 ships under lib/permit2, compiled with the solc its pragma
# pins (0.8.17, in a prefix of its own). Idempotent.
set -euo pipefail
. "$(dirname "$0")/npm.sh"
prefix="${HOME}/.cache/scorpius/balancer-v3"
mkdir -p "$prefix/permit2"
# v3-vault 1.0.0 names v3-interfaces 0.1.0, which the registry does not have: take the 1.0.0
# published beside it.
[ -f "$prefix/package.json" ] ||
  echo '{"private": true, "overrides": {"@balancer-labs/v3-interfaces": "1.0.0"}}' >"$prefix/package.json"
npm_install_pinned install_balancer_v3 "$prefix" --ignore-scripts \
  "@balancer-labs/v3-vault@1.0.0" "@balancer-labs/v3-interfaces@1.0.0" \
  "@balancer-labs/v3-solidity-utils@1.0.0" "@balancer-labs/v3-pool-weighted@1.0.0" \
  "@balancer-labs/v3-pool-utils@1.0.0" "@openzeppelin/contracts@5.0.2" \
  "@uniswap/v4-periphery@1.0.3" "solc@0.8.26"
npm_install_pinned install_balancer_v3 "$prefix/permit2" --ignore-scripts "solc@0.8.17"
