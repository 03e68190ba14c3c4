"""Each example rule in rules/examples matches a real mainnet tx and not its near miss."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from flows.config import EXAMPLE_RULES
from operators.records import EnrichedTx
from operators.rules import RuleEngine
from tests.operators.rules_txs import by_hash, sample_enriched

TXS = sample_enriched()

# rule id, a real tx it must match, a real tx just outside it (why, in the comment)
CASES = [
    # 620.5 ETH | 199.8 ETH, below the 500 ETH threshold
    (
        "large-native-transfer",
        "0xc48e047f03aeded321c3f0c9d5591e5d1edf6b72971a1e04e4fc9294445aee5d",
        "0x658217c4268c03ce6449faf4b00105bc7493df5823ae1bf45942e2e01cdd70a0",
    ),
    # unlimited approval to an unknown spender | unlimited approval to Uniswap V2 Router02
    (
        "unlimited-approval-unknown-spender",
        "0x4cb854dfd2672f91b889588f80305ca80f2cddcbb37d1b19d63f6778e470b5df",
        "0xec5a5af3350eafb0a6d2393849daedf1c4e7ec469368eb711411e7415dce6104",
    ),
    # a zero-amount transfer | an ordinary token transfer
    (
        "zero-value-token-transfer",
        "0x29ef2e9c9caf6c82b3b3a64c2c95bab07542b6dec0ed95480b3e5f345a709c9c",
        "0xdf9e5e3b41cb2ae0622e64fd96d10f11324017b8c027a623ccb103a752351d06",
    ),
    # swapExactETHForTokens with amountOutMin 0 | the same call with a real minimum
    (
        "swap-high-slippage",
        "0x90c93f15f470569d0339a28a6d0d0af7eeaeb6b40e6e53eb56016158119906dc",
        "0x9acf2041a593e70ea72e424688e5f30a196e686b2c77c07a2e8dde045dbd4ab8",
    ),
    # a deployment at nonce 0 | a deployment at nonce 33
    (
        "contract-from-fresh-account",
        "0x4cee9e6951de7d0ba58a3f943564a38ea3d5842f1f4be6316c7dd5ae574f8084",
        "0xdc477f979e53c946ef84a4e49fe1a176655d9c6167b3bdf1866967f6b3fa1450",
    ),
    # a Seaport 1.1 call | a Seaport 1.5 call
    (
        "watchlist-interaction",
        "0x1edeea819b8310cdeb41d76004aaf13955083f131854fdcfdeaca4525cfd4972",
        "0xd7e72a37c6f709a4f26e22d721b42ff0f1065ecd9edc60468868a7c74f521154",
    ),
    # setApprovalForAll(unknown operator, true) | setApprovalForAll(OpenSea conduit, true)
    (
        "nft-approval-for-all-unknown-operator",
        "0x94f8af72f89f2645bfa226cd63ae115ba9219ccb567cec1fc58647ef9330ba9d",
        "0xd801d27211b0dfcfdff7e370069268e6fb3ef08ea25148c1065718482c4eab32",
    ),
]


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine.from_dir(EXAMPLE_RULES)


def test_every_example_rule_is_covered(engine: RuleEngine) -> None:
    loaded = {rule.id for module in engine.modules.values() for rule in module.rules}
    assert loaded == {case[0] for case in CASES}
    assert len(loaded) >= 5


@pytest.mark.parametrize(("rule_id", "hit", "miss"), CASES, ids=[c[0] for c in CASES])
def test_example_matches_a_real_tx_and_not_its_near_miss(
    engine: RuleEngine, rule_id: str, hit: str, miss: str
) -> None:
    batch = [by_hash(TXS, miss), by_hash(TXS, hit)]
    matches, errs = engine.evaluate(batch)
    assert errs == []
    assert [m.tx_hash for m in matches if m.rule_id == rule_id] == [hit]
    match = next(m for m in matches if m.rule_id == rule_id)
    assert match.key == f"{rule_id}:1:{hit}"
    assert match.first_seen_ms == by_hash(TXS, hit).tx.first_seen_ms
    assert "{" not in match.message


def test_slippage_from_a_quote(engine: RuleEngine) -> None:
    """With a quote, slippage is 1 - min out / quote: 6% matches, 4% does not."""
    near = by_hash(TXS, "0x9acf2041a593e70ea72e424688e5f30a196e686b2c77c07a2e8dde045dbd4ab8")
    swap = near.swaps[0]
    min_out = swap.amount_out_min
    assert min_out

    def quoted(slippage: float) -> EnrichedTx:
        quote = int(min_out / (1 - slippage))
        tx = replace(near.tx, hash=f"0x{int(slippage * 100):064x}")
        return replace(near, tx=tx, swaps=(replace(swap, quote=quote),))

    matches, _ = engine.evaluate([quoted(0.06), quoted(0.04)])
    assert [m.tx_hash for m in matches if m.rule_id == "swap-high-slippage"] == [f"0x{6:064x}"]


def test_whole_sample_runs_without_faults(engine: RuleEngine) -> None:
    matches, errs = engine.evaluate(TXS)
    assert errs == []
    assert {m.rule_id for m in matches} == {case[0] for case in CASES}
