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
from operators.mev.builders import Payment, block_payments, bundled_builders, extra_text
from operators.mev.classify import frames_by_tx
from operators.mev.jit import JitLiquidity, PositionCall, find_jit
from operators.mev.liquidations import block_liquidations
from operators.mev.logs import block_liquidations_from_logs, block_swaps_from_logs, has_logs
from operators.mev.model import Liquidation, NftTrade, SwapEvent
from operators.mev.nft_trades import block_nft_trades
from operators.mev.pools import BUNDLED, AmmFactories
from operators.mev.private import PRIVATE, UNKNOWN, private_status, share
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
    # Each tx's payment to the fee recipient, and the builder the block names (builders.py).
    payments: list[Payment] = field(default_factory=list)
    builder: str | None = None
    jit: list[JitLiquidity] = field(default_factory=list)
    nft_trades: list[NftTrade] = field(default_factory=list)


# Chains whose blocks are in one sequencer's order (first come, first served on Arbitrum; the
# OP-stack sequencer on OP Mainnet and Base): an arbitrage right after another account's swap is
# a back-run of it, so those blocks also report back-runs (operators/mev/backruns.py).
SEQUENCER_CHAINS = frozenset({42161, 42170, 421614, 10, 8453, 84532, 11155420})


def _is_address(text: str) -> bool:
    return len(text) == 42 and text.startswith("0x")


def _with_exchange(factories: AmmFactories, chain_id: int, swap: SwapEvent) -> SwapEvent:
    if not (_is_address(swap.token_in) and _is_address(swap.token_out)):
        return swap  # a frame without a callee (malformed traces) names no token to derive from
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
    return _analysis(
        block,
        swaps,
        block_liquidations(frames),
        block_payments(block, frames),
        backruns,
        jit=find_jit(frames, swaps, block.chain_id, factories),
        nft_trades=block_nft_trades(frames),
    )


def analyze_block_logs(
    block: Block, factories: AmmFactories = BUNDLED, backruns: bool | None = None
) -> BlockAnalysis:
    swaps = [_with_exchange(factories, block.chain_id, s) for s in block_swaps_from_logs(block)]
    liquidations = block_liquidations_from_logs(block)
    payments = block_payments(block, {})
    return _analysis(block, swaps, liquidations, payments, backruns, path="logs")


def _analysis(
    block: Block,
    swaps: list[SwapEvent],
    liquidations: list[Liquidation],
    payments: list[Payment],
    backruns: bool | None,
    *,
    path: str = "traces",
    jit: list[JitLiquidity] | None = None,
    nft_trades: list[NftTrade] | None = None,
) -> BlockAnalysis:
    """What the detectors find among a block's swaps, whichever way they were classified."""
    arbitrages = find_arbitrages(swaps)
    return BlockAnalysis(
        swaps=swaps,
        liquidations=liquidations,
        sandwiches=find_sandwiches(swaps),
        arbitrages=arbitrages,
        path=path,
        backruns=_backruns(block, swaps, arbitrages, backruns),
        payments=payments,
        builder=bundled_builders().name(block),
        jit=jit or [],
        nft_trades=nft_trades or [],
    )


def _path(trace_address: tuple[int, ...]) -> str:
    return ".".join(map(str, trace_address)) or "root"


class _Builder:
    def __init__(self, block: Block, now_ms: int | None, path: str = "traces") -> None:
        self.block = block
        self.path = path
        self.detected_ms = now_ms if now_ms is not None else block.first_seen_ms
        self.private = private_status(block)

    def private_of(self, tx_hash: str) -> str:
        return self.private.get(tx_hash, UNKNOWN)

    def leg(self, swap: SwapEvent) -> dict[str, Any]:
        """A swap of a finding with its tx's private status."""
        return {**swap.to_data(), "private": self.private_of(swap.tx_hash)}

    def make(
        self,
        kind: str,
        anchor: SwapEvent | Liquidation | PositionCall | NftTrade,
        tx_hashes: tuple[str, ...],
        data: dict[str, Any],
        severity: str = "info",
    ) -> Detection:
        """A finding keyed by the call it starts from (``anchor``)."""
        block = self.block
        key = (
            f"{block.chain_id}:{kind}:{block.number}:{anchor.tx_hash}:{_path(anchor.trace_address)}"
        )
        return self.detection(key, kind, tx_hashes, data, severity)

    def detection(
        self,
        key: str,
        kind: str,
        tx_hashes: tuple[str, ...],
        data: dict[str, Any],
        severity: str = "info",
    ) -> Detection:
        block = self.block
        return Detection(
            key=key,
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
            "frontrun": build.leg(front),
            "victims": [build.leg(v) for v in sandwich.victims],
            "backrun": build.leg(back),
            "profit_token": sandwich.profit_token,
            "profit_amount": sandwich.profit_amount,
            "layer": sandwich.layer,
            "cut": sandwich.cut,
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
            "swaps": [build.leg(s) for s in arb.swaps],
            "private": build.private_of(first.tx_hash),
            "profit_token": arb.profit_token,
            "start_amount": arb.start_amount,
            "end_amount": arb.end_amount,
            "profit_amount": arb.profit_amount,
            "reverted": arb.error is not None,
            "error": arb.error,
        },
    )


def call_detection(build: _Builder, kind: str, event: Liquidation | NftTrade) -> Detection:
    """A finding of one call (a liquidation, an NFT sale): the event's fields, but its tx hash
    (the finding's only tx), and the tx's private status."""
    data = msgspec.structs.asdict(event)
    del data["tx_hash"]
    data["trace_address"] = list(event.trace_address)
    data["private"] = build.private_of(event.tx_hash)
    return build.make(kind, event, (event.tx_hash,), data)


def _payment_data(build: _Builder, analysis: BlockAnalysis) -> dict[str, Any]:
    block = build.block
    return {
        "builder": analysis.builder,
        "fee_recipient": block.miner,
        "extra_data": extra_text(block.extra_data) or None,
    }


def builder_payment_detections(build: _Builder, analysis: BlockAnalysis) -> list[Detection]:
    """Per tx paying the coinbase directly, per MEV bundle (a finding's searcher txs), per block."""
    block = build.block
    prefix = f"{block.chain_id}:builder_payment:{block.number}"
    who = _payment_data(build, analysis)
    by_tx = {p.tx_hash: p for p in analysis.payments}

    def make(key: str, scope: str, payments: list[Payment], extra: dict[str, Any]) -> Detection:
        return build.detection(
            key,
            "builder_payment",
            tuple(p.tx_hash for p in payments),
            {
                "scope": scope,
                **who,
                "coinbase_transfer": sum(p.coinbase_transfer for p in payments),
                # None when no receipt told a gas price (trace-only blocks)
                "priority_fee": None
                if all(p.priority_fee is None for p in payments)
                else sum(p.priority_fee or 0 for p in payments),
                "total": sum(p.total for p in payments),
                **extra,
            },
        )

    out = [
        make(
            f"{prefix}:{p.tx_hash}:tx",
            "tx",
            [p],
            {**p.to_data(), "private": build.private_of(p.tx_hash)},
        )
        for p in analysis.payments
        if p.coinbase_transfer > 0
    ]
    bundles: list[tuple[str, SwapEvent | Liquidation, list[str]]] = [
        *(
            ("sandwich", s.frontrun, [s.frontrun.tx_hash, s.backrun.tx_hash])
            for s in analysis.sandwiches
        ),
        *(("arbitrage", a.swaps[0], [a.swaps[0].tx_hash]) for a in analysis.arbitrages),
        *(("liquidation", liq, [liq.tx_hash]) for liq in analysis.liquidations),
    ]
    for finding, anchor, hashes in bundles:
        paid = [by_tx[h] for h in dict.fromkeys(hashes) if h in by_tx]
        if not paid:
            continue
        key = f"{prefix}:{anchor.tx_hash}:{finding}.{_path(anchor.trace_address)}"
        out.append(
            make(key, "bundle", paid, {"finding": finding, "txs": [p.to_data() for p in paid]})
        )
    if analysis.payments:
        out.append(
            make(
                f"{prefix}:{block.hash}:block",
                "block",
                analysis.payments,
                {"txs_paying_coinbase": sum(p.coinbase_transfer > 0 for p in analysis.payments)},
            )
        )
    return out


def _position(call: PositionCall, build: _Builder) -> dict[str, Any]:
    return {
        "tx_hash": call.tx_hash,
        "tx_position": call.tx_position,
        "trace_address": list(call.trace_address),
        "tick_lower": call.tick_lower,
        "tick_upper": call.tick_upper,
        "liquidity": call.liquidity,
        "amount0": call.amount0,
        "amount1": call.amount1,
        "private": build.private_of(call.tx_hash),
    }


def jit_detection(build: _Builder, jit: JitLiquidity) -> Detection:
    mint = jit.mint
    return build.make(
        "jit_liquidity",
        mint,
        _unique([mint.tx_hash, *(v.tx_hash for v in jit.victims), jit.burn.tx_hash]),
        {
            "lp": jit.lp,
            "pool": jit.pool,
            "protocol": "uniswap_v3",
            "fee_tier": jit.fee_tier,
            "token0": jit.token0,
            "token1": jit.token1,
            "mint": _position(mint, build),
            "burn": _position(jit.burn, build),
            "collected0": jit.collected0,
            "collected1": jit.collected1,
            "fee0": jit.fee0,
            "fee1": jit.fee1,
            "volume0": jit.volume0,
            "volume1": jit.volume1,
            "share": jit.share,
            "victims": [build.leg(v) for v in jit.victims],
        },
        severity="medium",
    )


def _searcher_txs(analysis: BlockAnalysis) -> set[str]:
    """The txs of the block's MEV takers: sandwich legs, arbitrages, liquidations (not victims)."""
    return {
        *(tx for s in analysis.sandwiches for tx in (s.frontrun.tx_hash, s.backrun.tx_hash)),
        *(a.swaps[0].tx_hash for a in analysis.arbitrages),
        *(liq.tx_hash for liq in analysis.liquidations),
        *(tx for j in analysis.jit for tx in (j.mint.tx_hash, j.burn.tx_hash)),
    }


def private_flow_detection(build: _Builder, analysis: BlockAnalysis) -> Detection | None:
    """The block's share of private txs and of private MEV txs (annotated blocks only)."""
    block = build.block
    if not build.private:
        return None
    mev = _searcher_txs(analysis)
    return build.detection(
        f"{block.chain_id}:private_flow:{block.number}:{block.hash}:root",
        "private_flow",
        tuple(h for h, s in build.private.items() if s == PRIVATE),
        {
            "txs": len(build.private),
            **share(build.private.values()),
            "mev_txs": len(mev),
            "mev": share(build.private_of(h) for h in sorted(mev)),
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
    flow = private_flow_detection(build, analysis)
    return [
        *(swap_detection(build, s) for s in (analysis.swaps if with_swaps else ())),
        *(sandwich_detection(build, s) for s in analysis.sandwiches),
        *(arbitrage_detection(build, a) for a in analysis.arbitrages),
        *(call_detection(build, "liquidation", liq) for liq in analysis.liquidations),
        *(call_detection(build, "nft_trade", t) for t in analysis.nft_trades),
        *(backrun_detection(build, b) for b in analysis.backruns),
        *(jit_detection(build, j) for j in analysis.jit),
        *builder_payment_detections(build, analysis),
        *((flow,) if flow is not None else ()),
    ]


def detect_block(
    block: Block, now_ms: int | None = None, factories: AmmFactories = BUNDLED
) -> list[Detection]:
    """Sandwiches, arbitrages and liquidations in ``block`` (``detected_ms`` is ``now_ms``, or
    the block's first-seen time so a replay gives identical records). ``factories`` names the
    exchange of each pool (the user's factory file added to the bundled one)."""
    return detections_of(block, analyze_block(block, factories), now_ms)
