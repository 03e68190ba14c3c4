"""MEV inside a Flashblock, before its block exists: the mempool-style view of OP-stack chains.

A Flashblock carries its txs in the sequencer's order and their receipts (``metadata.receipts``),
so the log path (``operators.mev.logs``) classifies it like a small block: sandwiches within the
flashblock, arbitrages, and back-runs (an arbitrage right after another account's swap through
the same pool, ``operators.mev.backruns``). Findings carry ``data["stage"] = "preconfirmed"``,
the flashblock's index and the block it will be part of; their keys end in ``:preconfirmed`` so
they stay distinct from the mined block's findings of the same txs (the mined block, read later,
confirms or not). A sandwich whose legs fall in different flashblocks of one block is seen only
in the mined block.
"""

from __future__ import annotations

import msgspec

from operators.l2.flashblocks import Flashblock, receipts_of
from operators.mev.block import analyze_block_logs, detections_of
from operators.records import Block, Detection

# A flashblock is part of a block: its MEV shapes are findings, but what describes a whole block
# (the builder's payments, the private-flow share) waits for the mined block.
PRECONFIRMED_KINDS = frozenset({"sandwich", "arbitrage", "backrun", "liquidation"})


def preconfirmed_detections(
    flashblock: Flashblock,
    block_number: int,
    tx_hashes: list[str],
    chain_id: int,
    source: str,
    seen_ms: int,
) -> list[Detection]:
    """Findings in one flashblock whose txs (in order) are ``tx_hashes``."""
    order = {h: i for i, h in enumerate(tx_hashes)}
    receipts = receipts_of(flashblock, order)
    if not any(r.logs for r in receipts):
        return []
    block = Block(
        chain_id, block_number, None, 0, None, None, seen_ms, source,
        receipts=tuple(r for r in receipts if r.tx_index >= 0), tx_hashes=tuple(tx_hashes),
    )  # fmt: skip
    analysis = analyze_block_logs(block, backruns=True)
    extra = {"stage": "preconfirmed", "flashblock_index": flashblock.index}
    return [
        msgspec.structs.replace(d, key=f"{d.key}:preconfirmed", data={**d.data, **extra})
        for d in detections_of(block, analysis)
        if d.kind in PRECONFIRMED_KINDS
    ]
