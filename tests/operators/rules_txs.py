"""Real mainnet txs as EnrichedTx for the rule tests, through the flow's normalize and enrich.

The txs are the bundled JSON-RPC tx objects of tests/data/rules (see NOTICE.md there).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from operators.enrich import enrich
from operators.normalize import normalize_tx
from operators.records import EnrichedTx

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rules" / "mainnet_txs.jsonl.gz"


def load_rpc_txs(path: Path = SAMPLE) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


@cache
def _sample() -> tuple[EnrichedTx, ...]:
    return tuple(
        enrich(normalize_tx(obj, 1, "test-sample", 1_700_000_000_000 + i))
        for i, obj in enumerate(load_rpc_txs())
    )


def sample_enriched() -> list[EnrichedTx]:
    return list(_sample())


def by_hash(txs: list[EnrichedTx], tx_hash: str) -> EnrichedTx:
    return next(e for e in txs if e.tx.hash == tx_hash)
