"""The bytewax sink of alerts, and building it (channels, routes, templates) from configuration.

Wiring (flows/mempool.py)::

    sink = build_alert_sink(cfg.alerts, out_dir, dead_letter=JsonlLog(out / "alert_dead_letters.jsonl").write)
    if sink is not None:
        op.output("alerts_deliver", op.map("for_alert_sink", alerts, for_alert_sink), sink)

One partition: every alert passes one dispatcher, so dedup and rate limits hold across workers,
and its resume state (dedup memory, unfinished deliveries) is snapshotted with the flow's epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from connectors.alerts.base import Channel, Redactor
from connectors.alerts.discord import DiscordChannel
from connectors.alerts.dispatcher import DeliveryPolicy, Dispatcher, DispatcherState
from connectors.alerts.log import JsonlLog
from connectors.alerts.slack import SlackApiChannel, SlackWebhookChannel
from connectors.alerts.smtp import SmtpChannel
from connectors.alerts.templates import Templates
from connectors.alerts.webhook import WebhookChannel
from flows.config import AlertsConfig
from operators.alert_router import Router, default_routes, load_routes
from operators.records import Alert, DeadLetter

PARTITION = "alerts"


def for_alert_sink(alert: Alert) -> tuple[str, Alert]:
    """An alert as the ``(partition key, item)`` pair ``AlertSink`` takes."""
    return (PARTITION, alert)


class _AlertPartition(StatefulSinkPartition[Alert, DispatcherState]):
    def __init__(
        self, dispatcher: Dispatcher, resume: DispatcherState | None, drain_timeout_s: float
    ) -> None:
        self._dispatcher = dispatcher
        self._drain_timeout_s = drain_timeout_s
        if resume is not None:
            dispatcher.restore(resume)
        dispatcher.start()

    def write_batch(self, values: list[Alert]) -> None:
        for alert in values:
            self._dispatcher.submit(alert)

    def snapshot(self) -> DispatcherState:
        return self._dispatcher.snapshot()

    def close(self) -> None:
        self._dispatcher.close(self._drain_timeout_s)


class AlertSink(FixedPartitionedSink[Alert, DispatcherState]):
    """Hands alerts to a ``Dispatcher``; ``write_batch`` never waits for a channel."""

    def __init__(self, make_dispatcher: Callable[[], Dispatcher], drain_timeout_s: float) -> None:
        self._make = make_dispatcher
        self._drain_timeout_s = drain_timeout_s

    def list_parts(self) -> list[str]:
        return [PARTITION]

    def build_part(
        self, step_id: str, for_part: str, resume_state: DispatcherState | None
    ) -> _AlertPartition:
        return _AlertPartition(self._make(), resume_state, self._drain_timeout_s)


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


def build_router(cfg: AlertsConfig, enabled: list[str]) -> Router:
    routes = load_routes(cfg.routes_path) if cfg.routes_path else None
    defaults = {
        "slack_api": (cfg.slack_channel,) if cfg.slack_channel else (),
        "email": cfg.email_to,
    }
    router = Router(
        routes if routes is not None else default_routes(enabled, cfg.min_severity), defaults
    )
    router.check(enabled)
    return router


def policy_of(cfg: AlertsConfig) -> DeliveryPolicy:
    return DeliveryPolicy(
        queue_size=cfg.queue_size,
        max_attempts=cfg.max_attempts,
        backoff_base_s=cfg.backoff_base_s,
        backoff_max_s=cfg.backoff_max_s,
        dedup_window_s=cfg.dedup_window_s,
        dedup_max_keys=cfg.dedup_max_keys,
        channel_rate_per_s=cfg.channel_rate_per_s,
        channel_burst=cfg.channel_burst,
        recipient_rate_per_s=cfg.recipient_rate_per_s,
        recipient_burst=cfg.recipient_burst,
    )


def build_alert_sink(
    cfg: AlertsConfig, out_dir: str | Path, dead_letter: Callable[[DeadLetter], None]
) -> AlertSink | None:
    """The sink, or None when no channel is configured. Routes are checked here, at startup:
    a route to a channel that is not configured fails the run before the first alert."""
    redact = Redactor(secrets_of(cfg))
    enabled = sorted(build_channels(cfg, redact))  # built once to check, again per partition
    if not enabled and not cfg.routes_path:
        return None
    router = build_router(cfg, enabled)
    log = JsonlLog(cfg.delivery_log or Path(out_dir) / "alert_deliveries.jsonl")

    def make() -> Dispatcher:
        return Dispatcher(
            build_channels(cfg, redact),
            router,
            policy_of(cfg),
            dead_letter=dead_letter,
            delivery_log=log.write,
            redact=redact,
        )

    return AlertSink(make, cfg.drain_timeout_s)
