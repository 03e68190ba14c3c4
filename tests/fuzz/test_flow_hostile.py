"""Hostile raw items through the whole graph, every local sink on (issue 14).

Real sample transactions with fields swapped for wrong values, huge and negative integers (in the
payload and in the source's own ``seen_ms`` / ``chain_id``), wrong JSON types, unicode, deep
nesting, truncated hex and duplicates. Whatever comes in: the flow finishes, every input is either
normalized or dead-lettered (once, with a reason), and no output key is written twice.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from bytewax.testing import TestingSource, run_main
from hypothesis import Phase, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from flows.config import load_config
from flows.mempool import build_flow
from operators.bounds import MAX_CHAIN_ID
from operators.records import RawItem
from tests.fuzz.support import WRONG_VALUES, fuzz_settings, payloads

NOW_MS = time.time_ns() // 1_000_000
HEX_FIELDS = ("hash", "from", "to", "nonce", "value", "gas", "gasPrice", "input", "chainId")


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _truncate(fields: dict[str, Any], name: str, cut: int) -> dict[str, Any]:
    value = fields.get(name)
    if isinstance(value, str) and len(value) > 2:
        return {**fields, name: value[: max(2, len(value) - cut)]}
    return fields


@st.composite
def payload(draw: st.DrawFn) -> bytes:
    """A tx object's bytes: a real one, mutated one of the ways a hostile peer would."""
    fields = draw(st.sampled_from(payloads("tx", 60)))
    how = draw(st.sampled_from(["real", "wrong", "truncate", "unicode", "deep", "type", "junk"]))
    if how == "wrong":
        fields = {**fields, draw(st.sampled_from(HEX_FIELDS)): draw(WRONG_VALUES)}
    elif how == "truncate":
        fields = _truncate(fields, draw(st.sampled_from(HEX_FIELDS)), draw(st.integers(1, 5)))
    elif how == "unicode":
        fields = {**fields, draw(st.sampled_from(HEX_FIELDS)): draw(st.text(min_size=1))}
    elif how == "deep":
        return _deep(draw(st.integers(100, 5000)))
    elif how == "type":
        return msgspec.json.encode(draw(st.one_of(WRONG_VALUES, st.lists(st.just(fields)))))
    elif how == "junk":
        return draw(st.binary(max_size=64))
    return msgspec.json.encode(fields)


HOSTILE_INTS = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=0),
    st.integers(min_value=1 << 62, max_value=1 << 80),
    st.sampled_from([99999999999999999999999, 4_102_444_800_000, 0, -1]),
)


@st.composite
def raw_items(draw: st.DrawFn) -> list[RawItem]:
    items: list[RawItem] = []
    for _ in range(draw(st.integers(1, 12))):
        seen_ms = draw(st.one_of(st.integers(NOW_MS - 86_400_000, NOW_MS), HOSTILE_INTS))
        chain_id = draw(st.one_of(st.sampled_from([1, 1, 1, 10, 8453, 42161]), HOSTILE_INTS))
        kind = draw(st.sampled_from(["tx", "tx", "tx", "call", "block", "\u2603", ""]))
        items.append(RawItem(kind, chain_id, "", seen_ms, draw(payload())))
    # duplicates: the same item again, later
    items += draw(st.lists(st.sampled_from(items), max_size=3))
    # each input is told apart by its source tag, which every record made from it carries
    return [msgspec.structs.replace(item, source=f"hostile:{i}") for i, item in enumerate(items)]


def lines(path: Path) -> list[dict[str, Any]]:
    # split on newlines only: str.splitlines() also splits inside strings, at U+0085 or U+2028
    return [json.loads(line) for line in path.read_text().split("\n") if line]


@hyp_settings(fuzz_settings(max_examples=25), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(items=raw_items())
def test_hostile_items_are_normalized_or_dead_lettered_once(items: list[RawItem]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cfg = load_config({})
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, dir=str(out)))
        run_main(build_flow(cfg, source=TestingSource(items)))  # the flow finishes

        summary = json.loads((out / "summary.json").read_text())
        letters = lines(out / "dead_letters.jsonl")
        refused = [x for x in letters if x["stage"] == "normalize"]
        tags = [x["source"] for x in refused]
        assert summary["read"] == len(items)
        # every input: normalized, or one dead letter with its reason
        assert len(tags) == len(set(tags)) and set(tags) <= {i.source for i in items}
        assert all(x["reason"].strip() for x in refused)
        assert summary["normalized"] + summary["blocks"] + len(refused) == len(items)
        # what reaches a sink is in range, whatever came in
        for letter in letters:
            assert 0 <= letter["at_ms"] <= NOW_MS + 3_600_000
            assert letter["chain_id"] is None or 1 <= letter["chain_id"] <= MAX_CHAIN_ID
        # no key written twice
        for name in ("detections", "alerts", "inclusions"):
            keys = [record["key"] for record in lines(out / f"{name}.jsonl")]
            assert len(keys) == len(set(keys)), name
