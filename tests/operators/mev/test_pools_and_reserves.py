"""User pool factories, and reserves cached per pool and block for the sandwichable check."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from operators.mev.mempool import SandwichableVictimDetector
from operators.mev.mempool.reserves import ReservesAtHead, ReservesUnavailable
from operators.mev.pools import BUNDLED, AmmFactories, v2_pair
from operators.records import Swap
from tests.operators.mev.pending import enriched, pending
from tests.operators.mev.traces import calldata

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DEV_FACTORY = "0x" + "fa" * 20
DEV_ROUTER = "0x" + "ab" * 20
INIT_HASH = "0x" + "11" * 32


def _swap(router: str, path: tuple[str, ...]) -> Swap:
    return Swap("uniswap_v2", router, path, True, 10**18, None, 1, None, None, None)


def _user_file(tmp_path: Path) -> Path:
    path = tmp_path / "factories.json"
    path.write_text(
        json.dumps(
            {
                "31337": {
                    "v2": {"devswap": {"factory": DEV_FACTORY, "init_code_hash": INIT_HASH}},
                    "routers": {DEV_ROUTER.upper().replace("0X", "0x"): "devswap"},
                },
                "1": {"v2": {"devswap": {"factory": DEV_FACTORY, "init_code_hash": INIT_HASH}}},
            }
        )
    )
    return path


def test_a_users_factory_file_adds_chains_and_exchanges_to_the_bundled_ones(
    tmp_path: Path,
) -> None:
    factories = AmmFactories.load(_user_file(tmp_path))
    [hop] = factories.hops(31337, _swap(DEV_ROUTER, (WETH, USDC)))
    assert hop.pool == factories.v2_pair(31337, "devswap", USDC, WETH)
    assert BUNDLED.hops(31337, _swap(DEV_ROUTER, (WETH, USDC))) == []
    # Mainnet keeps its bundled exchanges next to the added one.
    real = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert real is not None
    assert factories.v2_pair(1, "uniswap_v2", WETH, USDC) == real
    assert factories.exchange_of(1, "uniswap_v2", real, WETH, USDC) == "uniswap_v2"
    dev = factories.v2_pair(1, "devswap", WETH, USDC)
    assert dev is not None and dev != real
    assert factories.exchange_of(1, "uniswap_v2", dev, WETH, USDC) == "devswap"
    # Window snapshots pickle detectors holding the registry: the data survives, not the memo.
    restored = pickle.loads(pickle.dumps(factories))
    assert restored.v2_pair(31337, "devswap", WETH, USDC) == hop.pool


def test_reserves_are_fetched_once_per_pool_and_block() -> None:
    calls: list[tuple[int, str, int | None]] = []

    def fetch(chain_id: int, pool: str, block: int | None) -> tuple[int, int] | None:
        calls.append((chain_id, pool, block))
        return (10**12, 10**21)

    state = ReservesAtHead()
    lookup = state.lookup(fetch)
    assert lookup(1, "0xpool") == lookup(1, "0xpool") == (10**12, 10**21)
    state.on_block(100)
    lookup(1, "0xpool")
    lookup(1, "0xpool")
    state.on_block(99)  # an older block (another URL behind) changes nothing
    lookup(1, "0xpool")
    state.on_block(101)
    lookup(1, "0xpool")
    assert calls == [(1, "0xpool", None), (1, "0xpool", 100), (1, "0xpool", 101)]


def test_a_node_that_cannot_answer_is_asked_again_for_the_next_swap() -> None:
    answers: list[tuple[int, int] | Exception | None] = [ReservesUnavailable("down"), None]

    def fetch(chain_id: int, pool: str, block: int | None) -> tuple[int, int] | None:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    state = ReservesAtHead()
    detector = SandwichableVictimDetector(state.lookup(fetch))
    data = calldata(
        "swapExactTokensForTokens(uint256 amountIn,uint256 amountOutMin,address[] path,"
        "address to,uint256 deadline)",
        10**18,
        1,
        [WETH, USDC],
        "0x" + "a1" * 20,
        2**40,
    )
    etx = enriched(
        pending("0xv", "0x" + "a1" * 20, "0x7a250d5630b4cf539739df2c5dacb4c659f2488d", data)
    )
    assert etx.swaps
    with pytest.raises(ReservesUnavailable):
        detector.on_tx(etx)
    assert detector.on_tx(etx) == []  # asked again: no pair there (None), so no quote
    assert answers == []
