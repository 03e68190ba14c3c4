"""The flow's one typed configuration, from environment variables and an optional YAML file.

Every setting is a dataclass field with an environment name (``SCORPIUS_<SECTION>_<FIELD>`` unless
``env(...)`` names another, such as the seed's ``ETHEREUM_RPC_URLS``). Precedence: environment, then
the YAML file named by ``SCORPIUS_CONFIG`` (sections as mappings), then the default. The flow reads
the environment here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SAMPLE = PACKAGE_ROOT / "connectors" / "sample" / "mainnet.jsonl.gz"
EXAMPLE_RULES = PACKAGE_ROOT / "rules" / "examples"


class ConfigError(ValueError):
    """A setting is missing or has a value of the wrong form."""


def env(name: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field whose environment variable is ``name`` rather than the derived one."""
    if default is dataclasses.MISSING and "default_factory" not in kwargs:
        return field(metadata={"env": name}, **kwargs)
    return field(default=default, metadata={"env": name}, **kwargs)


def secret(default: str = "", name: str | None = None) -> Any:
    """A field that holds a credential: never printed, listed or put in an error message."""
    metadata: dict[str, Any] = {"secret": True}
    if name:
        metadata["env"] = name
    return field(default=default, repr=False, metadata=metadata)


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "replay"  # replay | rpc | kafka
    replay_path: str = str(BUNDLED_SAMPLE)
    # 0 replays as fast as possible; 1.0 keeps recorded spacing; 10 is ten times faster.
    replay_speed: float = 0.0
    replay_partitions: int = 4


@dataclass(frozen=True)
class DetectConfig:
    # A replacement is the same (chain, sender, nonce) again inside this much event time.
    replacement_window_s: float = 300.0
    # How long the event clock waits for out-of-order items before a window may close.
    watermark_wait_s: float = 10.0
    # A bump below this fraction of the old fee cap is not a replacement any node accepts (10%).
    min_fee_bump: float = 0.10
    # Pending nonces tracked per (chain, sender) window; over it the lowest are forgotten.
    replacement_max_nonces: int = 256


@dataclass(frozen=True)
class RulesConfig:
    dir: str = str(EXAMPLE_RULES)
    batch_size: int = 512


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "out"
    # Where the Parquet archive goes: a folder path, file://..., or s3://bucket/prefix.
    archive_url: str = ""
    archive_compression: str = "zstd"
    archive_roll_rows: int = 100_000
    archive_roll_seconds: float = 60.0
    # Partitions of the archive and ClickHouse sinks: spread writes over up to this many workers.
    sink_partitions: int = 4
    console: bool = True

    @property
    def archive(self) -> str:
        return self.archive_url or str(Path(self.dir) / "archive")


@dataclass(frozen=True)
class EnrichConfig:
    # The user's label files (YAML/JSON keyed by chain id) and JSON ABIs, read after the bundled
    # ones in operators/enrich/data (theirs win on a repeated address or selector). "" = none.
    labels_dir: str = ""
    abi_dir: str = ""


@dataclass(frozen=True)
class K8sConfig:
    """How a worker pod finds its peers: StatefulSet pods behind a headless service."""

    replicas: int = 1
    workers_per_process: int = 1
    service: str = "scorpius-worker"
    namespace: str = ""
    port: int = 2101
    recovery_dir: str = ""
    snapshot_interval_s: float = 30.0
    backup_interval_s: float = 600.0
    health_port: int = 8080
    # The flow is unhealthy (liveness fails) when no item has moved for this long.
    stall_after_s: float = 120.0


@dataclass(frozen=True)
class StorageConfig:
    # clickhouse-driver URL, clickhouse://user:password@host:9000/database; empty = off.
    clickhouse_url: str = secret()
    clickhouse_batch_rows: int = 10_000
    clickhouse_flush_seconds: float = 2.0
    # Rows buffered while ClickHouse is slow or down; beyond this the sink holds the worker back.
    clickhouse_max_buffer_rows: int = 200_000
    # An S3-compatible endpoint for an s3:// archive (MinIO, ...); empty = AWS's own.
    archive_s3_endpoint: str = ""
    # `scorpius archive retention` deletes date partitions older than this many days.
    archive_retention_days: int = 90

    def archive_storage_options(self) -> dict[str, Any]:
        """fsspec options for the archive URL (credentials come from the usual AWS chain)."""
        if not self.archive_s3_endpoint:
            return {}
        return {"client_kwargs": {"endpoint_url": self.archive_s3_endpoint}}


@dataclass(frozen=True)
class AlertsConfig:
    """Alert delivery: channels (a channel is on when its URL / token / host is set) and routing.

    Without ``routes_path`` every alert at or above ``min_severity`` goes to every channel that is
    on. Secrets may also come from a file named by ``<VARIABLE>_FILE`` (Kubernetes / Docker secrets).
    """

    routes_path: str = ""
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
    # At the end of a finite run, how long pending deliveries may still take before dead-lettering.
    drain_timeout_s: float = 5.0
    channel_rate_per_s: float = 5.0
    channel_burst: int = 10
    recipient_rate_per_s: float = 1.0
    recipient_burst: int = 5


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    k8s: K8sConfig = field(default_factory=K8sConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)


def _parse(value: Any, typ: Any, name: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or value == "":
            return None
        return _parse(value, args[0], name)
    if origin in (tuple, list):
        (item_type, *_) = typing.get_args(typ) or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(
            _parse(i.strip() if isinstance(i, str) else i, item_type, name)
            for i in items
            if not (isinstance(i, str) and not i.strip())
        )
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if typ in (int, float, str):
            return typ(value)
    except (TypeError, ValueError):
        shown = "the value" if "secret" in name else repr(value)
        raise ConfigError(f"{name}: cannot read {shown} as {typ.__name__}") from None
    return value


def _build(cls: type, prefix: str, environ: Mapping[str, str], doc: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub = doc.get(f.name) or {}
            if not isinstance(sub, Mapping):
                raise ConfigError(f"config file: section {f.name!r} must be a mapping")
            values[f.name] = _build(typ, f"{prefix}{f.name.upper()}_", environ, sub)  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        where = name if not f.metadata.get("secret") else f"{name} (secret, value not shown)"
        if name in environ:
            values[f.name] = _parse(environ[name], typ, where)
        elif f.metadata.get("secret") and f"{name}_FILE" in environ:
            values[f.name] = _read_secret_file(environ[f"{name}_FILE"], f"{name}_FILE")
        elif f.name in doc:
            values[f.name] = _parse(doc[f.name], typ, where)
    return cls(**values)


def _read_secret_file(path: str, name: str) -> str:
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        # The path is not secret, the content is: the message names only the path.
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None


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
    config: Config = _build(Config, "SCORPIUS_", environ, doc)
    return config


def settings_table(cls: type = Config, prefix: str = "SCORPIUS_") -> list[tuple[str, str, bool]]:
    """(environment name, default, is secret) of every setting: README's configuration table."""
    rows: list[tuple[str, str, bool]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            rows.extend(settings_table(typ, f"{prefix}{f.name.upper()}_"))  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ""
        rows.append((name, repr(default), bool(f.metadata.get("secret"))))
    return rows
