"""Pending swaps priced at the chain's newest block, and the sandwichable victims among them."""

from __future__ import annotations

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.config import DetectConfig
from flows.steps.checked import Checked, split_errors
from flows.steps.frozen_state import stateful_flat_map
from flows.wiring.operators import amm_factories
from operators.clock import now_ms
from operators.mev.mempool import SandwichableVictimDetector
from operators.mev.mempool.reserves import FetchReserves, ReservesAtHead, ReservesUnavailable
from operators.mev.mempool.sandwichable import VictimGate
from operators.records import Block, DeadLetter, Detection, EnrichedTx


@dataclass
class _QuoteState:
    """One chain's quote state: reserves at the head, and the victims held for the searcher test."""

    reserves: ReservesAtHead
    gate: VictimGate


@operator
def quote_stage(
    step_id: str,
    etxs: Stream[EnrichedTx],
    blocks: Stream[Block],
    cfg: DetectConfig,
    fetch_reserves: FetchReserves,
) -> Checked[EnrichedTx | Detection]:
    """Pending swaps priced at the chain's newest block: ``Swap.quote`` set where every hop is a
    constant-product pool, and sandwichable victims judged on the same reserves. ``oks`` holds every
    tx (quoted or not) and the victims' detections.

    One state per chain: the head block and the reserves fetched at it (a block empties the
    cache, so a pool costs one eth_call per block). Other txs pass by without a hop. A node that
    cannot answer leaves the tx unquoted and turns its check into a dead letter
    (``reserves unavailable``); the tx itself goes on.
    """
    factories = amm_factories(cfg)
    swaps = op.branch(
        "is_pending_swap", etxs, lambda e: e.tx.block_number is None and bool(e.swaps)
    )
    heads = op.map("heads", blocks, lambda b: (b.chain_id, b.number))
    keyed = op.key_on(
        "by_chain",
        op.merge("swaps_and_heads", swaps.trues, heads),
        lambda item: str(item.tx.chain_id if isinstance(item, EnrichedTx) else item[0]),
    )

    def step(
        state: _QuoteState | None, item: EnrichedTx | tuple[int, int]
    ) -> tuple[_QuoteState, list[EnrichedTx | Detection | DeadLetter]]:
        state = (
            state
            if state is not None
            else _QuoteState(
                ReservesAtHead(max_pools=cfg.reserves_max_pools),
                VictimGate(int(cfg.sandwichable_hold_s * 1000)),
            )
        )
        now = now_ms()
        if not isinstance(item, EnrichedTx):
            head = state.reserves.head
            released = state.gate.on_block(now) if head is None or item[1] > head else []
            state.reserves.on_block(item[1])
            return state, list(released)
        detector = SandwichableVictimDetector(
            state.reserves.lookup(fetch_reserves), cfg.min_slippage_bps, factories
        )
        out: list[EnrichedTx | Detection | DeadLetter]
        try:
            quoted = detector.quoted(item)
            found = detector.on_tx(quoted, now)
            out = [quoted]
        except ReservesUnavailable as exc:
            found = []
            letter = DeadLetter(
                stage="quote",
                reason=f"reserves unavailable: {exc}",
                payload=item.tx.hash,
                source=item.tx.source,
                chain_id=item.tx.chain_id,
                at_ms=now,
            )
            out = [item, letter]
        chain = item.tx.chain_id
        hops = [h for swap in item.swaps for h in factories.hops(chain, swap)]
        return state, [*out, *state.gate.on_swap(item, hops, found, now)]

    judged: Checked[EnrichedTx | Detection] = split_errors(
        "split", op.key_rm("unkey", stateful_flat_map("quote", keyed, step))
    )
    return Checked(op.merge("all_txs", swaps.falses, judged.oks), judged.errs)
