"""Fixture blocks and expected results copied from flashbots/mev-inspect-py (MIT, see README)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from operators.mev import analyze_block
from operators.mev.block import BlockAnalysis
from operators.mev.fixtures import load_block
from operators.records import Block

DATA = Path(__file__).parents[2] / "data" / "mev"


@cache
def block(number: int) -> Block:
    return load_block(str(DATA / "blocks" / f"{number}.json.gz"))


@cache
def analysis(number: int) -> BlockAnalysis:
    return analyze_block(block(number))


def expected(name: str) -> Any:
    return json.loads((DATA / "expected" / name).read_text())
