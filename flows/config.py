"""The flow's one typed configuration, from environment variables and an optional YAML file.

Every setting is a dataclass field with an environment name (``SCORPIUS_<SECTION>_<FIELD>`` unless
``env(...)`` names another, such as the seed's ``ETHEREUM_RPC_URLS``). Precedence: environment, then
the YAML file named by ``SCORPIUS_CONFIG`` (sections as mappings), then the default. The flow reads
the environment here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import yaml

from connectors import defaults
from flows import config_env
from flows.config_env import ConfigError, Setting, build, secret
from flows.config_env import env as env  # settings with another environment name use it

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SAMPLE = PACKAGE_ROOT / "connectors" / "sample" / "mainnet.jsonl.gz"
EXAMPLE_RULES = PACKAGE_ROOT / "rules" / "examples"


@dataclass(frozen=True)
class SourceConfig:
    # Where transactions come from: replay (a recording, by default the bundled mainnet sample),
    # rpc (live nodes, see the *_RPC_URLS settings), kafka (tx_raw), archive or dumpster.
    kind: str = "replay"
    # The recording to replay: JSON lines, optionally gzipped (connectors/replay.py).
    replay_path: str = str(BUNDLED_SAMPLE)
    # 0 replays as fast as possible; 1.0 keeps recorded spacing; 10 is ten times faster.
    replay_speed: float = 0.0
    # Items per second in recorded order, whatever their recorded times (0 = off; see Pacing).
    replay_rate: float = 0.0
    # Stamp replayed items with the wall time they are replayed at (a live rehearsal).
    replay_rebase: bool = False
    # 1 keeps the recorded order for every key, so results do not depend on the number of
    # workers. More partitions spread reading and normalizing over workers; order then holds only
    # within a partition, and event-time windows absorb disorder up to the watermark wait (later
    # items are dead-lettered as "late").
    replay_partitions: int = 1
    # kind=archive replays this archive (default: the output archive) between these ISO
    # times (UTC; empty = open); kind=dumpster replays mempool-dumpster files (comma-separated).
    archive_url: str = ""
    archive_start: str = ""
    archive_end: str = ""
    dumpster_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class DetectConfig:
    # A replacement is the same (chain, sender, nonce) again inside this much event time.
    replacement_window_s: float = 300.0
    # How long the event clock waits for out-of-order items before a window may close.
    watermark_wait_s: float = 10.0
    # A bump below this fraction of the old fee cap is not a replacement any node accepts (10%).
    min_fee_bump: float = 0.10
    # Sandwich-attempt and frontrun-copy windows: a session per key closes after this much
    # event time without a pending tx (two mainnet block times).
    mempool_window_s: float = 24.0
    # Sandwichable victims (live RPC source only: quotes need a node): a pending swap whose
    # slippage tolerance is at least this many basis points is reported.
    min_slippage_bps: int = 50
    # A sandwichable victim may be held this much event time (or until the next block) so that
    # a searcher's other leg, if the flow hands it over second (several workers), can clear it
    # as a round trip. 0: decided at once (one worker meets txs in the order they were seen).
    sandwichable_hold_s: float = 0.0
    # getReserves eth_calls block the step: a slow node costs no more than this per pool and block.
    reserves_timeout_s: float = 2.0
    # A JSON file of extra pool factories (the shape of operators/mev/data/amm_factories.json):
    # devnets, forks, other DEXes; "" = the bundled ones only.
    amm_factories: str = ""
    # Mempool alerts are matched to the sandwiches of blocks landing within this much time.
    prediction_horizon_s: float = 600.0
    # Pending nonces tracked per (chain, sender); over it the lowest are forgotten.
    replacement_max_nonces: int = 256
    # Senders one replacement window holds (one window per bucket of senders, operators/buckets.py);
    # over it the least recently active go. Idle senders go after replacement_window_s anyway.
    replacement_max_senders: int = 50_000
    # Pending txs a chain's sandwich-attempt window holds; over it the earliest are forgotten.
    # Txs first seen more than mempool_window_s before the newest are forgotten anyway.
    sandwich_max_pending: int = 10_000
    # Calldata shapes (per target contract) a frontrun-copy window holds, one window per bucket
    # of contracts (operators/buckets.py); over it the earliest go.
    frontrun_max_originals: int = 20_000
    # A candidate frontrun copy waits until either tx is seen mined (at most this much event
    # time: a mainnet block) for more senders of the same calldata: more than two is a crowd (a
    # public mint), not a copy.
    frontrun_hold_s: float = 12.0
    # Pools whose reserves are cached per chain between two blocks; over it the earliest go.
    reserves_max_pools: int = 10_000
    # Victim txs the prediction linker holds per chain (mempool alerts and block sandwiches
    # each); over it the earliest go.
    prediction_max_victims: int = 100_000
    # A mined tx never seen pending is private order flow only if some source of its chain was
    # watching the pending txs for at least this long before the block's timestamp.
    private_lookback_s: float = 12.0


@dataclass(frozen=True)
class LimitsConfig:
    """Sizes of what the flow accepts from a source (operators/LIMITS.md)."""

    # One tx object (an RPC tx JSON, a tx_raw message value); over it: a dead letter.
    max_tx_payload_bytes: int = 2 << 20
    # One block bundle with its receipts and traces.
    max_block_payload_bytes: int = 64 << 20
    # Decoded calldata of one tx or traced call (geth's pool itself takes at most 128 KiB).
    max_calldata_bytes: int = 512 << 10
    # How much of an unreadable payload its dead letter keeps (the reason says it was cut).
    dead_letter_payload_bytes: int = 1 << 20
    # How far ahead of this machine's clock a first-seen time or block timestamp may be; beyond
    # it (or before the chain's genesis) the item is a dead letter (docs/robustness.md).
    max_clock_skew_s: float = 300.0


@dataclass(frozen=True)
class RulesConfig:
    # Rule files (*.yaml, *.wat, *.wasm, AssemblyScript builds), watched for hot reload.
    dir: str = str(EXAMPLE_RULES)
    # Transactions per call into a rule module: one call scans the whole batch in linear memory.
    batch_size: int = 512
    # Sandbox of each rule module (rules/README.md, "Limits").
    memory_mb: int = 64
    fuel_per_call: int = 2_000_000
    fuel_per_tx: int = 200_000
    # Faults (trap, fuel exhausted) before a module is disabled until its file changes.
    max_strikes: int = 3
    # How often the rules directory is checked for changes (between batches).
    reload_interval_s: float = 1.0
    # Compiled declarative modules by content hash ("" = no cache): workers and restarts reuse them.
    cache_dir: str = str(Path.home() / ".cache" / "scorpius" / "rules")
    # Workers mirror the Kafka rules topic (SCORPIUS_KAFKA_TOPIC_RULES, published by the API)
    # into dir, which they hot-reload: rule sets (and alert routes, into the routes file) reach
    # every worker without a restart.
    follow_topic: bool = False


@dataclass(frozen=True)
class OutputConfig:
    # Local outputs: JSON lines, summary.json and (by default) the Delta Lake archive.
    dir: str = "out"
    # Where the archive (Delta Lake tables) goes: a folder path, file://..., or s3://bucket/prefix.
    archive_url: str = ""
    archive_compression: str = defaults.ARCHIVE_COMPRESSION
    # An archive commit (one Delta transaction) holds at most this many rows / Arrow bytes, and
    # waits at most this long for more.
    archive_roll_rows: int = defaults.ARCHIVE_ROLL_ROWS
    archive_roll_bytes: int = defaults.ARCHIVE_ROLL_BYTES
    archive_roll_seconds: float = defaults.ARCHIVE_ROLL_SECONDS
    # Writers per archive table (each commits on its own; more make more, smaller files).
    archive_partitions: int = 1
    # How often the flow compacts the dates it wrote into large files (0 = never; see
    # `scorpius archive compact`).
    archive_compact_seconds: float = defaults.ARCHIVE_COMPACT_SECONDS
    # Partitions of the archive and ClickHouse sinks: spread writes over up to this many workers.
    sink_partitions: int = 4
    # One line per alert on stdout (false: none), from this severity up (info, low, medium, high,
    # critical; `scorpius run --quiet` is high); colour: auto (a terminal, unless NO_COLOR is
    # set), always or never.
    console: bool = True
    # A long run logs a one-line status and rewrites summary.json this often (0 = only at the end).
    status_interval_s: float = 30.0
    console_min_severity: str = "info"
    console_color: str = "auto"
    # Also write every enriched tx to tx_enriched.jsonl (the embedded API's /ws/transactions).
    tx_lines: bool = False

    @property
    def archive(self) -> str:
        return self.archive_url or str(Path(self.dir) / "archive")


@dataclass(frozen=True)
class KafkaConfig:
    """Kafka: the ``tx_raw`` source of the processing flow and the topics Scorpius writes.

    Consumed offsets live in bytewax recovery snapshots (``-r``), not in a consumer group, so a
    restart resumes exactly where the last completed epoch ended. ``partitions`` bounds how many
    workers can share ``tx_raw``: run at most that many workers in total.
    """

    # Bootstrap servers, comma-separated.
    brokers: tuple[str, ...] = ("127.0.0.1:9092",)
    # The processing flow also publishes tx_enriched, mev_bundles, alerts and dead letters.
    publish: bool = False
    topic_raw: str = "tx_raw"
    topic_enriched: str = "tx_enriched"
    topic_bundles: str = "mev_bundles"
    topic_alerts: str = "alerts"
    topic_dead_letters: str = "dead_letters"
    # Every alert delivery outcome (the delivery log's records, keyed by alert key) when the flow
    # publishes and delivers alerts; the API's Kafka feed answers delivery status from it.
    topic_alert_deliveries: str = "alert_deliveries"
    # Compacted topic of rule sets (key: rule name) that every worker follows into its rules folder;
    # the alert routes published through the API travel on it too (key: _alert_routes).
    topic_rules: str = "rules"
    # Names the client to the brokers (quotas, ACLs, logs); offsets are not committed to it.
    group_id: str = "scorpius"
    # Used by `scorpius kafka create-topics`.
    partitions: int = 8
    replication: int = 1
    retention_hours: float = 168.0
    # Topic max.message.bytes and the producers' limit: a block with traces can pass 1 MB.
    max_message_bytes: int = 16 * 1024 * 1024
    # True: wait at the end of tx_raw for more (a service); false: stop there (a batch run).
    tail: bool = True
    # Where to begin when recovery holds no offset yet: earliest | latest.
    start_at: str = "earliest"
    batch_size: int = 1000
    # librdkafka security settings, passed through as they are; empty means not set.
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    sasl_mechanism: str = ""  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER
    sasl_username: str = ""
    sasl_password: str = secret()
    ssl_ca_location: str = ""
    ssl_certificate_location: str = ""
    ssl_key_location: str = ""
    ssl_key_password: str = secret()
    # Any other librdkafka property as key=value, comma separated: "client.rack=a,linger.ms=20".
    extra: tuple[str, ...] = ()

    def client_settings(self) -> dict[str, Any]:
        """librdkafka settings shared by producers, consumers and admin clients."""
        settings = {
            "bootstrap.servers": ",".join(self.brokers),
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        settings = {key: value for key, value in settings.items() if value}
        for pair in self.extra:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"SCORPIUS_KAFKA_EXTRA: {pair!r} is not key=value")
            settings[key.strip()] = value.strip()
        return settings


@dataclass(frozen=True)
class EnrichConfig:
    # The user's label files (YAML/JSON keyed by chain id) and JSON ABIs, read after the bundled
    # ones in operators/enrich/data (theirs win on a repeated address or selector). "" = none.
    labels_dir: str = ""
    abi_dir: str = ""


@dataclass(frozen=True)
class K8sConfig:
    """How a worker pod finds its peers: StatefulSet pods behind a headless service."""

    # Pods of the StatefulSet and bytewax workers in each: replicas x workers <= Kafka partitions.
    replicas: int = 1
    workers_per_process: int = 1
    # The headless service and namespace that give pods their DNS names; port of bytewax's peers.
    service: str = "scorpius-worker"
    namespace: str = ""
    port: int = 2101
    # Bytewax recovery (snapshots of state and Kafka offsets) on the pod's volume; "" = off.
    recovery_dir: str = ""
    # Bytewax recovery partitions, created once by process 0 in its recovery_dir when it holds
    # none (0 = SCORPIUS_KAFKA_PARTITIONS: the most workers the flow can use). Fixed afterwards:
    # rescaling keeps them (k8s/README.md).
    recovery_partitions: int = 0
    snapshot_interval_s: float = 30.0
    backup_interval_s: float = 600.0
    health_port: int = 8080
    # The flow is unhealthy (liveness fails) when no item has moved for this long.
    stall_after_s: float = 120.0


def _secret_urls(name: str) -> Any:
    return field(default=(), repr=False, metadata={"env": name, "secret": True})


@dataclass(frozen=True)
class RpcConfig:
    """Live ingestion from node providers: every URL of every chain is connected at once."""

    # Comma-separated ws(s):// (subscriptions) or http(s):// (polling) URLs per chain. Secret:
    # provider URLs carry API keys (records and metrics name them without, see connectors/rpc).
    ethereum_urls: tuple[str, ...] = _secret_urls("ETHEREUM_RPC_URLS")
    arbitrum_urls: tuple[str, ...] = _secret_urls("ARBITRUM_RPC_URLS")
    optimism_urls: tuple[str, ...] = _secret_urls("OPTIMISM_RPC_URLS")
    base_urls: tuple[str, ...] = _secret_urls("BASE_RPC_URLS")
    # Any other chain (devnets, Anvil's 31337): "chain_id=url" pairs, e.g. "31337=ws://127.0.0.1:8545".
    extra: tuple[str, ...] = _secret_urls("SCORPIUS_RPC_EXTRA")
    # L2 sequencer feeds (docs/l2.md): Arbitrum's sequencer feed (wss://arb1.arbitrum.io/feed or
    # your relay) and OP-stack Flashblocks (wss://mainnet.flashblocks.base.org/ws). Each URL is
    # one more partition of the RPC source; its txs arrive "sequenced" / "preconfirmed".
    arbitrum_feed_urls: tuple[str, ...] = _secret_urls("ARBITRUM_FEED_URLS")
    optimism_flashblocks_urls: tuple[str, ...] = _secret_urls("OPTIMISM_FLASHBLOCKS_URLS")
    base_flashblocks_urls: tuple[str, ...] = _secret_urls("BASE_FLASHBLOCKS_URLS")
    # Frames larger than this are refused (dead letter) and the connection is re-opened.
    max_frame_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 15.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    # A node answering another eth_chainId is retried this slowly (it is misconfigured).
    wrong_chain_retry_s: float = 60.0
    # A subscribed connection with no new head for this long is re-opened (providers sometimes
    # stop sending notifications on a live socket); 0 turns this off (idle devnets).
    head_stall_s: float = 60.0
    # HTTP URLs and nodes without eth_subscribe are polled this often.
    poll_interval_s: float = 2.0
    # Subscribe to full pending tx objects; false: to hashes, fetched in batches (for nodes that
    # reject or mishandle the full-object flag). Nodes without the flag fall back by themselves.
    pending_tx_objects: bool = True
    # Announced pending hashes are fetched in JSON-RPC batches of at most this many.
    fetch_batch: int = 100
    # After a reconnect, missed blocks are fetched back, at most this many.
    max_backfill_blocks: int = 32
    # L2 feeds: threads per feed partition recovering a frame's tx senders (secp256k1, most of
    # the decode cost; libsecp256k1 releases the GIL). 0 = inline in the partition's own thread:
    # a live feed is far below one thread's rate (docs/l2.md), and a pool only pays for itself
    # on large frames (a relay's replay after a reconnect) with idle cores to run on.
    feed_recovery_threads: int = 0
    # Dedup across URLs and reconnects: remembered this long, at most this many per shard.
    dedup_ttl_s: float = 900.0
    dedup_max_per_shard: int = 20_000
    # Inclusion tracking: a pending tx not mined within this bound is reported expired. The
    # cap is per chain, for the inclusion and the private-flow trackers each: a busy public
    # mempool holds a few hundred thousand txs at most, and a million pending hashes cost each
    # tracker about 250 MB (the soak, docs/robustness.md).
    pending_ttl_s: float = 3600.0
    max_pending: int = 250_000
    reorg_depth: int = 64


@dataclass(frozen=True)
class StorageConfig:
    # clickhouse-driver URL, clickhouse://user:password@host:9000/database; empty = off.
    clickhouse_url: str = secret()
    # The password on its own (wins over one in the URL), so the URL itself need not be secret.
    clickhouse_password: str = secret()
    # TLS to ClickHouse's secure native port (9440): off, or on with the system CAs or ca_certs.
    clickhouse_secure: bool = False
    clickhouse_ca_certs: str = ""
    # Verify the server certificate and host name (turn off only for a self-signed test server).
    clickhouse_verify: bool = True
    clickhouse_batch_rows: int = defaults.CLICKHOUSE_BATCH_ROWS
    clickhouse_flush_seconds: float = defaults.CLICKHOUSE_FLUSH_SECONDS
    # Rows buffered while ClickHouse is slow or down; beyond this the sink holds the worker back.
    clickhouse_max_buffer_rows: int = defaults.CLICKHOUSE_MAX_BUFFER_ROWS
    # An S3-compatible endpoint for an s3:// archive (MinIO, ...); empty = AWS's own.
    archive_s3_endpoint: str = ""
    # `scorpius archive retention` deletes date partitions older than this many days.
    archive_retention_days: int = 90

    def clickhouse_client_url(self) -> str:
        """``clickhouse_url`` with the password and TLS settings in it: clickhouse-driver's
        ``Client.from_url`` takes them from there (``secure``, ``ca_certs``, ``verify``)."""
        if not self.clickhouse_url:
            return ""
        parts = urlsplit(self.clickhouse_url)
        netloc = parts.netloc
        if self.clickhouse_password:
            user = parts.username or "default"
            host = netloc.rsplit("@", 1)[-1]
            netloc = f"{user}:{quote(self.clickhouse_password, safe='')}@{host}"
        query = dict(parse_qsl(parts.query))
        if self.clickhouse_secure:
            query["secure"] = "True"
        if self.clickhouse_ca_certs:
            query["ca_certs"] = self.clickhouse_ca_certs
        if not self.clickhouse_verify:
            query["verify"] = "False"
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))

    def archive_storage_options(self) -> dict[str, Any]:
        """fsspec options for the archive URL (credentials come from the usual AWS chain)."""
        if not self.archive_s3_endpoint:
            return {}
        return {"client_kwargs": {"endpoint_url": self.archive_s3_endpoint}}


@dataclass(frozen=True)
class AlertsConfig:
    """Alert delivery: channels (a channel is on when its URL / token / host is set) and routing.

    Without a routes file every alert at or above ``min_severity`` goes to every channel that is
    on. Secrets may also come from a file named by ``<VARIABLE>_FILE`` (Kubernetes / Docker secrets).
    """

    # A YAML file routing alerts by kind, chain and severity to channels (connectors/alerts/README.md).
    # Empty: <output.dir>/alert_routes.yaml when it exists (routes published through the API).
    routes_path: str = ""
    # How often the running flow looks for a changed routes file (routes published through the
    # API, or edited by hand, take effect without a restart).
    routes_reload_s: float = 1.0
    # Without routes: the lowest severity delivered (info, low, medium, high, critical).
    min_severity: str = "high"
    # Jinja2 templates here override the bundled ones of the same name (slack.json.j2, ...).
    templates_dir: str = ""
    # JSON lines, one per delivery outcome; empty: <output.dir>/alert_deliveries.jsonl
    delivery_log: str = ""
    slack_webhook_url: str = secret()
    slack_bot_token: str = secret()
    slack_api_url: str = "https://slack.com/api/"
    # Default Slack channel (id or #name) of the Web API when a route names none.
    slack_channel: str = ""
    discord_webhook_url: str = secret()
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = secret()
    smtp_starttls: bool = True
    # Implicit TLS from the first byte (port 465); wins over starttls.
    smtp_ssl: bool = False
    # A CA bundle to verify the SMTP server with (default: the system's).
    smtp_ca_file: str = ""
    email_from: str = "scorpius@localhost"
    email_to: tuple[str, ...] = ()
    webhook_url: str = secret()
    # HMAC-SHA256 key of the generic webhook's X-Scorpius-Signature header.
    webhook_secret: str = secret()
    queue_size: int = 1000
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    timeout_s: float = 10.0
    dedup_window_s: float = 600.0
    # Alert keys remembered for dedup; over it the oldest are forgotten (a repeat may go out).
    dedup_max_keys: int = 100_000
    # At the end of a finite run, how long pending deliveries may still take before dead-lettering.
    drain_timeout_s: float = 5.0
    channel_rate_per_s: float = 5.0
    channel_burst: int = 10
    recipient_rate_per_s: float = 1.0
    recipient_burst: int = 5


@dataclass(frozen=True)
class ApiConfig:
    """``scorpius serve``: the REST / WebSocket / SSE API (docs/api.md)."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Keys, rule sets, routes and jobs (SQLAlchemy URL): sqlite:///path or
    # postgresql+psycopg://user@host/db; "" = sqlite in the output folder (api.db).
    database_url: str = secret()
    # HS256 key of the JWTs the API issues; "" = one generated once and kept in the database.
    jwt_secret: str = secret()
    jwt_ttl_s: int = 3600
    # Where live streams come from: embedded (tail the output folder's JSON lines), kafka
    # (the flow's topics) or none.
    feed: str = "embedded"
    # Default request rate of a new key (requests per second, burst).
    rate_per_s: float = 20.0
    rate_burst: int = 40
    # Messages a stream client may have queued; over it the queue is skipped ahead ("missed").
    client_queue: int = 1000
    # Skips in a row (within a minute) before a slow client is closed.
    max_skips: int = 3
    # Messages kept per stream for clients that reconnect with a cursor or last key.
    history: int = 10_000
    # Largest request body and WebSocket frame accepted (bytes); larger ones are refused.
    max_body_bytes: int = 1 << 20
    max_frame_bytes: int = 64 << 10
    # WebSocket permessage-deflate: off, since compression runs once per client for every frame
    # (several times the CPU of a 100-client fan-out); on saves bandwidth to far-away clients.
    ws_deflate: bool = False
    # Largest page of a Time Machine query.
    max_page: int = 1000
    # With the Kafka feed: alerts whose delivery status each API process keeps in memory (read
    # from the alert_deliveries topic, from its start); over it the oldest are forgotten (404).
    delivery_index_keys: int = 100_000
    # The built web console (served at / when it exists).
    console_dir: str = str(PACKAGE_ROOT / "web" / "dist")


@dataclass(frozen=True)
class MemoryConfig:
    """glibc malloc in long-running processes (connectors/allocator.py, docs/robustness.md)."""

    # Return freed heap memory to the kernel (malloc_trim) every this many seconds; 0 = never.
    trim_interval_s: float = 10.0
    # Blocks of at least this many bytes get their own mapping, given back when freed; 0 keeps
    # glibc's default (a threshold that rises after every large free, up to 32 MiB).
    mmap_threshold_bytes: int = 1 << 20
    # Arrow's memory pool: system (glibc malloc, trimmed with the rest), mimalloc or jemalloc;
    # "" keeps pyarrow's default (mimalloc, which held on to freed pages in the soak).
    arrow_pool: str = "system"


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    k8s: K8sConfig = field(default_factory=K8sConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    rpc: RpcConfig = field(default_factory=RpcConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build the config from ``environ`` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    doc: Mapping[str, Any] = {}
    path = environ.get("SCORPIUS_CONFIG")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"SCORPIUS_CONFIG={path}: {exc}") from exc
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"SCORPIUS_CONFIG={path}: the top level must be a mapping")
        doc = loaded
    config: Config = build(Config, "SCORPIUS_", environ, doc)
    return config


def settings_table() -> list[Setting]:
    """Every setting: environment name, default, whether it is secret, and its comment."""
    return config_env.settings_table(Config, "SCORPIUS_", PACKAGE_ROOT)


def setting_name(path: str) -> str:
    """The environment name of a setting by its place in ``Config``: "rpc.extra" is
    SCORPIUS_RPC_EXTRA, "rpc.ethereum_urls" ETHEREUM_RPC_URLS (for messages that name it)."""
    return config_env.env_name(Config, path, "SCORPIUS_")
