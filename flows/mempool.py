"""The Scorpius dataflow: ``python -m bytewax.run flows.mempool:flow`` (config from the environment).

source ─► normalize ─► enrich ─► detect (windows) ─► rules ─► sinks
              └──────── errs of every stage ──────────────► dead letters
"""

from __future__ import annotations

import threading
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import BranchOut

from connectors.alerts.log import JsonlLog
from connectors.alerts.sink import for_alert_sink
from connectors.local import SummarySink, as_line, for_summary, jsonl_sink
from flows.config import Config, load_config, setting_name
from flows.logs import configure_logging
from flows.shutdown import install_stop_handlers
from flows.steps.archive import archive
from flows.steps.checked import is_block, is_enriched, is_tx, split
from flows.steps.dedup import dedup_alerts
from flows.steps.detect import block_detect, is_flashblock, link_predictions, preconfirmed_detect
from flows.steps.inclusion import track_inclusion
from flows.steps.normalize import block_txs, enrich_stage, normalize_stage
from flows.steps.private import private_flow
from flows.steps.quote import quote_stage
from flows.steps.rules import rules_op
from flows.steps.tally import count, count_dead_letters, count_detections, count_inclusions
from flows.steps.windows import mempool_detect
from flows.wiring.alerts import build_alert_sink, routes_file
from flows.wiring.local import console_shows, console_sink
from flows.wiring.operators import amm_factories
from flows.wiring.rules import rules_engine_factory
from flows.wiring.sources import raw_input
from flows.wiring.storage import archive_sink, clickhouse_sink
from operators.alerting import alertable, to_alert
from operators.mev.private import is_watch_item, watch_state
from operators.records import Block, DeadLetter, Detection, EnrichedTx, RawItem, Tx


def build_flow(
    cfg: Config,
    stop: threading.Event | None = None,
    source: Source[RawItem | Tx | DeadLetter] | None = None,
) -> Dataflow:
    """The graph for ``cfg``; ``stop`` ends the source when set (signals, embedding, tests), and
    the flow then drains and finishes. ``source`` replaces the configured one (a benchmark's
    generated load)."""
    out = Path(cfg.output.dir)
    flow = Dataflow("scorpius")

    # source: recorded sample, live RPC nodes or Kafka tx_raw, as RawItem
    if source is None:
        raw = raw_input("source", flow, cfg, stop)
    else:
        raw = op.input("source", flow, source)
    # Flashblocks (L2 feeds) also arrive whole: MEV inside them before their block exists
    preconfirmed = preconfirmed_detect("preconfirmed_mev", raw)
    raw = op.filter("not_flashblocks", raw, lambda item: not is_flashblock(item))

    # the live source's watch states (connected or not) go to the private-flow step only
    watch = op.filter_map("watch_states", raw, watch_state)
    raw = op.filter("not_watch", raw, lambda item: not is_watch_item(item))

    # normalize: RawItem → Tx (pending or mined) and Block
    norm = normalize_stage("normalize", raw, cfg.limits)
    kinds: BranchOut[Tx, Block] = split("is_tx", norm.oks, is_tx)
    norm_txs, norm_blocks = kinds.trues, kinds.falses

    # private order flow: each mined tx's private status from pending sightings and watch states
    tracked: BranchOut[Block, Tx] = split(
        "private_split",
        private_flow(
            "private", norm_txs, norm_blocks, watch, cfg.detect.private_lookback_s, cfg.rpc
        ),
        is_block,
    )
    blocks, pending = tracked.trues, tracked.falses
    txs = op.merge("all_txs", pending, block_txs("mined", blocks))

    # inclusion: pending tx later seen in a block (latency), reorged out, or expired
    inclusions = track_inclusion(
        "inclusion",
        op.merge("sightings", norm_txs, norm_blocks),
        cfg.rpc.pending_ttl_s,
        cfg.rpc.max_pending,
        cfg.rpc.reorg_depth,
    )

    # enrich: decoded call, swaps, labels, kind
    etxs = enrich_stage("enrich", txs, cfg.enrich)

    # quote: pending swaps priced from pool reserves at the newest block (Swap.quote), and the
    # sandwichable victims among them; live nodes only (a quote needs a node to ask)
    found_parts: list[Stream[Detection]] = []
    dead_parts: list[Stream[DeadLetter]] = []
    if cfg.source.kind == "rpc":
        # Connectors are imported only when the configuration selects them (start-up time).
        from flows.wiring.rpc import rpc_reserves

        reserves = rpc_reserves(cfg)
        quoted = quote_stage("quote", etxs, norm_blocks, cfg.detect, reserves)
        priced: BranchOut[EnrichedTx, Detection] = split("quoted", quoted.oks, is_enriched)
        etxs = priced.trues
        found_parts.append(priced.falses)
        dead_parts.append(quoted.errs)

    # detect: mempool windows (replacement per sender, sandwich attempts, frontrun copies),
    # MEV in mined blocks from their call traces, and blocks' sandwiches linked to the mempool
    # alerts that predicted them
    mempool = mempool_detect("mempool_mev", etxs, cfg.detect)
    mined = block_detect("block_mev", blocks, amm_factories(cfg.detect))
    found = op.merge("found", mempool.oks, mined.oks, preconfirmed.oks, *found_parts)
    predicted = link_predictions(
        "predicted", found, cfg.detect.prediction_horizon_s, cfg.detect.prediction_max_victims
    )
    detections = op.merge("detections", found, predicted.links)

    # rules: user WASM rules over every tx, batched and indexed
    rules = rules_op(
        "rules",
        etxs,
        rules_engine_factory(cfg.rules, cfg.kafka, routes_file(cfg.alerts, out)),
        cfg.rules.batch_size,
    )

    # alerts: every detection and rule match becomes an alert
    alerts = dedup_alerts(
        "alert_dedup",
        op.map(
            "to_alert",
            op.filter("alertable", op.merge("alert_inputs", detections, rules.oks), alertable),
            to_alert,
        ),
        cfg.alerts.dedup_window_s,
        cfg.alerts.dedup_max_keys,
    )

    # dead letters of every stage
    dead = op.merge(
        "dead_letters",
        norm.errs, mempool.errs, mined.errs, preconfirmed.errs, rules.errs, *dead_parts,
    )  # fmt: skip

    # sinks: Kafka topics (when publishing), Delta archive, ClickHouse (when configured), local JSON lines and console
    if cfg.kafka.publish:
        from flows.steps.kafka import kafka_output

        kafka_output("kafka_enriched", etxs, cfg.kafka, cfg.kafka.topic_enriched)
        kafka_output("kafka_bundles", detections, cfg.kafka, cfg.kafka.topic_bundles)
        kafka_output("kafka_alerts", alerts, cfg.kafka, cfg.kafka.topic_alerts)
        kafka_output("kafka_dead", dead, cfg.kafka, cfg.kafka.topic_dead_letters)
    parts = cfg.output.sink_partitions
    archive("archive_txs", etxs, archive_sink(cfg, "transactions"))
    archive("archive_blocks", blocks, archive_sink(cfg, "blocks"))
    archive("archive_detections", detections, archive_sink(cfg, "detections"))
    archive("archive_rule_matches", rules.oks, archive_sink(cfg, "rule_matches"))
    archive("archive_alerts", alerts, archive_sink(cfg, "alerts"))
    archive("archive_dead", dead, archive_sink(cfg, "dead_letters"))
    clickhouse = clickhouse_sink(cfg, parts)
    if clickhouse is not None:
        from flows.steps.clickhouse import write_clickhouse

        analytics = op.merge("analytics", etxs, blocks, detections, rules.oks, alerts, dead)
        write_clickhouse("clickhouse", analytics, clickhouse)
    op.output(
        "detections_out",
        op.map("det_line", detections, as_line),
        jsonl_sink(out / "detections.jsonl"),
    )
    op.output("alerts_out", op.map("alert_line", alerts, as_line), jsonl_sink(out / "alerts.jsonl"))
    if cfg.output.tx_lines:
        op.output(
            "txs_out", op.map("tx_line", etxs, as_line), jsonl_sink(out / "tx_enriched.jsonl")
        )
    op.output(
        "dead_out", op.map("dead_line", dead, as_line), jsonl_sink(out / "dead_letters.jsonl")
    )
    op.output(
        "inclusions_out",
        op.map("inclusion_line", inclusions, as_line),
        jsonl_sink(out / "inclusions.jsonl"),
    )
    # Delivery runs on the sink's own threads; its dead letters go to their own file because the
    # delivery threads write after the flow's FileSink may have truncated on resume.
    deliver = build_alert_sink(
        cfg.alerts,
        out,
        dead_letter=JsonlLog(out / "alert_dead_letters.jsonl").write,
        kafka=cfg.kafka,
    )
    if deliver is not None:
        op.output("alerts_deliver", op.map("for_alert_sink", alerts, for_alert_sink), deliver)
    if cfg.output.console:
        shown = op.filter("console_severity", alerts, console_shows(cfg))
        op.output("console", shown, console_sink(cfg))

    # run summary: counts per stage, added up once per batch
    decoded = op.filter("decoded", etxs, lambda etx: etx.call is not None)
    counts = op.merge(
        "counts",
        count("count_read", raw, "read"),
        # enrich is one-to-one, so its output counts what was normalized, right before the sinks
        count("count_norm", etxs, "normalized", ("sink", lambda e: e.tx.first_seen_ms)),
        count("count_blocks", blocks, "blocks"),
        count_dead_letters("count_dead", dead),
        count("count_decoded", decoded, "decoded"),
        count_detections("count_detected", detections),
        count("count_rules", rules.oks, "rule_matches"),
        count("count_alerts", alerts, "alerts", ("alert", lambda a: a.first_seen_ms)),
        count_inclusions("count_inclusions", inclusions),
        predicted.outcomes,
    )
    op.output(
        "summary",
        op.map("for_summary", counts, for_summary),
        SummarySink(
            out / "summary.json",
            status_interval_s=cfg.output.status_interval_s,
            outputs=_outputs(cfg, deliver is not None),
        ),
    )
    return flow


def _outputs(cfg: Config, delivering: bool) -> list[tuple[str, str]]:
    """Where this flow's outputs go, for the run summary."""
    out = Path(cfg.output.dir)
    where = [
        ("alerts", f"{out / 'alerts.jsonl'}" + (", and the console" if cfg.output.console else "")),
        ("detections", str(out / "detections.jsonl")),
        ("dead letters", str(out / "dead_letters.jsonl")),
        ("archive", f"{cfg.output.archive} (Delta Lake tables; `scorpius query` reads it)"),
        ("summary", str(out / "summary.json")),
    ]
    if delivering:
        log = cfg.alerts.delivery_log or str(out / "alert_deliveries.jsonl")
        where.append(("alert delivery", f"the configured channels; outcomes in {log}"))
    if cfg.storage.clickhouse_url:
        where.append(("clickhouse", f"the tables of {setting_name('storage.clickhouse_url')}"))
    if cfg.kafka.publish:
        k = cfg.kafka
        topics = [k.topic_enriched, k.topic_bundles, k.topic_alerts, k.topic_dead_letters]
        if delivering:
            topics.append(k.topic_alert_deliveries)
        where.append(("kafka", ", ".join(topics)))
    return where


def __getattr__(name: str) -> Dataflow:
    # `flow` is built on first access so importing this module never reads the environment.
    if name == "flow":
        # `python -m bytewax.run flows.mempool:flow`: SIGINT / SIGTERM stop it gracefully
        configure_logging()
        return build_flow(load_config(), install_stop_handlers())
    raise AttributeError(name)
