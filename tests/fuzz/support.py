"""Shared pieces of the fuzz tests: the derandomized settings CI runs, real records to mutate, and
strategies for the wrong values an adversarial node or peer can send."""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "connectors" / "sample" / "mainnet.jsonl.gz"

# SCORPIUS_FUZZ_SCALE=10 runs ten times the examples, randomized: a deeper run on a developer's
# machine. CI keeps the default: a fixed budget, derandomized, so a run is reproducible.
_SCALE = int(os.environ.get("SCORPIUS_FUZZ_SCALE", "1"))


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * _SCALE,
        derandomize=_SCALE == 1,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@functools.cache
def sample_records() -> tuple[dict[str, Any], ...]:
    with gzip.open(SAMPLE, "rb") as lines:
        return tuple(json.loads(line) for line in lines)


def payloads(kind: str, limit: int = 400) -> list[dict[str, Any]]:
    """Real JSON-RPC objects of one kind from the bundled sample (a spread, not only the first)."""
    found = [r["payload"] for r in sample_records() if r["kind"] == kind]
    step = max(1, len(found) // limit)
    return found[::step][:limit]


def hex_string(min_bytes: int = 0, max_bytes: int = 40) -> st.SearchStrategy[str]:
    return st.binary(min_size=min_bytes, max_size=max_bytes).map(lambda b: "0x" + b.hex())


# Values of the wrong type, size or encoding for a hex field of a JSON-RPC object.
WRONG_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 300), max_value=1 << 300),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN or Infinity
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(max_size=80),
    hex_string(0, 80),  # any size: addresses and hashes of the wrong length
    st.sampled_from(
        ["0x", "0X1", "0xzz", "0x-1", "-0x1", "1234", "0x" + "f" * 65, "0x" + "0" * 200]
    ),
    st.integers(min_value=0, max_value=1 << 400).map(hex),  # beyond uint256
    hex_string(0, 8).map(str.upper),
    hex_string(0, 8).map(lambda h: h + "\u00e9"),
)
