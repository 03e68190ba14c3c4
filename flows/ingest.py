"""The ingest job: the configured source (live RPC nodes, or a replay) to Kafka ``tx_raw``.

``python -m bytewax.run flows.ingest:flow`` (or ``scorpius kafka ingest``). In production
ingestion and processing scale separately: this job fills ``tx_raw``; processing workers read it
with ``SCORPIUS_SOURCE_KIND=kafka``, one or more Kafka partitions each. The source is the
processing flow's own (``flows.wiring.sources.raw_input``), so both read RPC or replay the same way;
what a source could not read goes to the dead-letter topic.
"""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source

from flows.config import Config, ConfigError, load_config, setting_name
from flows.steps.kafka import kafka_output
from flows.wiring.sources import raw_input
from operators.records import DeadLetter, RawItem


def build_ingest_flow(cfg: Config, source: Source[RawItem | DeadLetter] | None = None) -> Dataflow:
    """The ingest dataflow; ``source`` replaces the configured one (tests, backfills)."""
    if source is None and cfg.source.kind in ("kafka", "archive"):
        raise ConfigError(
            f"{setting_name('source.kind')}={cfg.source.kind}: the ingest job writes raw items "
            "to tx_raw; "
            "use rpc, replay or dumpster"
        )
    flow = Dataflow("scorpius_ingest")
    items: Stream[Any] = (
        op.input("source", flow, source) if source else raw_input("source", flow, cfg)
    )
    split = op.branch("is_raw", items, lambda item: isinstance(item, RawItem))
    kafka_output("tx_raw", split.trues, cfg.kafka, cfg.kafka.topic_raw)
    kafka_output("dead_letters", split.falses, cfg.kafka, cfg.kafka.topic_dead_letters)
    return flow


def __getattr__(name: str) -> Dataflow:
    # `flow` is built on first access so importing this module never reads the environment.
    if name == "flow":
        return build_ingest_flow(load_config())
    raise AttributeError(name)
