"""Private order flow: each mined tx's private status from pending sightings and watch states."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.config import RpcConfig
from flows.steps.frozen_state import stateful_flat_map
from operators.mev.private import PrivateFlowTracker, WatchState
from operators.records import Block, Tx


@operator
def private_flow(
    step_id: str,
    txs: Stream[Tx],
    blocks: Stream[Block],
    watch: Stream[WatchState],
    lookback_s: float,
    rpc: RpcConfig,
) -> Stream[Tx | Block]:
    """Blocks with each tx's private status, from pending sightings and the sources' watch states
    (operators/mev/private.py); one tracker per chain.

    The txs come out too, in the order they came in, beside the blocks: whatever reads both
    (the mempool windows, which also take the blocks' mined sightings) must see them in the
    recorded order, and a block that took this keyed route while its chain's pending txs took
    another would overtake them on another worker and make them late."""

    def keyed(item: Tx | Block | WatchState) -> tuple[str, Tx | Block | WatchState]:
        return (str(item.chain_id), item)

    def step(
        tracker: PrivateFlowTracker | None, item: Tx | Block | WatchState
    ) -> tuple[PrivateFlowTracker, list[Tx | Block]]:
        if tracker is None:
            tracker = PrivateFlowTracker(
                item.chain_id,
                int(lookback_s * 1000),
                rpc.max_pending,
                int(rpc.pending_ttl_s * 1000),
                rpc.reorg_depth,
            )
        if isinstance(item, Block):
            return tracker, [tracker.on_block(item)]
        if isinstance(item, Tx):
            if item.block_number is None:
                tracker.on_pending(item.hash, item.first_seen_ms)
            return tracker, [item]
        tracker.on_watch(item)
        return tracker, []

    merged = op.merge("sightings", txs, blocks, watch)
    tracked = stateful_flat_map("track", op.map("by_chain", merged, keyed), step)
    return op.key_rm("unkey", tracked)
