"""The flow's source, chosen by configuration: replay (default), rpc, kafka, archive, dumpster."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.replay import Pacing, ReplaySource
from connectors.stoppable import StoppableSource
from flows.config import Config, ConfigError, setting_name
from flows.steps.dedup import dedup_items
from operators.bounds import TimeBounds
from operators.records import DeadLetter, RawItem, Tx

# Each source's connector is imported when the configuration selects it: the others pull in
# heavy modules (eth_account, confluent_kafka, deltalake, ...) that start-up need not pay for.
if TYPE_CHECKING:
    from connectors.archive_replay import ArchiveReplaySource


def _when(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not an ISO date or time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def archive_source(cfg: Config) -> ArchiveReplaySource:
    """The Time Machine: archived transactions (already normalized ``Tx``) in time order."""
    from connectors.archive_query import Filters
    from connectors.archive_replay import ArchiveReplaySource

    filters = Filters(
        start=_when(cfg.source.archive_start, setting_name("source.archive_start")),
        end=_when(cfg.source.archive_end, setting_name("source.archive_end")),
    )
    return ArchiveReplaySource(
        cfg.source.archive_url or cfg.output.archive,
        filters,
        storage_options=cfg.storage.archive_storage_options(),
    )


def raw_input(
    step_id: str, flow: Dataflow, cfg: Config, stop: threading.Event | None = None
) -> Stream[RawItem | Tx | DeadLetter]:
    """What the source delivers: raw JSON-RPC items, or ``Tx`` already normalized (archive).
    Once ``stop`` is set, every source partition ends (a graceful stop, flows/shutdown.py)."""
    kind = cfg.source.kind
    if kind == "rpc":
        return live_input(step_id, flow, cfg, stop)
    if kind == "kafka":
        from flows.steps.kafka import kafka_raw_input

        raws, dead = kafka_raw_input(step_id, flow, cfg.kafka, stop)
        return op.merge(f"{step_id}_all", raws, dead)
    source: Any
    if kind == "replay":
        pacing = Pacing(cfg.source.replay_speed, cfg.source.replay_rate, cfg.source.replay_rebase)
        source = ReplaySource(
            cfg.source.replay_path,
            pacing,
            cfg.source.replay_partitions,
            TimeBounds(int(cfg.limits.max_clock_skew_s * 1000)),
        )
    elif kind == "archive":
        source = archive_source(cfg)
    elif kind == "dumpster":
        if not cfg.source.dumpster_paths:
            raise ConfigError(
                f"{setting_name('source.kind')}=dumpster: set {setting_name('source.dumpster_paths')}"
            )
        from connectors.mempool_dumpster import MempoolDumpsterSource

        source = MempoolDumpsterSource(cfg.source.dumpster_paths)
    else:
        raise ConfigError(
            f"{setting_name('source.kind')}: unknown source {kind!r} "
            "(replay, rpc, kafka, archive, dumpster)"
        )
    return op.input(step_id, flow, source if stop is None else StoppableSource(source, stop))


def live_input(
    step_id: str, flow: Dataflow, cfg: Config, stop: threading.Event | None = None
) -> Stream[RawItem | DeadLetter]:
    """Every configured (chain, URL) at once, deduped across URLs and reconnects."""
    from flows.wiring.rpc import endpoints_from_config, rpc_source, url_settings

    endpoints = endpoints_from_config(cfg.rpc)
    if not endpoints:
        *nodes, extra, arbitrum_feed, op_flash, base_flash = url_settings()
        raise ConfigError(
            f"{setting_name('source.kind')}=rpc: no node URLs; set {', '.join(nodes)}, {extra} "
            f"or an L2 feed ({arbitrum_feed}, {op_flash}, {base_flash})"
        )
    raw = op.input(step_id, flow, rpc_source(endpoints, cfg.rpc, stop))
    return dedup_items(f"{step_id}_dedup", raw, cfg.rpc.dedup_ttl_s, cfg.rpc.dedup_max_per_shard)
