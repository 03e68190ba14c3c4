"""The API's wiring from the configuration: plain settings, the feed, the rule sink, the sample.

Imported only by ``scorpius serve`` / ``scorpius api-keys`` (FastAPI, SQLAlchemy and argon2 load
here, never on ``scorpius --help``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.api.context import ApiSettings, Feed
from connectors.api.streams import Hub
from connectors.rule_sets import FolderSink, KafkaRuleSink
from flows.config import Config, ConfigError, setting_name
from flows.wiring import settings_of
from flows.wiring.alerts import (
    default_recipients,
    delivery_log_path,
    enabled_channels,
    routes_file,
)
from operators.records import EnrichedTx

if TYPE_CHECKING:
    from fastapi import FastAPI

# Rule tests run on this many sample transactions (the bundled recording's first ones).
SAMPLE_TXS = 3000


def database_url(cfg: Config) -> str:
    return cfg.api.database_url or f"sqlite:///{Path(cfg.output.dir).resolve() / 'api.db'}"


def api_settings(cfg: Config) -> ApiSettings:
    """The ``api`` section's same-named fields, where the flow's outputs are, and which alert
    channels the flow has."""
    return settings_of(
        ApiSettings,
        cfg.api,
        database_url=database_url(cfg),
        archive_url=cfg.output.archive,
        storage_options=cfg.storage.archive_storage_options(),
        clickhouse_url=cfg.storage.clickhouse_client_url(),
        alert_channels=tuple(enabled_channels(cfg.alerts)),
        alert_recipients=dict(default_recipients(cfg.alerts)),
        delivery_log=str(delivery_log_path(cfg.alerts, Path(cfg.output.dir).resolve())),
    )


def feed_factory(cfg: Config) -> Callable[[Hub], Feed] | None:
    if cfg.api.feed == "none":
        return None
    if cfg.api.feed == "kafka":
        from connectors.api.kafka_feed import KafkaFeed

        k = cfg.kafka
        topics = {
            k.topic_alerts: "alerts",
            k.topic_enriched: "transactions",
            k.topic_bundles: "detections",
            k.topic_dead_letters: "dead_letters",
        }
        from connectors.api.deliveries import DeliveryIndex

        try:
            index = DeliveryIndex(cfg.api.delivery_index_keys)
        except ValueError as exc:
            raise ConfigError(f"{setting_name('api.delivery_index_keys')}: {exc}") from exc
        return lambda hub: KafkaFeed(
            k.client_settings(),
            topics,
            hub.publish_threadsafe,
            hub.set_feed_state,
            delivery_topic=k.topic_alert_deliveries,
            delivery_index=index,
        )
    if cfg.api.feed == "embedded":
        from connectors.api.embedded_feed import EmbeddedFeed

        out = cfg.output.dir
        return lambda hub: EmbeddedFeed(out, hub.publish_threadsafe, on_state=hub.set_feed_state)
    raise ValueError(
        f"{setting_name('api.feed')} must be embedded, kafka or none, not {cfg.api.feed!r}"
    )


def rule_sink(cfg: Config) -> FolderSink | KafkaRuleSink:
    """Rule sets and alert routes: the compacted rules topic, or the rules folder and the routes
    file the flow (run with this configuration) re-reads."""
    if cfg.api.feed == "kafka":
        return KafkaRuleSink(cfg.kafka.client_settings(), cfg.kafka.topic_rules)
    return FolderSink(cfg.rules.dir, routes_file(cfg.alerts, cfg.output.dir))


@functools.cache
def _sample(cfg: Config) -> list[EnrichedTx]:
    from flows.commands.rules import recorded_enriched

    found = recorded_enriched([Path(cfg.source.replay_path)], cfg)
    items = (i for i in found if isinstance(i, EnrichedTx))
    return list(itertools.islice(items, SAMPLE_TXS))


def sample_loader(cfg: Config) -> Callable[[], list[EnrichedTx]]:
    return lambda: _sample(cfg)


def build_app(cfg: Config) -> FastAPI:
    from connectors.api.app import create_app

    return create_app(
        api_settings(cfg),
        rule_sink=rule_sink(cfg),
        sample=sample_loader(cfg),
        feed_factory=feed_factory(cfg),
    )
