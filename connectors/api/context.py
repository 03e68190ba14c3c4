"""What every route needs: settings, the store, keys, the hub, rules, alert routes and jobs
(``app.state.ctx``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from connectors.api.auth import KeyRing
from connectors.api.deliveries import DeliveryIndex
from connectors.api.jobs import Backtests
from connectors.api.routebook import RouteBook
from connectors.api.rulebook import RuleBook
from connectors.api.store import Store
from connectors.api.streams import Hub
from operators.records import EnrichedTx


@dataclass(frozen=True)
class ApiSettings:
    """Plain settings of the API (flows/wiring/api.py builds them from the configuration, whose
    ``api`` section documents them and holds their defaults)."""

    database_url: str
    archive_url: str
    storage_options: dict[str, Any]
    jwt_secret: str
    jwt_ttl_s: int
    rate_per_s: float
    rate_burst: int
    client_queue: int
    max_skips: int
    history: int
    max_body_bytes: int
    max_frame_bytes: int
    max_page: int
    console_dir: str
    clickhouse_url: str
    # The alert channels the flow has (by this configuration; empty: unknown, not checked) and
    # the default recipients of the addressed ones: routes to anything else are refused.
    alert_channels: tuple[str, ...]
    alert_recipients: dict[str, tuple[str, ...]]
    # The flow's alert delivery log (per-alert delivery status), when this API can read it.
    delivery_log: str


class Feed(Protocol):
    name: str
    # Delivery outcomes read from the flow's topic (Kafka); None: the API reads the flow's file.
    delivery_index: DeliveryIndex | None

    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class ApiContext:
    settings: ApiSettings
    store: Store
    keys: KeyRing
    hub: Hub
    rules: RuleBook
    routes: RouteBook
    backtests: Backtests
    # Sample transactions for rule tests (loaded once, on first use).
    sample: Callable[[], list[EnrichedTx]]
    feed_factory: Callable[[Hub], Feed] | None = None
    feed: Feed | None = None

    @property
    def console(self) -> Path | None:
        path = Path(self.settings.console_dir) if self.settings.console_dir else None
        return path if path is not None and (path / "index.html").is_file() else None
