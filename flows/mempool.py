"""The Scorpius dataflow: ``python -m bytewax.run flows.mempool:flow`` (config from the environment).

source ─► normalize ─► enrich ─► detect (windows) ─► rules ─► sinks
              └──────── errs of every stage ──────────────► dead letters
"""

from __future__ import annotations

import threading
from pathlib import Path

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow, Stream

from connectors.alerts.log import JsonlLog
from connectors.alerts.sink import build_alert_sink, for_alert_sink
from connectors.clickhouse.sink import write_clickhouse
from connectors.kafka import kafka_output
from connectors.local import SummarySink, as_line, for_summary, jsonl_sink
from connectors.parquet_archive import archive
from connectors.rpc import endpoints_from_config
from connectors.rpc.reserves import RpcReserves, urls_by_chain
from flows import stages
from flows.config import Config, load_config
from flows.rules import rules_engine_factory
from flows.sources import raw_input
from flows.storage import archive_sink, clickhouse_sink
from operators.alerting import console_line, to_alert
from operators.inclusion import track_inclusion
from operators.records import DeadLetter, Detection
from operators.rules.flow import rules_op


def build_flow(cfg: Config, stop: threading.Event | None = None) -> Dataflow:
    """The graph for ``cfg``; ``stop`` ends a live (rpc) source when set (embedding, tests)."""
    out = Path(cfg.output.dir)
    flow = Dataflow("scorpius")

    # source: recorded sample, live RPC nodes or Kafka tx_raw, as RawItem
    raw = raw_input("source", flow, cfg, stop)

    # normalize: RawItem → Tx (pending or mined) and Block
    norm = stages.normalize_stage("normalize", raw, cfg.limits)
    txs = op.merge("all_txs", norm.txs, stages.block_txs("mined", norm.blocks))

    # inclusion: pending tx later seen in a block (latency), reorged out, or expired
    inclusions = track_inclusion(
        "inclusion",
        op.merge("sightings", norm.txs, norm.blocks),
        cfg.rpc.pending_ttl_s,
        cfg.rpc.max_pending,
        cfg.rpc.reorg_depth,
    )

    # enrich: decoded call, swaps, labels, kind
    etxs = stages.enrich_stage("enrich", txs, cfg.enrich)

    # quote: pending swaps priced from pool reserves at the newest block (Swap.quote), and the
    # sandwichable victims among them; live nodes only (a quote needs a node to ask)
    found_parts: list[Stream[Detection]] = []
    dead_parts: list[Stream[DeadLetter]] = []
    if cfg.source.kind == "rpc":
        endpoints = endpoints_from_config(cfg.rpc)
        reserves = RpcReserves(urls_by_chain(endpoints), cfg.detect.reserves_timeout_s)
        quoted = stages.quote_stage("quote", etxs, norm.blocks, cfg.detect, reserves)
        etxs = quoted.priced
        found_parts.append(quoted.victims)
        dead_parts.append(quoted.errs)

    # detect: mempool windows (replacement per sender, sandwich attempts, frontrun copies),
    # MEV in mined blocks from their call traces, and blocks' sandwiches linked to the mempool
    # alerts that predicted them
    mempool = stages.mempool_detect("mempool_mev", etxs, cfg.detect)
    mined = stages.block_detect("block_mev", norm.blocks, stages.amm_factories(cfg.detect))
    found = op.merge("found", mempool.oks, mined.oks, *found_parts)
    predicted = stages.link_predictions(
        "predicted", found, cfg.detect.prediction_horizon_s, cfg.detect.prediction_max_victims
    )
    detections = op.merge("detections", found, predicted)

    # rules: user WASM rules over every tx, batched and indexed
    rules = rules_op(
        "rules", etxs, rules_engine_factory(cfg.rules, cfg.kafka), cfg.rules.batch_size
    )

    # alerts: every detection and rule match becomes an alert
    alerts = op.map("to_alert", op.merge("alertable", detections, rules.matches), to_alert)

    # dead letters of every stage
    dead = op.merge("dead_letters", norm.errs, mempool.errs, mined.errs, rules.errs, *dead_parts)

    # sinks: Kafka topics (when publishing), Parquet archive, ClickHouse (when configured), local JSON lines and console
    if cfg.kafka.publish:
        kafka_output("kafka_enriched", etxs, cfg.kafka, cfg.kafka.topic_enriched)
        kafka_output("kafka_bundles", detections, cfg.kafka, cfg.kafka.topic_bundles)
        kafka_output("kafka_alerts", alerts, cfg.kafka, cfg.kafka.topic_alerts)
        kafka_output("kafka_dead", dead, cfg.kafka, cfg.kafka.topic_dead_letters)
    parts = cfg.output.sink_partitions
    archive("archive_txs", etxs, archive_sink(cfg, "transactions", parts))
    archive("archive_blocks", norm.blocks, archive_sink(cfg, "blocks", parts))
    archive("archive_detections", detections, archive_sink(cfg, "detections", parts))
    archive("archive_rule_matches", rules.matches, archive_sink(cfg, "rule_matches", parts))
    archive("archive_alerts", alerts, archive_sink(cfg, "alerts", parts))
    archive("archive_dead", dead, archive_sink(cfg, "dead_letters", parts))
    clickhouse = clickhouse_sink(cfg, parts)
    if clickhouse is not None:
        analytics = op.merge(
            "analytics", etxs, norm.blocks, detections, rules.matches, alerts, dead
        )
        write_clickhouse("clickhouse", analytics, clickhouse)
    op.output(
        "detections_out",
        op.map("det_line", detections, as_line),
        jsonl_sink(out / "detections.jsonl"),
    )
    op.output("alerts_out", op.map("alert_line", alerts, as_line), jsonl_sink(out / "alerts.jsonl"))
    if cfg.output.tx_lines:
        op.output("txs_out", op.map("tx_line", etxs, as_line), jsonl_sink(out / "tx_enriched.jsonl"))
    op.output(
        "dead_out", op.map("dead_line", dead, as_line), jsonl_sink(out / "dead_letters.jsonl")
    )
    # Delivery runs on the sink's own threads; its dead letters go to their own file because the
    # delivery threads write after the flow's FileSink may have truncated on resume.
    deliver = build_alert_sink(
        cfg.alerts, out, dead_letter=JsonlLog(out / "alert_dead_letters.jsonl").write
    )
    if deliver is not None:
        op.output("alerts_deliver", op.map("for_alert_sink", alerts, for_alert_sink), deliver)
    if cfg.output.console:
        op.output("console", op.map("console_line", alerts, console_line), StdOutSink())

    # run summary: counts per stage, added up once per batch
    decoded = op.filter("decoded", etxs, lambda etx: etx.call is not None)
    counts = op.merge(
        "counts",
        stages.count("count_read", raw, "read"),
        # enrich is one-to-one, so its output counts what was normalized, right before the sinks
        stages.count("count_norm", etxs, "normalized", ("sink", lambda e: e.tx.first_seen_ms)),
        stages.count("count_blocks", norm.blocks, "blocks"),
        stages.count_dead_letters("count_dead", dead),
        stages.count("count_decoded", decoded, "decoded"),
        stages.count_detections("count_detected", detections),
        stages.count("count_rules", rules.matches, "rule_matches"),
        stages.count("count_alerts", alerts, "alerts", ("alert", lambda a: a.first_seen_ms)),
        stages.count("count_inclusions", inclusions, "inclusions"),
    )
    op.output(
        "summary",
        op.map("for_summary", counts, for_summary),
        SummarySink(out / "summary.json"),
    )
    return flow


def __getattr__(name: str) -> Dataflow:
    # `flow` is built on first access so importing this module never reads the environment.
    if name == "flow":
        return build_flow(load_config())
    raise AttributeError(name)
