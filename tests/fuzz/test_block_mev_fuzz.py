"""Block MEV detection on the mev-fixtures blocks made wrong: traces dropped, duplicated,
reordered, re-addressed, reverted, re-valued or with calldata cut; receipts and their logs
replaced by arbitrary ones. ``detect_block`` never raises, and what it reports stays consistent
with the block it was given.

Traces come from a node (Parity ``trace_block``), so a detector must survive whatever a buggy or
hostile node returns.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.mev import detect_block
from operators.records import Block, Receipt, Trace
from tests.fuzz.support import fuzz_settings, hex_string
from tests.operators.mev.conftest import block

pytestmark = pytest.mark.fuzz

# Blocks with a sandwich, arbitrages and liquidations among the fixtures (tests/data/mev).
BLOCKS = [12775690, 13207907, 13244807, 10921991, 12483198]


def _cut(data: str, at: int) -> str:
    return data[: 2 + 2 * at] if data.startswith("0x") else data


@st.composite
def mutated_trace(draw: st.DrawFn, trace: Trace) -> Trace:
    change = draw(st.sampled_from(["same", "same", "input", "error", "value", "address", "to"]))
    if change == "input":
        return msgspec.structs.replace(
            trace, input=_cut(trace.input, draw(st.integers(min_value=0, max_value=200)))
        )
    if change == "error":
        return msgspec.structs.replace(trace, error=draw(st.sampled_from([None, "Reverted", ""])))
    if change == "value":
        return msgspec.structs.replace(
            trace, value=draw(st.integers(min_value=0, max_value=(1 << 256) - 1))
        )
    if change == "address":
        path = draw(st.lists(st.integers(min_value=0, max_value=5), max_size=4))
        return msgspec.structs.replace(trace, trace_address=tuple(path))
    if change == "to":
        return msgspec.structs.replace(trace, to=draw(st.none() | hex_string(20, 20)))
    return trace


RECEIPT_LOGS = st.lists(
    st.dictionaries(
        st.sampled_from(["address", "topics", "data", "logIndex", "removed"]),
        st.one_of(st.none(), st.text(max_size=10), hex_string(0, 40), st.lists(hex_string(32, 32))),
        max_size=5,
    ),
    max_size=3,
)


@st.composite
def mutated_block(draw: st.DrawFn) -> Block:
    original = block(draw(st.sampled_from(BLOCKS)))
    traces = list(original.traces)
    # Keep a window of the block so each example stays quick.
    start = draw(st.integers(min_value=0, max_value=max(0, len(traces) - 1)))
    traces = traces[start : start + 100]
    out = [draw(mutated_trace(t)) for t in traces if draw(st.integers(0, 19)) != 0]
    if len(out) > 0 and draw(st.booleans()):
        out += draw(st.lists(st.sampled_from(out), max_size=5))  # duplicates
    if draw(st.booleans()):
        out = draw(st.permutations(out))
    receipts = tuple(
        Receipt(
            tx_hash=r.tx_hash,
            tx_index=r.tx_index,
            status=draw(st.sampled_from([None, 0, 1])),
            gas_used=r.gas_used,
            effective_gas_price=r.effective_gas_price,
            to=r.to,
            logs=tuple(draw(RECEIPT_LOGS)),
        )
        for r in original.receipts[:20]
    )
    return msgspec.structs.replace(original, traces=tuple(out), receipts=receipts)


@fuzz_settings(40)
@given(mutated=mutated_block())
def test_block_detection_survives_mutated_traces_receipts_and_logs(mutated: Block) -> None:
    found = detect_block(mutated)
    hashes = {t.tx_hash for t in mutated.traces} | {r.tx_hash for r in mutated.receipts}
    keys = [d.key for d in found]
    assert len(keys) == len(set(keys))
    for d in found:
        assert d.kind in {"sandwich", "arbitrage", "liquidation", "builder_payment", "nft_trade"}
        assert d.block_number == mutated.number
        assert set(d.tx_hashes) <= hashes
        msgspec.json.encode(d)
    # Receipts and logs do not steer MEV findings: the traces alone decide (receipts only add
    # the priority fees of builder payments).
    without = detect_block(msgspec.structs.replace(mutated, receipts=()))
    mev = {"sandwich", "arbitrage", "liquidation"}
    assert [d for d in without if d.kind in mev] == [d for d in found if d.kind in mev]
