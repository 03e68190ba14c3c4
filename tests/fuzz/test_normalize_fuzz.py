"""Normalize on adversarial input: arbitrary bytes, real txs with one field made wrong, and real
block bundles with a part made wrong. Every item ends as records or a dead letter with a reason."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.normalize import UINT256_MAX, normalize_item
from operators.records import Block, DeadLetter, RawItem, Tx
from tests.fuzz.support import WRONG_VALUES, fuzz_settings, payloads

pytestmark = pytest.mark.fuzz

TXS = payloads("tx")
CALLS = payloads("call")


def small_blocks() -> list[dict[str, Any]]:
    """Real bundles cut to a few txs, receipts and traces: the mutations need no 800 KB blocks."""
    out = []
    for bundle in payloads("block", limit=6):
        small = copy.deepcopy(bundle)
        small["block"]["transactions"] = small["block"]["transactions"][:3]
        for part in ("receipts", "traces"):
            if part in small:
                small[part] = small[part][:3]
        out.append(small)
    return out


BLOCKS = small_blocks()


def assert_accounted(records: list[Any], kind: str) -> None:
    """The step's contract: a tx item gives exactly one record; a reason names its class."""
    assert records, "an item vanished"
    if kind in ("tx", "call"):
        assert len(records) == 1
    for record in records:
        if isinstance(record, DeadLetter):
            assert record.stage == "normalize"
            head = record.reason.partition(":")[0]
            assert 0 < len(head) <= 64, record.reason  # the metric label: short and stable
            # the catch-all exists for bugs; a fuzz input reaching it is a bug
            assert head != "normalizer error", record.reason
        elif isinstance(record, Tx):
            assert_sane_tx(record)
        else:
            assert isinstance(record, Block) and kind == "block"
            for tx in record.txs:
                assert_sane_tx(tx)


def assert_sane_tx(tx: Tx) -> None:
    assert len(tx.hash) == 66 and tx.hash == tx.hash.lower()
    assert len(tx.sender) == 42 and tx.sender.startswith("0x")
    assert tx.to is None or len(tx.to) == 42
    assert 0 <= tx.value <= UINT256_MAX and 0 <= tx.gas <= UINT256_MAX
    assert tx.nonce is None or 0 <= tx.nonce <= UINT256_MAX
    assert tx.input.startswith("0x") and len(tx.input) % 2 == 0
    bytes.fromhex(tx.input[2:])


@fuzz_settings(300)
@given(
    kind=st.sampled_from(["tx", "call", "block", "", "x" * 300]), payload=st.binary(max_size=600)
)
def test_arbitrary_bytes(kind: str, payload: bytes) -> None:
    assert_accounted(normalize_item(RawItem(kind, 1, "fuzz", 0, payload)), kind)


@fuzz_settings(300)
@given(
    kind=st.sampled_from(["tx", "call"]),
    index=st.integers(min_value=0),
    data=st.data(),
    wrong=WRONG_VALUES,
)
def test_real_tx_with_one_field_made_wrong(kind: str, index: int, data: Any, wrong: Any) -> None:
    pool = TXS if kind == "tx" else CALLS
    obj = copy.deepcopy(pool[index % len(pool)])
    field = data.draw(st.sampled_from(sorted(obj)), label="field")
    obj[field] = wrong
    payload = json.dumps(obj).encode()
    assert_accounted(normalize_item(RawItem(kind, 1, "fuzz", 0, payload)), kind)


@fuzz_settings(200)
@given(
    kind=st.sampled_from(["tx", "call"]),
    index=st.integers(min_value=0),
    cut=st.integers(min_value=0),
    noise=st.binary(min_size=1, max_size=8),
)
def test_real_tx_cut_or_spliced(kind: str, index: int, cut: int, noise: bytes) -> None:
    pool = TXS if kind == "tx" else CALLS
    raw = json.dumps(pool[index % len(pool)]).encode()
    at = cut % (len(raw) + 1)
    for payload in (raw[:at], raw[:at] + noise + raw[at:]):
        assert_accounted(normalize_item(RawItem(kind, 1, "fuzz", 0, payload)), kind)


@fuzz_settings(120)
@given(
    index=st.integers(min_value=0),
    part=st.sampled_from(["block", "transactions", "receipts", "traces", "logs"]),
    data=st.data(),
    wrong=WRONG_VALUES,
)
def test_real_block_with_one_part_made_wrong(index: int, part: str, data: Any, wrong: Any) -> None:
    bundle = copy.deepcopy(BLOCKS[index % len(BLOCKS)])
    target: dict[str, Any] | None
    if part == "block":
        target = bundle["block"]
    elif part == "transactions":
        items = [t for t in bundle["block"]["transactions"] if isinstance(t, dict)]
        target = data.draw(st.sampled_from(items)) if items else None
    elif part == "logs":
        logs = [log for r in bundle.get("receipts") or () for log in r.get("logs") or ()]
        target = data.draw(st.sampled_from(logs)) if logs else None
    else:
        items = bundle.get(part) or []
        target = data.draw(st.sampled_from(items)) if items else None
        if isinstance(target, dict) and "action" in target and data.draw(st.booleans()):
            target = target["action"]
    if target is None:
        bundle[part] = wrong
    else:
        field = data.draw(st.sampled_from(sorted(target)), label="field")
        target[field] = wrong
    records = normalize_item(RawItem("block", 1, "fuzz", 0, json.dumps(bundle).encode()))
    assert_accounted(records, "block")
    # A bad part costs only itself: the block stays unless its header is what broke.
    if part != "block":
        assert isinstance(records[0], Block), records[0]
