"""Enrich on calldata crafted to break decoders: after every selector of the bundled ABI table,
arbitrary bytes or ABI words chosen to mislead (huge offsets and lengths, dirty address words),
sent to the routers whose decoders follow nested calls."""

from __future__ import annotations

import pytest
from eth_abi import encode
from hypothesis import assume, given
from hypothesis import strategies as st

from operators.abi_decoding import load_methods
from operators.enrich import ABI_DIR, enrich
from operators.records import KINDS, Tx
from tests.fuzz.support import fuzz_settings

pytestmark = pytest.mark.fuzz

SELECTORS = sorted(load_methods([ABI_DIR]))
TARGETS = [
    "0x7a250d5630b4cf539739df2c5dacb4c659f2488d",  # Uniswap V2 Router02
    "0xe592427a0aece92de3edee1f18e0157c05861564",  # Uniswap V3 SwapRouter
    "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45",  # SwapRouter02
    "0x66a9893cc07d91d95644aedd05d03f95e1dba8af",  # Universal Router V2
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",  # USDC
    "0x" + "42" * 20,  # unlabelled
]
UINT256_MAX = (1 << 256) - 1

# One 32-byte ABI word of a kind that misleads a decoder.
WORDS = st.one_of(
    st.integers(min_value=0, max_value=UINT256_MAX).map(lambda n: n.to_bytes(32, "big")),
    st.sampled_from([0, 0x20, 0x40, 0x60, 0xFFFFFFFF, 1 << 64, UINT256_MAX]).map(
        lambda n: n.to_bytes(32, "big")
    ),
    st.binary(min_size=20, max_size=20).map(lambda a: b"\xff" * 12 + a),  # dirty address
    st.binary(min_size=32, max_size=32),
)


def tx_with(to: str, calldata: str, value: int = 0) -> Tx:
    return Tx(
        chain_id=1,
        hash="0x" + "ab" * 32,
        sender="0x" + "cd" * 20,
        to=to,
        nonce=1,
        value=value,
        gas=500_000,
        tx_type=2,
        input=calldata,
        selector=calldata[:10] if len(calldata) >= 10 else None,
        first_seen_ms=0,
        source="fuzz",
        max_fee_per_gas=1,
        max_priority_fee_per_gas=1,
    )


def assert_consistent(tx: Tx) -> None:
    etx = enrich(tx)
    assert etx.tx is tx
    assert etx.kind in KINDS
    assert etx.kind != "swap" or etx.swaps
    for swap in etx.swaps:
        assert len(swap.path) >= 2
        for amount in (swap.amount_in, swap.amount_out):
            assert amount is None or 0 <= amount <= UINT256_MAX
    if etx.token_amount is not None:
        assert 0 <= etx.token_amount <= UINT256_MAX


@fuzz_settings(400)
@given(
    selector=st.sampled_from(SELECTORS),
    to=st.sampled_from(TARGETS),
    body=st.binary(max_size=600),
    value=st.integers(min_value=0, max_value=UINT256_MAX),
)
def test_arbitrary_bytes_after_every_known_selector(
    selector: str, to: str, body: bytes, value: int
) -> None:
    assert_consistent(tx_with(to, selector + body.hex(), value))


@fuzz_settings(400)
@given(
    selector=st.sampled_from(SELECTORS),
    to=st.sampled_from(TARGETS),
    words=st.lists(WORDS, max_size=24),
    tail=st.binary(max_size=31),
)
def test_misleading_abi_words_after_every_known_selector(
    selector: str, to: str, words: list[bytes], tail: bytes
) -> None:
    assert_consistent(tx_with(to, selector + b"".join(words).hex() + tail.hex()))


MULTICALL = "0xac9650d8"  # multicall(bytes[])


@fuzz_settings(60)
@given(
    depth=st.integers(min_value=1, max_value=12),
    inner_selector=st.sampled_from(SELECTORS),
    inner=st.lists(WORDS, max_size=10),
    fan_out=st.integers(min_value=1, max_value=8),
)
def test_nested_multicalls_are_bounded(
    depth: int, inner_selector: str, inner: list[bytes], fan_out: int
) -> None:
    # The calldata itself grows as fan_out ** depth: keep it to what a block could carry.
    assume(fan_out**depth <= 1024)
    call = bytes.fromhex(inner_selector[2:]) + b"".join(inner)
    for _ in range(depth):
        call = bytes.fromhex(MULTICALL[2:]) + encode(["bytes[]"], [[call] * fan_out])
    assert_consistent(tx_with(TARGETS[2], "0x" + call.hex()))
