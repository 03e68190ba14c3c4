"""Mempool detectors on arbitrary streams of pending ``EnrichedTx``: sandwich attempts, frontrun
copies and the replacement tracker never raise, report only txs they were fed, report a finding
once, and keep their state within its caps.

Streams mix a real sandwich block's top-level calls replayed as pending txs (so the detectors'
deeper paths run) with txs drawn from a few senders, targets and nonces (so collisions happen),
in any order, with any tips and first-seen times, repeated, and merged across two windows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.mev.mempool import FrontrunCopyDetector, SandwichAttemptDetector
from operators.records import Detection, EnrichedTx
from operators.replacement import ReplacementTracker
from tests.fuzz.support import fuzz_settings, hex_string
from tests.operators.mev.conftest import block
from tests.operators.mev.pending import enriched, pending, replayed

pytestmark = pytest.mark.fuzz

SENDERS = ["0x" + c * 40 for c in "abcd"]
TARGETS = [
    None,
    "0x7a250d5630b4cf539739df2c5dacb4c659f2488d",  # Uniswap V2 Router02
    "0x" + "bc" * 20,  # a bot contract
    "0x" + "ee" * 20,
]
CAP = 12  # small caps, so streams go over them


@cache
def sandwich_block_txs() -> tuple[EnrichedTx, ...]:
    mined = block(12775690)
    top = [t for t in mined.traces if t.trace_address == () and t.tx_hash]
    return tuple(replayed(top, start_ms=mined.timestamp * 1000 - 12_000))


@st.composite
def drawn_tx(draw: st.DrawFn) -> EnrichedTx:
    real = sandwich_block_txs()
    sender = draw(st.sampled_from(SENDERS))
    calldata = draw(
        st.one_of(
            st.sampled_from([e.tx.input for e in real]),  # a real swap's calldata, copied
            hex_string(0, 80),
            st.sampled_from(SENDERS).map(lambda s: "0x12345678" + "00" * 12 + s[2:] + "11" * 32),
        )
    )
    tx = pending(
        "0x" + draw(st.binary(min_size=2, max_size=2)).hex().rjust(64, "0"),
        sender,
        draw(st.sampled_from(TARGETS)),
        calldata,
        value=draw(st.integers(min_value=0, max_value=1 << 256)),
        tip=draw(st.none() | st.integers(min_value=0, max_value=1 << 70)),
        seen_ms=draw(st.integers(min_value=-(1 << 40), max_value=1 << 45)),
        chain_id=draw(st.sampled_from([1, 10])),
    )
    nonce = draw(st.none() | st.integers(min_value=0, max_value=40))
    tx_type = draw(st.sampled_from([0, 2, 0x7E]))
    return enriched(msgspec.structs.replace(tx, nonce=nonce, tx_type=tx_type))


@st.composite
def real_tx(draw: st.DrawFn) -> EnrichedTx:
    etx = draw(st.sampled_from(sandwich_block_txs()))
    tx = msgspec.structs.replace(
        etx.tx,
        first_seen_ms=etx.tx.first_seen_ms + draw(st.integers(min_value=-20_000, max_value=20_000)),
        max_priority_fee_per_gas=draw(st.none() | st.integers(min_value=0, max_value=10**12)),
        sender=draw(st.sampled_from([etx.tx.sender, *SENDERS])),
    )
    return msgspec.structs.replace(etx, tx=tx)


@st.composite
def mutated_sandwich(draw: st.DrawFn) -> list[EnrichedTx]:
    """The block's first calls (a sandwich with four victims): some dropped, some re-tipped or
    re-timed, noise mixed in, in any arrival order."""
    stream: list[EnrichedTx] = []
    for etx in sandwich_block_txs()[:12]:
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            continue
        jitter = draw(st.sampled_from([0, 0, 0, -150, 150, -(1 << 40)]))
        tip = draw(st.sampled_from([None, 0, 10**9, 10**12]))
        tx = msgspec.structs.replace(
            etx.tx,
            first_seen_ms=etx.tx.first_seen_ms + jitter,
            max_priority_fee_per_gas=tip or etx.tx.max_priority_fee_per_gas,
        )
        stream.append(msgspec.structs.replace(etx, tx=tx))
    stream += draw(st.lists(st.one_of(real_tx(), drawn_tx()), max_size=10))
    return draw(st.permutations(stream))


STREAMS = st.one_of(
    st.lists(st.one_of(real_tx(), drawn_tx()), min_size=1, max_size=60), mutated_sandwich()
)


def _feed(detector: object, stream: list[EnrichedTx]) -> list[Detection]:
    found: list[Detection] = []
    for i, etx in enumerate(stream):
        found += detector.on_tx(etx, 1_000 + i)  # type: ignore[attr-defined]
    return found


D = TypeVar("D", SandwichAttemptDetector, FrontrunCopyDetector, ReplacementTracker)


def _split_and_merged(
    make: Callable[[], D], stream: list[EnrichedTx], split: int
) -> tuple[D, list[Detection]]:
    """Two detectors each fed one part of ``stream`` (two workers' keys), the second merged into
    the first (a rescale), and what both found."""
    first, second = make(), make()
    found = _feed(first, stream[:split]) + _feed(second, stream[split:])
    first.merge(second)
    return first, found


def _check(found: list[Detection], stream: list[EnrichedTx], kind: str) -> None:
    fed = {e.tx.hash for e in stream}
    keys = [d.key for d in found]
    assert len(keys) == len(set(keys)), "a finding was reported twice"
    for d in found:
        assert d.kind == kind
        assert set(d.tx_hashes) <= fed
        msgspec.json.encode(d)  # every detection reaches the sinks


@fuzz_settings(120)
@given(stream=STREAMS, split=st.integers(min_value=0, max_value=60))
def test_sandwich_attempts_on_any_stream(stream: list[EnrichedTx], split: int) -> None:
    first, found = _split_and_merged(
        lambda: SandwichAttemptDetector(max_pending=CAP * 4), stream, split
    )
    _check(found, stream, "sandwich_attempt")
    assert len(first.arrived) <= CAP * 4 and len(first.reported) <= CAP * 4
    held = {p.etx.tx.hash for txs in first.by_group.values() for p in txs}
    assert held == set(first.arrived)  # the indexes forget what the cap forgets
    assert all(p.etx.tx.hash in first.arrived for v in first.victims.values() for p in v)


@fuzz_settings(150)
@given(stream=STREAMS, split=st.integers(min_value=0, max_value=60))
def test_frontrun_copies_on_any_stream(stream: list[EnrichedTx], split: int) -> None:
    first, found = _split_and_merged(lambda: FrontrunCopyDetector(max_originals=CAP), stream, split)
    _check(found, stream, "frontrun_copy")
    assert len(first.originals) <= CAP and len(first.reported) <= CAP
    for d in found:
        assert d.data["copy_tip"] > d.data["original_tip"]
        assert d.data["original_sender"] != d.data["copier"]


@fuzz_settings(150)
@given(stream=STREAMS, split=st.integers(min_value=0, max_value=60))
def test_replacement_tracker_on_any_stream(stream: list[EnrichedTx], split: int) -> None:
    first, found = _split_and_merged(lambda: ReplacementTracker(max_nonces=CAP), stream, split)
    for d in found:
        assert d.kind == "replacement"
        assert set(d.tx_hashes) <= {e.tx.hash for e in stream}
        assert d.tx_hashes[0] != d.tx_hashes[1]
    assert len(first.by_nonce) <= CAP
