"""jit_liquidity on real mainnet blocks 13601096 (USDC/WETH), 14621812 (WETH/CRV), 14643923
(APE/WETH) and 14685550 (WETH/ENS; the last two mint a single token), with the
values flashbots/mev-inspect-py's JIT tests expect (its PR branch, tests/test_jit_liquidity.py;
blocks from the same repository's history, MIT, see tests/data/mev/README.md).

The reference's ``burn_token*_amount`` is what the burn tx took out in total (``collect``);
here that is ``collected*``, and ``burn.amount*`` is the principal the burn returned, so
``fee* = collected* - burn.amount*``."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from operators.mev import detect_block
from operators.mev.fixtures import load_block
from operators.records import Block, Detection
from tests.operators.mev.conftest import DATA, block

BOT = "0xa57bd00134b2850b2a1c55860c9e9ea100fdd6cf"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"

CASES: dict[int, dict[str, Any]] = {
    13601096: {
        "pool": "0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8",
        "mint": ("0x80e4abcb0b701e9d2c0d0fd216ef22eca5fc13904e8c7b3967bcad997480d638", [0, 9, 1]),
        "burn": ("0x12b3d1f0e29d9093d8f3c7cce2da95edbef01aaab3794237f263da85c37c7d27", [0, 1, 0]),
        "victim": (
            "0x943131400defa5db902b1df4ab5108b58527e525da3d507bd6e6465d88fa079c",
            [7, 0, 12, 1, 0],
        ),
        "tokens": ("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", WETH),
        "mint_amounts": (10864608891029, 8281712219747858010668),
        "burn_amounts": (12634177387879, 7900319851971188832064),
        "volumes": (1896817745609, 0),
    },
    14621812: {
        "pool": "0x4c83a7f819a5c37d64b4c5a2f8238ea082fa1f4e",
        "mint": ("0xdcb5eac97a6bcade485ee3dc8be0f7d8722e6ebacb3910fb31dea30ff40e694e", [0, 9, 1]),
        "burn": ("0x499021c4f87facfffc08d143539019d8638c924a4786de15be99567ab6026b98", [0, 1, 0]),
        "victim": ("0x37e84f64698fe1a4852370b4d043491d5f96078d7c69e52f973932bc15ce8617", [0, 1]),
        "tokens": (WETH, "0xd533a949740bb3306d119cc777fa900ba034cd52"),
        "mint_amounts": (324305525132652136497, 182991368595201974557004),
        "burn_amounts": (330104892856183548121, 175411922548908668697796),
        "volumes": (6206673612383009024, 0),
    },
    14643923: {
        "pool": "0xac4b3dacb91461209ae9d41ec517c2b9cb1b7daf",
        "mint": ("0x003e36cb5d78924c5beaeef15db00cad94009856fe483a031d52ae975557ef53", [0, 7, 1]),
        "burn": ("0xec9b2988f6c88968250c3904f6d2d6573f7284cb422b8022a14b7f0dac546348", [0, 1, 0]),
        "victim": (
            "0x43f9656e051a8e3b37f66668851922c6e8e4749d5a7aad605f21119cde541e49",
            [1, 0, 1, 0, 1, 0, 0],
        ),
        "tokens": ("0x4d224452801aced8b2f0aebe155379bb5d594381", WETH),
        "mint_amounts": (0, 9073930631365320229693),
        "burn_amounts": (2424427669988518000798, 9060377725722224517671),
        "volumes": (6522531010660457256888, 0),
    },
    14685550: {
        "pool": "0x92560c178ce069cc014138ed3c2f5221ba71f58a",
        "mint": ("0x1af86b40349a9fdaab5b1290d8fba532c2eefdd13d0ed22e825a45e437a000a4", [0, 7, 1]),
        "burn": ("0x3265ce7a2d2c6ca796a87c4904f67324715a9381d6d2200690bfa30c55f238fb", [0, 1, 0]),
        "victim": ("0xeb9dad13e389ee87d656e9d2ca127061a430b9ccb2dd903a840737c979459aa3", [17]),
        "tokens": (WETH, "0xc18360217d8f7ab5e7c516566761ea12ce7f9d72"),
        "mint_amounts": (0, 2928204597556117752715),
        "burn_amounts": (17321179792304275130, 496888833716052284320),
        "volumes": (25467887766287027275, 0),
    },
}


@cache
def _block(number: int) -> Block:
    return load_block(str(DATA / "history" / f"{number}.json.gz"))


def _jit(number: int) -> list[Detection]:
    return [d for d in detect_block(_block(number)) if d.kind == "jit_liquidity"]


@pytest.mark.parametrize("number", sorted(CASES))
def test_jit_liquidity_agrees_with_the_reference(number: int) -> None:
    want = CASES[number]
    [found] = _jit(number)
    data = found.data
    assert (data["lp"], data["pool"]) == (BOT, want["pool"])
    assert (data["mint"]["tx_hash"], data["mint"]["trace_address"]) == want["mint"]
    assert (data["burn"]["tx_hash"], data["burn"]["trace_address"]) == want["burn"]
    assert [(v["tx_hash"], v["trace_address"]) for v in data["victims"]] == [want["victim"]]
    assert (data["token0"], data["token1"]) == want["tokens"]
    assert (data["mint"]["amount0"], data["mint"]["amount1"]) == want["mint_amounts"]
    assert (data["collected0"], data["collected1"]) == want["burn_amounts"]
    assert (data["volume0"], data["volume1"]) == want["volumes"]
    mint_hash, mint_path = want["mint"]
    assert found.key == f"1:jit_liquidity:{number}:{mint_hash}:{'.'.join(map(str, mint_path))}"


@pytest.mark.parametrize("number", sorted(CASES))
def test_fees_earned_and_share_of_the_range(number: int) -> None:
    [found] = _jit(number)
    data = found.data
    assert data["fee0"] == data["collected0"] - data["burn"]["amount0"]
    assert data["fee1"] == data["collected1"] - data["burn"]["amount1"]
    # The swaps paid token0 in: the fee is earned in token0 only, a share of volume * fee tier.
    assert data["fee0"] > 0 and data["fee1"] == 0
    assert data["fee_tier"] in (3000, 10000)
    assert data["share"] == data["fee0"] / (data["volume0"] * data["fee_tier"] / 1_000_000)
    assert 0.0 < data["share"] <= 1.0


def test_no_jit_in_the_reference_blocks_that_only_rebalance_in_one_tx() -> None:
    # 12914944 mints and burns on V3 pools within single txs: no victim between, no JIT.
    assert [d for d in detect_block(block(12914944)) if d.kind == "jit_liquidity"] == []
