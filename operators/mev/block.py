"""MEV in one mined block: classify its traces once, then run every block detector.

Blocks without call traces (Arbitrum; providers without ``trace_block``) are classified from
their receipts' logs instead (``operators.mev.logs``); every finding says which in
``data["path"]``: ``"traces"`` or ``"logs"``.

``detect_block`` is the entry point shared by the flow's block window and ``scorpius
detect-block``. Each finding is a ``Detection`` with a natural key
``{chain}:{kind}:{block}:{first tx hash}:{trace address}`` so re-running a block (recovery,
replays) produces the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from operators.mev.arbitrages import Arbitrage, find_arbitrages
from operators.mev.backruns import Backrun, find_backruns
from operators.mev.classify import frames_by_tx
from operators.mev.liquidations import block_liquidations
from operators.mev.logs import block_liquidations_from_logs, block_swaps_from_logs, has_logs
from operators.mev.model import Liquidation, SwapEvent
from operators.mev.pools import BUNDLED, AmmFactories
from operators.mev.sandwiches import Sandwich, find_sandwiches
from operators.mev.swaps import block_swaps
from operators.records import Block, Detection


@dataclass(frozen=True)
class BlockAnalysis:
    """Everything the block detectors see and find (for tests and for ``--swaps`` output)."""

    swaps: list[SwapEvent]
    liquidations: list[Liquidation]
    sandwiches: list[Sandwich]
    arbitrages: list[Arbitrage]
    path: str = "traces"  # what the block was classified from: "traces" or "logs"
    backruns: list[Backrun] = field(default_factory=list)


# Chains whose blocks are in one sequencer's order (first come, first served on Arbitrum; the
# OP-stack sequencer on OP Mainnet and Base): an arbitrage right after another account's swap is
# a back-run of it, so those blocks also report back-runs (operators/mev/backruns.py).
SEQUENCER_CHAINS = frozenset({42161, 42170, 421614, 10, 8453, 84532, 11155420})


def _with_exchange(factories: AmmFactories, chain_id: int, swap: SwapEvent) -> SwapEvent:
    exchange = factories.exchange_of(
        chain_id, swap.protocol, swap.pool, swap.token_in, swap.token_out
    )
    return msgspec.structs.replace(swap, exchange=exchange) if exchange else swap


def _backruns(
    block: Block, swaps: list[SwapEvent], arbitrages: list[Arbitrage], backruns: bool | None
) -> list[Backrun]:
    wanted = block.chain_id in SEQUENCER_CHAINS if backruns is None else backruns
    return find_backruns(swaps, arbitrages) if wanted else []


def analyze_block(
    block: Block, factories: AmmFactories = BUNDLED, backruns: bool | None = None
) -> BlockAnalysis:
    """Traces where the node had them, else the receipts' logs. ``backruns``: whether to look
    for back-runs (None: on sequencer-ordered chains, ``SEQUENCER_CHAINS``)."""
    if not block.traces and has_logs(block.receipts):
        return analyze_block_logs(block, factories, backruns)
    frames = frames_by_tx(block.traces)
    swaps = [_with_exchange(factories, block.chain_id, s) for s in block_swaps(frames)]
    arbitrages = find_arbitrages(swaps)
    return BlockAnalysis(
        swaps=swaps,
        liquidations=block_liquidations(frames),
        sandwiches=find_sandwiches(swaps),
        arbitrages=arbitrages,
        backruns=_backruns(block, swaps, arbitrages, backruns),
    )


def analyze_block_logs(
    block: Block, factories: AmmFactories = BUNDLED, backruns: bool | None = None
) -> BlockAnalysis:
    swaps = [_with_exchange(factories, block.chain_id, s) for s in block_swaps_from_logs(block)]
    arbitrages = find_arbitrages(swaps)
    return BlockAnalysis(
        swaps=swaps,
        liquidations=block_liquidations_from_logs(block),
        sandwiches=find_sandwiches(swaps),
        arbitrages=arbitrages,
        path="logs",
        backruns=_backruns(block, swaps, arbitrages, backruns),
    )


def _path(trace_address: tuple[int, ...]) -> str:
    return ".".join(map(str, trace_address)) or "root"


class _Builder:
    def __init__(self, block: Block, now_ms: int | None, path: str = "traces") -> None:
        self.block = block
        self.path = path
        self.detected_ms = now_ms if now_ms is not None else block.first_seen_ms

    def make(
        self,
        kind: str,
        anchor: SwapEvent | Liquidation,
        tx_hashes: tuple[str, ...],
        data: dict[str, Any],
        severity: str = "info",
    ) -> Detection:
        block = self.block
        return Detection(
            key=f"{block.chain_id}:{kind}:{block.number}:{anchor.tx_hash}:{_path(anchor.trace_address)}",
            kind=kind,
            chain_id=block.chain_id,
            tx_hashes=tx_hashes,
            first_seen_ms=block.first_seen_ms,
            detected_ms=self.detected_ms,
            severity=severity,
            block_number=block.number,
            data={"block_hash": block.hash, "path": self.path, **data},
        )


def _unique(hashes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hashes))


def sandwich_detection(build: _Builder, sandwich: Sandwich) -> Detection:
    front, back = sandwich.frontrun, sandwich.backrun
    return build.make(
        "sandwich",
        front,
        _unique([front.tx_hash, *(v.tx_hash for v in sandwich.victims), back.tx_hash]),
        {
            "protocol": front.protocol,
            "exchange": front.exchange,
            "pool": front.pool,
            "tokens": [front.token_in, front.token_out],
            "sandwicher": sandwich.sandwicher,
            "frontrun": front.to_data(),
            "victims": [v.to_data() for v in sandwich.victims],
            "backrun": back.to_data(),
            "profit_token": sandwich.profit_token,
            "profit_amount": sandwich.profit_amount,
            "error": None,
        },
        severity="medium",
    )


def arbitrage_detection(build: _Builder, arb: Arbitrage) -> Detection:
    first = arb.swaps[0]
    return build.make(
        "arbitrage",
        first,
        (first.tx_hash,),
        {
            "tx_position": first.tx_position,
            "account": arb.account,
            "protocols": sorted({s.protocol for s in arb.swaps}),
            "pools": [s.pool for s in arb.swaps],
            "tokens": [first.token_in, *(s.token_out for s in arb.swaps)],
            "swaps": [s.to_data() for s in arb.swaps],
            "profit_token": arb.profit_token,
            "start_amount": arb.start_amount,
            "end_amount": arb.end_amount,
            "profit_amount": arb.profit_amount,
            "reverted": arb.error is not None,
            "error": arb.error,
        },
    )


def liquidation_detection(build: _Builder, liq: Liquidation) -> Detection:
    return build.make(
        "liquidation",
        liq,
        (liq.tx_hash,),
        {
            "tx_position": liq.tx_position,
            "trace_address": list(liq.trace_address),
            "protocol": liq.protocol,
            "liquidated_user": liq.liquidated_user,
            "liquidator": liq.liquidator,
            "debt_token": liq.debt_token,
            "debt_amount": liq.debt_amount,
            "collateral_token": liq.collateral_token,
            "received_token": liq.received_token,
            "received_amount": liq.received_amount,
            "error": liq.error,
        },
    )


def backrun_detection(build: _Builder, backrun: Backrun) -> Detection:
    target, arb = backrun.target, backrun.arbitrage
    return build.make(
        "backrun",
        target,
        (target.tx_hash, arb.swaps[0].tx_hash),
        {
            "pool": target.pool,
            "target": target.to_data(),
            "account": arb.account,
            "arbitrage_pools": [s.pool for s in arb.swaps],
            "profit_token": arb.profit_token,
            "profit_amount": arb.profit_amount,
        },
    )


def swap_detection(build: _Builder, swap: SwapEvent) -> Detection:
    """A plain swap as a record (``detect-block --swaps``), not a finding of its own."""
    return build.make("swap", swap, (swap.tx_hash,), swap.to_data())


def detections_of(
    block: Block, analysis: BlockAnalysis, now_ms: int | None = None, with_swaps: bool = False
) -> list[Detection]:
    """Detections of an analysed block; ``with_swaps`` adds one record per swap first."""
    build = _Builder(block, now_ms, analysis.path)
    return [
        *(swap_detection(build, s) for s in (analysis.swaps if with_swaps else ())),
        *(sandwich_detection(build, s) for s in analysis.sandwiches),
        *(arbitrage_detection(build, a) for a in analysis.arbitrages),
        *(liquidation_detection(build, liq) for liq in analysis.liquidations),
        *(backrun_detection(build, b) for b in analysis.backruns),
    ]


def detect_block(
    block: Block, now_ms: int | None = None, factories: AmmFactories = BUNDLED
) -> list[Detection]:
    """Sandwiches, arbitrages and liquidations in ``block`` (``detected_ms`` is ``now_ms``, or
    the block's first-seen time so a replay gives identical records). ``factories`` names the
    exchange of each pool (the user's factory file added to the bundled one)."""
    return detections_of(block, analyze_block(block, factories), now_ms)
