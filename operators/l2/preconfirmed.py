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
from operators.mev.backruns import find_backruns
from operators.mev.block import analyze_block_logs, detections_of
from operators.records import Block, Detection


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
    analysis = analyze_block_logs(block)
    extra = {"stage": "preconfirmed", "flashblock_index": flashblock.index}
    out = [
        msgspec.structs.replace(d, key=f"{d.key}:preconfirmed", data={**d.data, **extra})
        for d in detections_of(block, analysis)
    ]
    for backrun in find_backruns(analysis.swaps, analysis.arbitrages):
        target, arb = backrun.target, backrun.arbitrage
        out.append(
            Detection(
                key=f"{chain_id}:backrun:{block_number}:{target.tx_hash}:preconfirmed",
                kind="backrun",
                chain_id=chain_id,
                tx_hashes=(target.tx_hash, arb.swaps[0].tx_hash),
                first_seen_ms=seen_ms,
                detected_ms=seen_ms,
                block_number=block_number,
                data={
                    **extra,
                    "path": "logs",
                    "pool": target.pool,
                    "target": target.to_data(),
                    "account": arb.account,
                    "arbitrage_pools": [s.pool for s in arb.swaps],
                    "profit_token": arb.profit_token,
                    "profit_amount": arb.profit_amount,
                },
            )
        )
    return out
