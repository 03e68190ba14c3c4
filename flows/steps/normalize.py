"""Normalize (RawItem → Tx and Block) and enrich (decoded call, swaps, labels, kind)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.config import EnrichConfig, LimitsConfig
from flows.steps.checked import Checked, split_errors
from flows.wiring.operators import enricher_for, size_limits
from operators.bounds import TimeBounds
from operators.clock import now_ms
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, EnrichedTx, RawItem, Tx


def normalizer(
    limits: LimitsConfig,
) -> Callable[[RawItem | Tx | DeadLetter], Iterable[Tx | Block | DeadLetter]]:
    """The normalize step's function: a RawItem's records under the size and clock ``limits``;
    a ``Tx`` (archived) or a dead letter passes through unchanged."""
    sizes = size_limits(limits)
    bounds = TimeBounds(int(limits.max_clock_skew_s * 1000))

    def run(item: RawItem | Tx | DeadLetter) -> Iterable[Tx | Block | DeadLetter]:
        if isinstance(item, RawItem):
            return normalize_item(item, sizes, bounds, now_ms())
        return (item,)

    return run


@operator
def normalize_stage(
    step_id: str, raw: Stream[RawItem | Tx | DeadLetter], limits: LimitsConfig = LimitsConfig()
) -> Checked[Tx | Block]:
    """RawItem → Tx and Block; anything malformed or out of range (or already a dead letter) →
    errs. Archived transactions arrive as ``Tx`` and pass through unchanged. Size and clock
    limits: ``limits``."""
    return split_errors("split", op.flat_map("normalize", raw, normalizer(limits)))


@operator
def enrich_stage(step_id: str, txs: Stream[Tx], cfg: EnrichConfig) -> Stream[EnrichedTx]:
    """Decoding never fails a tx: unknown calldata is the normal case, so there is no errs stream."""
    return op.map("enrich", txs, enricher_for(cfg).enrich)


@operator
def block_txs(step_id: str, blocks: Stream[Block]) -> Stream[Tx]:
    """The transactions inside mined blocks, for the archive and the rules."""
    return op.flat_map("txs", blocks, lambda block: block.txs)
