"""Alert delivery from the ``alerts`` config section: channels, router, policy and the sink."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.alerts.base import Channel, Redactor
from connectors.alerts.discord import DiscordChannel
from connectors.alerts.dispatcher import DeliveryPolicy, Dispatcher
from connectors.alerts.log import JsonlLog
from connectors.alerts.routes_file import RoutesFile
from connectors.alerts.sink import AlertSink
from connectors.alerts.slack import SlackApiChannel, SlackWebhookChannel
from connectors.alerts.smtp import SmtpChannel
from connectors.alerts.templates import Templates
from connectors.alerts.webhook import WebhookChannel
from flows.config import AlertsConfig, KafkaConfig
from flows.wiring import settings_of
from operators.alert_router import Route, Router, RoutesError, default_routes, load_routes
from operators.records import DeadLetter

log = logging.getLogger(__name__)

# Where routes published through the API go when no routes file is configured.
ROUTES_FILE = "alert_routes.yaml"


def routes_file(cfg: AlertsConfig, out_dir: str | Path) -> Path:
    """The routes file the flow follows and the API (or the rules topic's follower) writes."""
    return Path(cfg.routes_path) if cfg.routes_path else Path(out_dir) / ROUTES_FILE


def secrets_of(cfg: AlertsConfig) -> list[str]:
    return [
        cfg.slack_webhook_url,
        cfg.slack_bot_token,
        cfg.discord_webhook_url,
        cfg.smtp_password,
        cfg.webhook_url,
        cfg.webhook_secret,
    ]


def build_channels(cfg: AlertsConfig, redact: Redactor) -> dict[str, Channel]:
    """Every channel whose URL / token / host is set."""
    templates = Templates(cfg.templates_dir or None)
    timeout = cfg.timeout_s
    channels: dict[str, Channel] = {}
    if cfg.slack_webhook_url:
        channels["slack"] = SlackWebhookChannel(cfg.slack_webhook_url, templates, redact, timeout)
    if cfg.slack_bot_token:
        channels["slack_api"] = SlackApiChannel(
            cfg.slack_bot_token, cfg.slack_api_url, templates, redact, timeout
        )
    if cfg.discord_webhook_url:
        channels["discord"] = DiscordChannel(cfg.discord_webhook_url, templates, redact, timeout)
    if cfg.smtp_host:
        channels["email"] = SmtpChannel(
            host=cfg.smtp_host,
            port=cfg.smtp_port,
            sender=cfg.email_from,
            templates=templates,
            redact=redact,
            timeout_s=timeout,
            user=cfg.smtp_user,
            password=cfg.smtp_password,
            starttls=cfg.smtp_starttls,
            implicit_tls=cfg.smtp_ssl,
            ca_file=cfg.smtp_ca_file,
        )
    if cfg.webhook_url:
        channels["webhook"] = WebhookChannel(
            cfg.webhook_url, cfg.webhook_secret, templates, redact, timeout
        )
    return channels


def default_recipients(cfg: AlertsConfig) -> dict[str, tuple[str, ...]]:
    """Whom the addressed channels send to when a route names nobody."""
    return {"slack_api": (cfg.slack_channel,) if cfg.slack_channel else (), "email": cfg.email_to}


def delivery_log_path(cfg: AlertsConfig, out_dir: str | Path) -> Path:
    """One JSON line per delivery outcome (the API answers each alert's delivery status from it)."""
    return Path(cfg.delivery_log) if cfg.delivery_log else Path(out_dir) / "alert_deliveries.jsonl"


def router_of(cfg: AlertsConfig, enabled: list[str], routes: tuple[Route, ...] | None) -> Router:
    """A table of ``routes`` (None: the default route) with the channels' default recipients."""
    return Router(
        routes if routes is not None else default_routes(enabled, cfg.min_severity),
        default_recipients(cfg),
    )


def build_router(cfg: AlertsConfig, enabled: list[str]) -> Router:
    router = router_of(cfg, enabled, load_routes(cfg.routes_path) if cfg.routes_path else None)
    router.check(enabled)
    return router


def enabled_channels(cfg: AlertsConfig) -> list[str]:
    return sorted(build_channels(cfg, Redactor(secrets_of(cfg))))


def _reloaded(cfg: AlertsConfig, enabled: list[str], routes: tuple[Route, ...] | None) -> Router:
    router = router_of(cfg, enabled, routes)
    try:
        router.check(enabled)
    except RoutesError as exc:
        # At start this fails the run; while running the other routes still work, and each
        # delivery to the missing channel is dead-lettered with its reason.
        log.warning("alert routes reloaded with a problem: %s", exc)
    return router


def policy_of(cfg: AlertsConfig) -> DeliveryPolicy:
    """The section's same-named fields."""
    return settings_of(DeliveryPolicy, cfg)


def _outcome_writers(
    log: JsonlLog, kafka: KafkaConfig | None
) -> tuple[Callable[[dict[str, Any]], None], Callable[[], None] | None]:
    """Where a dispatcher records its delivery outcomes: the delivery log, and the
    ``alert_deliveries`` topic when the flow publishes to Kafka; and what to call at its close."""
    if kafka is None or not kafka.publish:
        return log.write, None
    from connectors.alerts.delivery_topic import DeliveryTopic
    from flows.wiring.kafka import record_sink

    topic = DeliveryTopic(
        record_sink(kafka, kafka.topic_alert_deliveries), kafka.topic_alert_deliveries
    )
    topic.start()

    def record(outcome: dict[str, Any]) -> None:
        topic.write(outcome)  # first: it never raises, whatever the file does
        log.write(outcome)

    return record, topic.stop


def build_alert_sink(
    cfg: AlertsConfig,
    out_dir: str | Path,
    dead_letter: Callable[[DeadLetter], None],
    kafka: KafkaConfig | None = None,
) -> AlertSink | None:
    """The sink, or None when no channel is configured. A routes file the operator named is
    checked here, at startup: a route to a channel that is not configured fails the run before the
    first alert. One the API wrote is only warned about, as on a reload. The sink then follows the
    routes file (``routes_file``) while it runs. With ``kafka`` publishing, every delivery outcome
    also goes to its ``alert_deliveries`` topic (connectors/alerts/delivery_topic.py)."""
    redact = Redactor(secrets_of(cfg))
    enabled = sorted(build_channels(cfg, redact))  # built once to check, again per partition
    if not enabled and not cfg.routes_path:
        return None
    routes = RoutesFile(
        routes_file(cfg, out_dir),
        lambda found: _reloaded(cfg, enabled, found),
        cfg.routes_reload_s,
    )
    if cfg.routes_path:  # a routes file the operator named must be right at start
        router = router_of(cfg, enabled, routes.load_routes())
        router.check(enabled)
    else:
        # Left in the output folder by the API: a stale route must not stop a later run.
        router = _reloaded(cfg, enabled, routes.load_routes())
    log = JsonlLog(delivery_log_path(cfg, out_dir))

    def make() -> Dispatcher:
        record, on_close = _outcome_writers(log, kafka)
        return Dispatcher(
            build_channels(cfg, redact),
            router,
            policy_of(cfg),
            dead_letter=dead_letter,
            delivery_log=record,
            on_close=on_close,
            redact=redact,
        )

    return AlertSink(make, cfg.drain_timeout_s, routes)
