"""Garbage calldata on every classified selector never crashes block detection."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.mev import detect_block
from operators.mev.protocols import REGISTRY
from tests.operators.mev.traces import block_of, call

SELECTORS = sorted({spec.function.selector for spec in REGISTRY})
SENDER = "0x" + "22" * 20
ADDRESSES = [*sorted({a for spec in REGISTRY for a in spec.addresses or ()}), "0x" + "11" * 20]


# ABI words that decode as addresses, small ints and offsets, so most calls get past decoding
# and into the parsers.
words = st.one_of(
    st.binary(min_size=20, max_size=20).map(lambda b: bytes(12) + b),
    st.integers(min_value=0, max_value=2**16).map(lambda n: n.to_bytes(32, "big")),
    st.binary(min_size=32, max_size=32),
)
calls = st.tuples(
    st.sampled_from(SELECTORS),
    st.lists(words, max_size=14).map(b"".join),
    st.sampled_from(ADDRESSES),
    st.integers(min_value=0, max_value=10**20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(calls, min_size=1, max_size=6))
def test_any_calldata_on_known_selectors_is_handled(items: list) -> None:
    traces = [
        call("0xaa", (i,) if i else (), SENDER, to, selector + payload.hex(), value, gas=0)
        for i, (selector, payload, to, value) in enumerate(items)
    ]
    block = block_of(traces)
    for detection in detect_block(block):
        assert detection.block_number == 1
