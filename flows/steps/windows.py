"""Mempool detection in event-time session windows: replacement / gas war (per sender), sandwich
attempts (per chain) and frontrun copies (per target); and the warning for pools of unknown
factories, which those detectors cannot see."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import windowing as win

from flows.config import DetectConfig
from flows.steps.checked import Checked
from flows.steps.frozen_state import freeze, stateful_flat_map, thaw
from flows.wiring.operators import amm_factories
from operators.clock import now_ms
from operators.metrics import LATE_MINED, UNKNOWN_POOLS
from operators.mev.mempool import FrontrunCopyDetector, SandwichAttemptDetector
from operators.mev.mempool.frontrun import window_key as frontrun_key
from operators.mev.mempool.sandwich_attempt import window_key as sandwich_key
from operators.mev.pools import AmmFactories
from operators.records import DeadLetter, Detection, EnrichedTx
from operators.replacement import SenderBucket, sender_key

log = logging.getLogger(__name__)


def _event_time(first_seen_ms: Callable[[Any], int]) -> Callable[[Any], datetime]:
    """Event time of an item, clamped to now: a clock ahead of ours must not make good items late."""

    def get(item: Any) -> datetime:
        return datetime.fromtimestamp(min(first_seen_ms(item), now_ms()) / 1000.0, tz=UTC)

    return get


class _SightingTime:
    """Event time of a window's item: a pending tx's first sighting; a mined sighting is timed no
    earlier than the newest pending sighting plus the wall time since it arrived. A block bundle
    (traces, receipts) may take a loaded node longer than the watermark wait to fetch, and a
    mined sighting turned away as late would leave its txs pairable in the window."""

    def __init__(self) -> None:
        self.newest_ms = 0
        self.newest_at_ms = 0

    def __call__(self, etx: EnrichedTx) -> int:
        now = now_ms()
        if etx.tx.block_number is None:
            if etx.tx.first_seen_ms > self.newest_ms:
                self.newest_ms, self.newest_at_ms = etx.tx.first_seen_ms, now
            return etx.tx.first_seen_ms
        if not self.newest_ms:
            return etx.tx.first_seen_ms
        return max(etx.tx.first_seen_ms, self.newest_ms + now - self.newest_at_ms)


class MempoolDetector(Protocol):
    """A per-window state machine over pending txs (operators/replacement, operators/mev/mempool)."""

    def on_tx(self, etx: EnrichedTx, now_ms: int) -> list[Detection]: ...

    def merge(self, other: Any) -> None: ...


class _DetectorWindow(win.WindowLogic[EnrichedTx, Detection, bytes]):
    def __init__(self, detector: MempoolDetector) -> None:
        self.detector = detector

    def on_value(self, value: EnrichedTx) -> Iterable[Detection]:
        return self.detector.on_tx(value, now_ms())

    def on_merge(self, original: _DetectorWindow) -> Iterable[Detection]:
        self.detector.merge(original.detector)
        return ()

    def on_close(self) -> Iterable[Detection]:
        # Detectors that hold a finding until they know more (frontrun copies) decide it now.
        close = getattr(self.detector, "on_close", None)
        return close() if close is not None else ()

    def snapshot(self) -> bytes:
        return freeze(self.detector)


@operator
def mempool_window(
    step_id: str,
    etxs: Stream[EnrichedTx],
    key: Callable[[EnrichedTx], str],
    new_detector: Callable[[], MempoolDetector],
    gap_s: float,
    watermark_wait_s: float,
) -> Checked[Detection]:
    """Runs a mempool detector in an event-time session window per ``key``.

    A session stays open while its key keeps receiving txs within ``gap_s``, so the window
    bounds the detector's state; detectors emit the moment a finding completes (unordered
    mode), not when the window closes. Mined sightings go to the same windows, keyed the same
    way, so a tx seen mined (or replaced by one mined) leaves the detector's state at once.
    Pending items behind the watermark become dead letters with the reason ``late``: the tx
    itself still reaches every other output. Mined sightings are timed on arrival, so they are
    not late (``scorpius_mempool_late_mined`` counts any that still are).
    """
    keyed = op.key_on("key", etxs, key)
    clock = win.EventClock(
        _event_time(_SightingTime()), wait_for_system_duration=timedelta(seconds=watermark_wait_s)
    )
    windower = win.SessionWindower(gap=timedelta(seconds=gap_s))

    def build(resume: bytes | None) -> _DetectorWindow:
        return _DetectorWindow(thaw(resume) if resume is not None else new_detector())

    out = win.window("window", keyed, clock, windower, build, ordered=False)
    detections = op.map("unkey", out.down, lambda kv: kv[1][1])

    def late_letter(kv: tuple[str, tuple[int, EnrichedTx]]) -> DeadLetter:
        etx = kv[1][1]
        return DeadLetter(
            stage=step_id.rsplit(".", 1)[-1],
            reason=f"late: first seen {etx.tx.first_seen_ms} is behind the window's watermark",
            payload=etx.tx.hash,
            source=etx.tx.source,
            chain_id=etx.tx.chain_id,
            at_ms=now_ms(),
        )

    late = op.branch("late_pending", out.late, lambda kv: kv[1][1].tx.block_number is None)
    op.inspect("late_mined", late.falses, lambda _s, _kv: LATE_MINED.labels(step_id).inc())
    return Checked(detections, op.map("late", late.trues, late_letter))


def unknown_pools_line(etx: EnrichedTx) -> str:
    """The warning for a chain whose pending swaps name pools of no known factory."""
    swap = etx.swaps[0]
    family = "v3" if swap.fees else "v2"
    return (
        f"chain {etx.tx.chain_id}: pending swaps through router {swap.router} ({swap.protocol}) "
        f"trade on pools of a {family} factory Scorpius does not know, so the sandwich-attempt "
        f"and sandwichable-victim detectors skip them (counted in "
        f"scorpius_mempool_unknown_pools). Set SCORPIUS_DETECT_AMM_FACTORIES to a JSON file "
        f'shaped like operators/mev/data/amm_factories.json with, under "{etx.tx.chain_id}", '
        f"the factory address and pool init code hash ("
        + (
            '"v3": {"factory": ..., "init_code_hash": ...}'
            if family == "v3"
            else f'"v2": {{"<exchange>": {{"factory": ..., "init_code_hash": ...}}}}, '
            f'"routers": {{"{swap.router}": "<exchange>"}}'
        )
        + ")."
    )


@operator
def warn_unknown_pools(
    step_id: str, etxs: Stream[EnrichedTx], factories: AmmFactories
) -> Stream[str]:
    """Pending swaps whose pools no known factory made: counted, and warned about once per chain
    (the mempool detectors cannot see them: a blind spot must not be silent)."""

    def blind(etx: EnrichedTx) -> bool:
        chain = etx.tx.chain_id
        return etx.tx.block_number is None and any(
            not factories.hops(chain, swap) for swap in etx.swaps
        )

    unknown = op.filter("unknown", etxs, blind)

    def step(warned: bool | None, etx: EnrichedTx) -> tuple[bool, list[str]]:
        UNKNOWN_POOLS.labels(str(etx.tx.chain_id)).inc()
        if warned:
            return True, []
        line = unknown_pools_line(etx)
        log.warning("%s", line)
        return True, [line]

    keyed = op.key_on("by_chain", unknown, lambda e: str(e.tx.chain_id))
    return op.key_rm("unkey", stateful_flat_map("once", keyed, step))


@operator
def mempool_detect(step_id: str, etxs: Stream[EnrichedTx], cfg: DetectConfig) -> Checked[Detection]:
    """Replacement / gas war (per sender), sandwich attempts (per chain), frontrun copies (per
    target), each in its own event-time windows (senders and targets in buckets per chain).
    Pending swaps on pools of unknown factories are warned about once per chain."""
    wait = cfg.watermark_wait_s
    factories = amm_factories(cfg)
    warn_unknown_pools("unknown_pools", etxs, factories)
    replacement = mempool_window(
        "replacement",
        op.filter("has_nonce", etxs, lambda e: e.tx.nonce is not None),
        sender_key,
        lambda: SenderBucket(
            cfg.min_fee_bump,
            cfg.replacement_max_nonces,
            int(cfg.replacement_window_s * 1000),
            cfg.replacement_max_senders,
        ),
        cfg.replacement_window_s,
        wait,
    )
    sandwich = mempool_window(
        "sandwich_attempt",
        etxs,
        sandwich_key,
        lambda: SandwichAttemptDetector(factories=factories, max_pending=cfg.sandwich_max_pending),
        cfg.mempool_window_s,
        wait,
    )
    frontrun = mempool_window(
        "frontrun_copy",
        etxs,
        frontrun_key,
        lambda: FrontrunCopyDetector(
            max_originals=cfg.frontrun_max_originals, hold_ms=int(cfg.frontrun_hold_s * 1000)
        ),
        cfg.mempool_window_s,
        wait,
    )
    return Checked(
        op.merge("detections", replacement.oks, sandwich.oks, frontrun.oks),
        op.merge("errs", replacement.errs, sandwich.errs, frontrun.errs),
    )
