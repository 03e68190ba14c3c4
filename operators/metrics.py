"""Prometheus metrics of every stage, in prometheus-client's default registry.

Bytewax's dataflow API (``BYTEWAX_DATAFLOW_API_ENABLED=1``) serves this registry merged with its
own metrics on ``/metrics``, one endpoint per worker process. Metric objects are process-wide by
nature (that is how prometheus-client works); they hold counts only, never flow state.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STAGE_ITEMS = Counter(
    "scorpius_stage_items",
    "Items leaving a stage of the flow, by stage and outcome (ok, dead_letter)",
    ["stage", "outcome"],
)
DEAD_LETTERS = Counter(
    "scorpius_dead_letters",
    "Items sent to the dead-letter output, by stage and reason class",
    ["stage", "reason"],
)
DETECTIONS = Counter(
    "scorpius_detections",
    "Detections emitted, by kind and chain",
    ["kind", "chain"],
)
RULE_EVALUATIONS = Counter(
    "scorpius_rule_evaluations", "Transactions evaluated by the rule engine", []
)
RULE_MATCHES = Counter("scorpius_rule_matches", "Rule matches, by rule", ["rule"])
RULE_FAULTS = Counter(
    "scorpius_rule_faults",
    "Rule traps / fuel exhaustion / memory faults, by rule",
    ["rule", "fault"],
)
RULE_SECONDS = Histogram(
    "scorpius_rule_batch_seconds",
    "Wall time of one batched rule evaluation",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
SINK_WRITES = Counter("scorpius_sink_writes", "Records written, by sink", ["sink"])
SINK_ERRORS = Counter("scorpius_sink_errors", "Failed write attempts, by sink", ["sink"])
SINK_BUFFERED = Gauge("scorpius_sink_buffered", "Records waiting in a sink's buffer", ["sink"])
SOURCE_MESSAGES = Counter(
    "scorpius_source_messages", "Messages read, by source kind and chain", ["source", "chain"]
)
SOURCE_RECONNECTS = Counter(
    "scorpius_source_reconnects",
    "Reconnections of a source, by source and chain",
    ["source", "chain"],
)
SOURCE_LAG = Gauge(
    "scorpius_source_lag",
    "Consumer lag (messages behind), by source and partition",
    ["source", "partition"],
)
ALERTS_SENT = Counter("scorpius_alerts_sent", "Alerts delivered, by channel", ["channel"])
ALERTS_FAILED = Counter(
    "scorpius_alerts_failed", "Alert deliveries given up, by channel", ["channel"]
)
ALERT_ROUTES_LOADS = Counter(
    "scorpius_alert_routes_loads",
    "Alert routes files re-read while running, by outcome (loaded, refused: the old ones stay)",
    ["outcome"],
)
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
END_TO_END_SECONDS = Histogram(
    "scorpius_end_to_end_seconds",
    "Wall time from first-seen to reaching an output, by output (sink, alert, alert_delivered)",
    ["output"],
    buckets=LATENCY_BUCKETS,
)


def reason_class(reason: str) -> str:
    """The label of a dead-letter reason: the text before the first ':' (bounded cardinality)."""
    head = reason.split(":", 1)[0].strip()
    return head[:64] or "unknown"


SINK_BLOCKED_SECONDS = Counter(
    "scorpius_sink_blocked_seconds",
    "Time a sink made its worker wait because its buffer was full (back-pressure), by sink",
    ["sink"],
)
ALERTS_RETRIED = Counter(
    "scorpius_alerts_retried",
    "Alert delivery attempts that will be retried, by channel",
    ["channel"],
)
ALERTS_DEDUPED = Counter(
    "scorpius_alerts_deduped",
    "Alert deliveries dropped as repeats of one inside the dedup window, by channel",
    ["channel"],
)
ALERT_QUEUE_DEPTH = Gauge(
    "scorpius_alert_queue_depth",
    "Alert deliveries accepted but not yet finished (queued, waiting to retry, in flight), by channel",
    ["channel"],
)
# --- live RPC ingestion (connectors/rpc, operators/dedup, operators/inclusion) ------------------
RPC_CONNECTED = Gauge(
    "scorpius_rpc_connected",
    "1 while an RPC endpoint is connected and verified, by chain and endpoint",
    ["chain", "endpoint"],
)
RPC_HEAD_DELAY_SECONDS = Histogram(
    "scorpius_rpc_head_delay_seconds",
    "Local receive time of a new head minus its block timestamp, by chain",
    ["chain"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0),
)
RPC_TX_UNAVAILABLE = Counter(
    "scorpius_rpc_tx_unavailable",
    "Announced pending tx hashes the node no longer returned when fetched, by chain",
    ["chain"],
)
SOURCE_DUPLICATES = Counter(
    "scorpius_source_duplicates",
    "Items dropped by dedup because another URL or a reconnect delivered them first, by chain",
    ["chain", "kind"],
)
SIGHTING_DELAY_SECONDS = Histogram(
    "scorpius_sighting_delay_seconds",
    "How long after the first sighting another endpoint delivered the same item, by chain",
    ["chain"],
    buckets=LATENCY_BUCKETS,
)
INCLUSIONS = Counter(
    "scorpius_inclusions",
    "Pending txs resolved by the inclusion tracker, by chain and status (included, reorged, expired)",
    ["chain", "status"],
)
INCLUSION_SECONDS = Histogram(
    "scorpius_inclusion_seconds",
    "Time from first sighting of a pending tx to first sighting of the block that includes it",
    ["chain"],
    buckets=(0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 60.0, 120.0, 300.0, 900.0),
)
INCLUSION_UNSEEN = Counter(
    "scorpius_inclusion_unseen",
    "Mined txs never seen pending (private order flow, L2 sequencers, or missed), by chain",
    ["chain"],
)
SOURCE_ERRORS = Counter(
    "scorpius_source_errors",
    "Frames, replies or nodes a source refused (each also a dead letter), by source, chain, reason",
    ["source", "chain", "reason"],
)
STATE_EVICTIONS = Counter(
    "scorpius_state_evictions",
    "Entries a stateful step forgot because its per-key state reached its cap, by stage and limit",
    ["stage", "limit"],
)
# --- mempool lifecycle and trust (flows/steps, operators/mev/mempool) --------------------------
LATE_MINED = Counter(
    "scorpius_mempool_late_mined",
    "Mined sightings that reached a mempool window behind its watermark (nothing left to settle)",
    ["window"],
)
ALERT_REPEATS = Counter(
    "scorpius_alert_repeats",
    "Alerts dropped before every sink as repeats of a key already emitted (the pending and the "
    "mined sighting of one tx match one rule), by origin",
    ["origin"],
)
UNKNOWN_POOLS = Counter(
    "scorpius_mempool_unknown_pools",
    "Pending swaps whose pools the mempool detectors cannot locate (no known factory for the "
    "chain and router: configure SCORPIUS_DETECT_AMM_FACTORIES), by chain",
    ["chain"],
)
ALERT_OUTCOMES = Counter(
    "scorpius_mempool_alert_outcomes",
    "Mempool alerts the mined blocks confirmed (a block sandwich matched, sandwich_predicted) or "
    "did not (forgotten after the prediction horizon unmatched), by detector",
    ["detector", "outcome"],
)
MINED_TXS_PRIVATE = Counter(
    "scorpius_mined_txs_private",
    "Mined txs by private status (true: never seen pending while a source watched), by chain",
    ["chain", "private"],
)
MEV_BOUND_CUTS = Counter(
    "scorpius_mev_bound_cuts",
    "Block findings a time or size bound cut short (fewer victims or layers reported), by kind",
    ["kind"],
)
