"""The boxes of the pipeline diagram as bytewax composite operators.

Each wraps pure logic from ``operators/`` and returns its good items and its dead letters as named
streams (errors are data). Counting taps feed Prometheus and the run summary once per batch.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import windowing as win

from flows.config import ConfigError, DetectConfig, EnrichConfig, LimitsConfig, RpcConfig
from operators.bounds import TimeBounds
from operators.dedup import SeenSet
from operators.enrich import DEFAULT_ENRICHER, Enricher
from operators.l2 import FLASHBLOCK_KIND
from operators.metrics import (
    ALERT_REPEATS,
    DEAD_LETTERS,
    DETECTIONS,
    END_TO_END_SECONDS,
    LATE_MINED,
    STAGE_ITEMS,
    UNKNOWN_POOLS,
    reason_class,
)
from operators.mev import detect_block
from operators.mev.mempool import (
    FrontrunCopyDetector,
    SandwichableVictimDetector,
    SandwichAttemptDetector,
)
from operators.mev.mempool.frontrun import window_key as frontrun_key
from operators.mev.mempool.predictions import KINDS as PREDICTION_KINDS
from operators.mev.mempool.predictions import MAX_VICTIMS, SandwichPredictions
from operators.mev.mempool.predictions import window_key as prediction_key
from operators.mev.mempool.reserves import FetchReserves, ReservesAtHead, ReservesUnavailable
from operators.mev.mempool.sandwich_attempt import window_key as sandwich_key
from operators.mev.mempool.sandwichable import VictimGate
from operators.mev.pools import BUNDLED, AmmFactories
from operators.mev.private import PrivateFlowTracker, WatchState
from operators.normalize import SizeLimits, normalize_item
from operators.records import (
    Alert,
    Block,
    DeadLetter,
    Detection,
    EnrichedTx,
    Inclusion,
    RawItem,
    Tx,
)
from operators.replacement import SenderBucket, sender_key

X = TypeVar("X")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked(Generic[X]):
    """A stage's result: what it produced, and what it could not handle."""

    oks: Stream[X]
    errs: Stream[DeadLetter]


@dataclass(frozen=True)
class Normalized:
    txs: Stream[Tx]
    blocks: Stream[Block]
    errs: Stream[DeadLetter]


def _now_ms() -> int:
    return int(time.time() * 1000)


# First-seen → output times above this are replays of history, not latencies.
MAX_LATENCY_S = 3600.0


@operator
def count(
    step_id: str,
    up: Stream[Any],
    stage: str,
    latency: tuple[str, Callable[[Any], int]] | None = None,
) -> Stream[tuple[str, int]]:
    """Counts a stream per batch: Prometheus ``scorpius_stage_items`` and ``(stage, n)`` items.

    With ``latency=(output, first_seen_ms)`` it also observes first-seen → here in
    ``scorpius_end_to_end_seconds{output}``, skipping times no live item could have (a replay of
    history without ``replay_rebase``)."""
    counter = STAGE_ITEMS.labels(stage, "ok")
    histogram = END_TO_END_SECONDS.labels(latency[0]) if latency else None
    first_seen = latency[1] if latency else None

    def tally(batch: list[Any]) -> list[tuple[str, int]]:
        counter.inc(len(batch))
        if histogram is not None and first_seen is not None:
            now = time.time()
            for item in batch:
                seconds = now - first_seen(item) / 1000.0
                if 0.0 <= seconds <= MAX_LATENCY_S:
                    histogram.observe(seconds)
        return [(stage, len(batch))]

    return op.flat_map_batch("tally", up, tally)


@operator
def split_errors(step_id: str, up: Stream[X | DeadLetter]) -> Checked[X]:
    branch = op.branch("is_ok", up, lambda item: not isinstance(item, DeadLetter))
    return Checked(branch.trues, branch.falses)  # type: ignore[arg-type]


def size_limits(cfg: LimitsConfig) -> SizeLimits:
    return SizeLimits(
        tx_payload_bytes=cfg.max_tx_payload_bytes,
        block_payload_bytes=cfg.max_block_payload_bytes,
        calldata_bytes=cfg.max_calldata_bytes,
        dead_letter_payload_bytes=cfg.dead_letter_payload_bytes,
    )


def normalizer(
    limits: LimitsConfig,
) -> Callable[[RawItem | Tx | DeadLetter], Iterable[Tx | Block | DeadLetter]]:
    """The normalize step's function: a RawItem's records under the size and clock ``limits``;
    a ``Tx`` (archived) or a dead letter passes through unchanged."""
    sizes = size_limits(limits)
    bounds = TimeBounds(int(limits.max_clock_skew_s * 1000))

    def run(item: RawItem | Tx | DeadLetter) -> Iterable[Tx | Block | DeadLetter]:
        if isinstance(item, RawItem):
            return normalize_item(item, sizes, bounds, _now_ms())
        return (item,)

    return run


@operator
def normalize_stage(
    step_id: str, raw: Stream[RawItem | Tx | DeadLetter], limits: LimitsConfig = LimitsConfig()
) -> Normalized:
    """RawItem → Tx and Block; anything malformed or out of range (or already a dead letter) →
    errs. Archived transactions arrive as ``Tx`` and pass through unchanged. Size and clock
    limits: ``limits``."""
    checked = split_errors("split", op.flat_map("normalize", raw, normalizer(limits)))
    kinds = op.branch("is_tx", checked.oks, lambda item: isinstance(item, Tx))
    return Normalized(kinds.trues, kinds.falses, checked.errs)  # type: ignore[arg-type]


def enricher_for(cfg: EnrichConfig) -> Enricher:
    """The bundled selectors and labels, and the user's folders when set."""
    if cfg.labels_dir or cfg.abi_dir:
        return Enricher.load(cfg.labels_dir or None, cfg.abi_dir or None)
    return DEFAULT_ENRICHER


@operator
def enrich_stage(step_id: str, txs: Stream[Tx], cfg: EnrichConfig) -> Stream[EnrichedTx]:
    """Decoding never fails a tx: unknown calldata is the normal case, so there is no errs stream."""
    return op.map("enrich", txs, enricher_for(cfg).enrich)


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
    tracked = op.stateful_flat_map("track", op.map("by_chain", merged, keyed), step)
    return op.key_rm("unkey", tracked)


@operator
def block_txs(step_id: str, blocks: Stream[Block]) -> Stream[Tx]:
    """The transactions inside mined blocks, for the archive and the rules."""
    return op.flat_map("txs", blocks, lambda block: block.txs)


def _event_time(first_seen_ms: Callable[[Any], int]) -> Callable[[Any], datetime]:
    """Event time of an item, clamped to now: a clock ahead of ours must not make good items late."""

    def get(item: Any) -> datetime:
        return datetime.fromtimestamp(min(first_seen_ms(item), _now_ms()) / 1000.0, tz=UTC)

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
        now = _now_ms()
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


class _DetectorWindow(win.WindowLogic[EnrichedTx, Detection, MempoolDetector]):
    def __init__(self, detector: MempoolDetector) -> None:
        self.detector = detector

    def on_value(self, value: EnrichedTx) -> Iterable[Detection]:
        return self.detector.on_tx(value, _now_ms())

    def on_merge(self, original: _DetectorWindow) -> Iterable[Detection]:
        self.detector.merge(original.detector)
        return ()

    def on_close(self) -> Iterable[Detection]:
        # Detectors that hold a finding until they know more (frontrun copies) decide it now.
        close = getattr(self.detector, "on_close", None)
        return close() if close is not None else ()

    def snapshot(self) -> MempoolDetector:
        return self.detector


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

    def build(resume: MempoolDetector | None) -> _DetectorWindow:
        return _DetectorWindow(resume if resume is not None else new_detector())

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
            at_ms=_now_ms(),
        )

    late = op.branch("late_pending", out.late, lambda kv: kv[1][1].tx.block_number is None)
    op.inspect("late_mined", late.falses, lambda _s, _kv: LATE_MINED.labels(step_id).inc())
    return Checked(detections, op.map("late", late.trues, late_letter))


def amm_factories(cfg: DetectConfig) -> AmmFactories:
    """The bundled pool factories, plus the user's file when configured."""
    if not cfg.amm_factories:
        return BUNDLED
    try:
        return AmmFactories.load(cfg.amm_factories)
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"SCORPIUS_DETECT_AMM_FACTORIES={cfg.amm_factories}: {exc}") from None


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
    return op.key_rm("unkey", op.stateful_flat_map("once", keyed, step))


@operator
def dedup_alerts(
    step_id: str, alerts: Stream[Alert], window_s: float, max_keys: int, shards: int = 16
) -> Stream[Alert]:
    """Each alert key once to every sink: a rule matching a tx's pending and mined sighting, or a
    detection a recovered epoch replays, gives one alert (``scorpius_alert_repeats`` counts the
    rest). Keys are remembered ``window_s`` of alert time, at most ``max_keys`` per shard."""

    def keyed(alert: Alert) -> tuple[str, Alert]:
        return f"{alert.chain_id}:{zlib.crc32(alert.key.encode()) % shards}", alert

    def step(seen: SeenSet | None, alert: Alert) -> tuple[SeenSet, list[Alert]]:
        seen = seen or SeenSet(int(window_s * 1000), max_keys)
        if seen.first_sighting((alert.chain_id, alert.key), alert.created_ms, "") is None:
            return seen, [alert]
        ALERT_REPEATS.labels(alert.origin).inc()
        return seen, []

    return op.key_rm("unkey", op.stateful_flat_map("first", op.map("shard", alerts, keyed), step))


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


@dataclass(frozen=True)
class Quoted:
    """Every tx, pending swaps now with ``Swap.quote``; the sandwichable victims among them."""

    priced: Stream[EnrichedTx]
    victims: Stream[Detection]
    errs: Stream[DeadLetter]


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
) -> Quoted:
    """Pending swaps priced at the chain's newest block: ``Swap.quote`` set where every hop is a
    constant-product pool, and sandwichable victims judged on the same reserves.

    One state per chain: the head block and the reserves fetched at it (a block empties the
    cache, so a pool costs one eth_call per block). Other txs pass by without a hop. A node that
    cannot answer leaves the tx unquoted and turns its check into a dead letter
    (``reserves unavailable``); the tx itself goes on.
    """
    factories = amm_factories(cfg)
    split = op.branch(
        "is_pending_swap", etxs, lambda e: e.tx.block_number is None and bool(e.swaps)
    )
    heads = op.map("heads", blocks, lambda b: (b.chain_id, b.number))
    keyed = op.key_on(
        "by_chain",
        op.merge("swaps_and_heads", split.trues, heads),
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
        now = _now_ms()
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

    judged = op.key_rm("unkey", op.stateful_flat_map("quote", keyed, step))
    kinds = op.branch("is_tx", judged, lambda item: isinstance(item, EnrichedTx))
    found = split_errors("split", kinds.falses)
    return Quoted(
        op.merge("all_txs", split.falses, kinds.trues),
        found.oks,  # type: ignore[arg-type]
        found.errs,
    )


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
    out = op.key_rm("unkey", op.stateful_flat_map("link", keyed, step))
    kinds = op.branch("is_link", out, lambda item: isinstance(item, Detection))
    return Predicted(kinds.trues, kinds.falses)  # type: ignore[arg-type]


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
                    at_ms=_now_ms(),
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
                    at_ms=_now_ms(),
                )
            ]

    return split_errors("split", op.flat_map("detect", blocks, detect))


@operator
def count_detections(step_id: str, detections: Stream[Detection]) -> Stream[tuple[str, int]]:
    def tally(batch: list[Detection]) -> list[tuple[str, int]]:
        for d in batch:
            DETECTIONS.labels(d.kind, str(d.chain_id)).inc()
        STAGE_ITEMS.labels("detect", "ok").inc(len(batch))
        return [("detected", len(batch))]

    return op.flat_map_batch("tally", detections, tally)


@operator
def count_dead_letters(step_id: str, letters: Stream[DeadLetter]) -> Stream[tuple[str, int]]:
    def tally(batch: list[DeadLetter]) -> list[tuple[str, int]]:
        for letter in batch:
            DEAD_LETTERS.labels(letter.stage, reason_class(letter.reason)).inc()
            STAGE_ITEMS.labels(letter.stage, "dead_letter").inc()
        return [("dead_lettered", len(batch))]

    return op.flat_map_batch("tally", letters, tally)


@operator
def count_inclusions(step_id: str, inclusions: Stream[Inclusion]) -> Stream[tuple[str, int]]:
    """``inclusions`` and, apart, ``inclusions_included`` / ``_reorged`` / ``_expired``."""

    def tally(batch: list[Inclusion]) -> list[tuple[str, int]]:
        STAGE_ITEMS.labels("inclusions", "ok").inc(len(batch))
        by_status = Counter(f"inclusions_{record.status}" for record in batch)
        return [("inclusions", len(batch)), *by_status.items()]

    return op.flat_map_batch("tally", inclusions, tally)
