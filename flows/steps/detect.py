"""MEV found in mined blocks and in Flashblocks, and blocks' sandwiches linked to the mempool
alerts that foresaw them."""

from __future__ import annotations

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import BranchOut

from flows.steps.checked import Checked, is_detection, split, split_errors
from flows.steps.frozen_state import stateful_flat_map
from operators.clock import now_ms
from operators.l2 import FLASHBLOCK_KIND
from operators.mev import detect_block
from operators.mev.mempool.predictions import KINDS as PREDICTION_KINDS
from operators.mev.mempool.predictions import MAX_VICTIMS, SandwichPredictions
from operators.mev.mempool.predictions import window_key as prediction_key
from operators.mev.pools import BUNDLED, AmmFactories
from operators.records import Block, DeadLetter, Detection, RawItem, Tx


def is_flashblock(item: object) -> bool:
    return isinstance(item, RawItem) and item.kind == FLASHBLOCK_KIND


@operator
def preconfirmed_detect(step_id: str, raw: Stream[RawItem | Tx | DeadLetter]) -> Checked[Detection]:
    """Sandwiches, arbitrages and back-runs inside each Flashblock (the feed's whole-flashblock
    items, operators/l2/preconfirmed.py), before the block exists."""

    def detect(item: RawItem | Tx | DeadLetter) -> list[Detection | DeadLetter]:
        # Imported on the first flashblock: flows without an L2 feed never load the decoders.
        from operators.l2.flashblocks import decode_flashblock_item
        from operators.l2.preconfirmed import preconfirmed_detections

        assert isinstance(item, RawItem)
        try:
            found = decode_flashblock_item(item.payload)
            return list(
                preconfirmed_detections(
                    found.flashblock, found.block_number, found.tx_hashes, item.chain_id,
                    item.source, item.seen_ms,
                )
            )  # fmt: skip
        except Exception as exc:  # a bad item or a classifier bug must not stop the flow
            return [
                DeadLetter(
                    stage="preconfirmed_mev",
                    reason=f"detector error: {type(exc).__name__}: {exc}",
                    payload=item.payload[:4096].decode("utf-8", "replace"),
                    source=item.source,
                    chain_id=item.chain_id,
                    at_ms=now_ms(),
                )
            ]

    flashblocks = op.filter("flashblocks", raw, is_flashblock)
    return split_errors("split", op.flat_map("detect", flashblocks, detect))


@operator
def block_detect(
    step_id: str, blocks: Stream[Block], factories: AmmFactories = BUNDLED
) -> Checked[Detection]:
    """Sandwiches, arbitrages and liquidations from each block's call traces, or from its
    receipts' logs where the node had no traces (``operators.mev.logs``; ``data["path"]``);
    builder payments from its receipts and traces, and its private-flow share.

    A block arrives whole (body, receipts and traces in one bundle from the source), so no
    window is needed to collect it; a block the classifiers cannot read becomes a dead letter.
    """

    def detect(block: Block) -> list[Detection | DeadLetter]:
        if not block.traces and not block.receipts:
            return []
        try:
            return list(detect_block(block, factories=factories))
        except Exception as exc:  # a classifier bug must not stop the flow: keep the block
            return [
                DeadLetter(
                    stage="block_mev",
                    reason=f"detector error: {type(exc).__name__}: {exc}",
                    payload=f"{block.chain_id}:{block.number}:{block.hash}",
                    source=block.source,
                    chain_id=block.chain_id,
                    at_ms=now_ms(),
                )
            ]

    return split_errors("split", op.flat_map("detect", blocks, detect))


@dataclass(frozen=True)
class Predicted:
    """Blocks' sandwiches linked to the alerts that foresaw them, and the alerts' outcomes as
    ``("alerts_confirmed.<detector>" | "alerts_unconfirmed.<detector>", n)`` summary counts."""

    links: Stream[Detection]
    outcomes: Stream[tuple[str, int]]


@operator
def link_predictions(
    step_id: str, detections: Stream[Detection], horizon_s: float, max_victims: int = MAX_VICTIMS
) -> Predicted:
    """``sandwich_predicted``: a block's sandwich matched to the mempool alerts that foresaw it
    (operators/mev/mempool/predictions.py), with how early the alert came; and each alert's
    outcome (confirmed by a block or not) for the live precision figure."""
    relevant = op.filter("relevant", detections, lambda d: d.kind in PREDICTION_KINDS)

    def step(
        state: SandwichPredictions | None, detection: Detection
    ) -> tuple[SandwichPredictions, list[Detection | tuple[str, int]]]:
        state = (
            state
            if state is not None
            else SandwichPredictions(int(horizon_s * 1000), max_victims=max_victims)
        )
        links: list[Detection | tuple[str, int]] = list(state.on_detection(detection))
        links += [(f"alerts_{outcome}.{kind}", 1) for kind, outcome in state.drain_outcomes()]
        return state, links

    keyed = op.key_on("by_chain", relevant, prediction_key)
    out = op.key_rm("unkey", stateful_flat_map("link", keyed, step))
    kinds: BranchOut[Detection, tuple[str, int]] = split("is_link", out, is_detection)
    return Predicted(kinds.trues, kinds.falses)
