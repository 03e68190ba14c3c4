"""The rule host's encoding on arbitrary field values: every tx is laid out in the module's memory
or becomes an ``unencodable`` dead letter naming it, and the engine never raises.

Values go past what normalize ever produces (huge and negative ints, wrong-size or non-hex
addresses, unicode and lone surrogates in labels, empty and very long calldata), because txs also
reach the rules from the Parquet archive replay and from Kafka, written by other versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.records import KINDS, EnrichedTx, Swap, Tx
from operators.rules import Limits, RuleEngine, abi
from tests.fuzz.support import fuzz_settings, hex_string
from tests.operators import rules_wat

pytestmark = pytest.mark.fuzz

BIG_INTS = st.one_of(
    st.integers(min_value=0, max_value=1 << 64),
    st.integers(min_value=-(1 << 300), max_value=1 << 300),
    st.sampled_from([0, -1, (1 << 32) - 1, 1 << 32, (1 << 64) - 1, 1 << 64, (1 << 256) - 1]),
    st.sampled_from([1 << 256, 1 << 1100, -(1 << 1100)]),  # past uint256, past float range
)
ADDRESSES = st.one_of(
    hex_string(20, 20),
    hex_string(0, 40),  # wrong length
    st.text(max_size=44),  # not hex, unicode, lone surrogates
    st.just("0x" + "zz" * 20),
)
LABELS = st.one_of(st.none(), st.text(max_size=40))
CALLDATA = st.one_of(
    st.just("0x"),
    st.just(""),
    hex_string(0, 300),
    st.integers(min_value=0, max_value=600_000).map(lambda n: "0x" + "ab" * n),  # to 600 KB
    st.text(max_size=30),
    hex_string(1, 40).map(lambda h: h + "f"),  # odd length
)


@st.composite
def swaps(draw: st.DrawFn) -> Swap:
    return Swap(
        protocol=draw(st.text(max_size=20)),
        router=draw(ADDRESSES),
        path=tuple(draw(st.lists(ADDRESSES, max_size=4))),
        exact_input=draw(st.booleans()),
        amount_in=draw(st.none() | BIG_INTS),
        amount_out=draw(st.none() | BIG_INTS),
        amount_out_min=draw(st.none() | BIG_INTS),
        amount_in_max=draw(st.none() | BIG_INTS),
        recipient=draw(st.none() | ADDRESSES),
        deadline=draw(st.none() | BIG_INTS),
        quote=draw(st.none() | BIG_INTS),
    )


@st.composite
def enriched(draw: st.DrawFn, index: int = 0) -> EnrichedTx:
    calldata = draw(CALLDATA)
    tx = Tx(
        chain_id=draw(st.sampled_from([1, 10, 8453, 42161]) | BIG_INTS),
        hash=f"0x{index:064x}",
        sender=draw(ADDRESSES),
        to=draw(st.none() | ADDRESSES),
        nonce=draw(st.none() | BIG_INTS),
        value=draw(BIG_INTS),
        gas=draw(BIG_INTS),
        tx_type=draw(BIG_INTS),
        input=calldata,
        selector=draw(st.none() | st.just(calldata[:10]) | st.text(max_size=12)),
        first_seen_ms=draw(BIG_INTS),
        source="fuzz",
        gas_price=draw(st.none() | BIG_INTS),
        max_fee_per_gas=draw(st.none() | BIG_INTS),
        max_priority_fee_per_gas=draw(st.none() | BIG_INTS),
        block_number=draw(st.none() | BIG_INTS),
    )
    return EnrichedTx(
        tx=tx,
        kind=draw(st.sampled_from(KINDS) | st.text(max_size=10)),
        swaps=tuple(draw(st.lists(swaps(), max_size=2))),
        to_label=draw(LABELS),
        sender_label=draw(LABELS),
        token=draw(st.none() | ADDRESSES),
        token_amount=draw(st.none() | BIG_INTS),
        counterparty=draw(st.none() | ADDRESSES),
    )


@st.composite
def batches(draw: st.DrawFn) -> list[EnrichedTx]:
    size = draw(st.integers(min_value=1, max_value=6))
    return [draw(enriched(i)) for i in range(size)]


def _tx_hash(payload: str) -> str:
    return str(json.loads(payload)["tx_hash"])


@fuzz_settings(150)
@given(batch=batches())
def test_encode_or_reject_every_tx(batch: list[EnrichedTx]) -> None:
    good, bad = abi.split_encodable(batch, with_calldata=True)
    assert len(good) + len(bad) == len(batch)
    if good:
        encoded = abi.encode_batch(good, with_calldata=True)
        assert encoded.count == len(good)
        assert len(encoded.data) >= len(good) * abi.RECORD_SIZE
    for _, problem in bad:
        assert problem and len(problem) < 300  # a reason, not a dump of the value


@pytest.fixture(scope="module")
def match_all_engine(tmp_path_factory: pytest.TempPathFactory) -> RuleEngine:
    directory: Path = tmp_path_factory.mktemp("rules")
    # A module that asks for calldata, so calldata is copied into memory too.
    body = rules_wat.MATCH_ALL
    source = rules_wat.module(body).replace(
        '(func (export "alloc")',
        '(func (export "scorpius_needs_calldata") (result i32) (i32.const 1))\n  (func (export "alloc")',
    )
    (directory / "all.wat").write_text(source)
    return RuleEngine.from_dir(
        directory, limits=Limits(memory_bytes=32 << 20), reload_interval_s=3600.0
    )


@fuzz_settings(120)
@given(batch=batches())
def test_engine_matches_or_dead_letters_every_tx(
    match_all_engine: RuleEngine, batch: list[EnrichedTx]
) -> None:
    matches, errors = match_all_engine.evaluate(batch)
    assert match_all_engine.modules["all.wat"].needs_calldata
    matched = {m.tx_hash for m in matches}
    rejected = {_tx_hash(e.payload) for e in errors if e.reason.startswith("unencodable:")}
    # Every tx is either evaluated (the module matches all) or rejected with a reason, not both.
    assert matched | rejected == {e.tx.hash for e in batch}
    assert not matched & rejected
    assert all(e.stage == "rules" for e in errors)
    # Dead letters must reach the sinks: they encode as JSON whatever the tx held.
    for letter in errors:
        msgspec.json.decode(msgspec.json.encode(letter))


def test_a_huge_value_is_rejected_with_the_field_named(match_all_engine: RuleEngine) -> None:
    base = EnrichedTx(
        tx=Tx(
            chain_id=1,
            hash="0x" + "11" * 32,
            sender="0x" + "22" * 20,
            to=None,
            nonce=1,
            value=1 << 300,
            gas=21_000,
            tx_type=2,
            input="0x",
            selector=None,
            first_seen_ms=1,
            source="test",
        ),
        kind="transfer",
    )
    fine = msgspec.structs.replace(
        base, tx=msgspec.structs.replace(base.tx, hash="0x" + "33" * 32, value=5)
    )
    matches, errors = match_all_engine.evaluate([base, fine])
    assert [m.tx_hash for m in matches] == [fine.tx.hash]
    assert len(errors) == 1
    reason: Any = errors[0].reason
    assert reason.startswith("unencodable: field 'value'") and "does not fit u256" in reason
