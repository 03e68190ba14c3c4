"""Building blocks of the alert tests: alerts, a dispatcher wired to the fake APIs, waiting."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from connectors.alerts.base import Channel, Redactor
from connectors.alerts.dispatcher import DeliveryPolicy, Dispatcher
from flows.config import AlertsConfig
from flows.wiring.alerts import build_channels, build_router, secrets_of
from operators.alert_router import Target
from operators.records import Alert, DeadLetter
from tests.waiting import wait_until

SLACK_WEBHOOK_PATH = "/services/T0SCORP/B0ALERT/xoxwebhooksecret0123"
SLACK_TOKEN = "xoxb-1111-2222-slacktokensecret"
DISCORD_PATH = "/api/webhooks/1234567890/discordTokenSecret-abc_XYZ"
WEBHOOK_PATH = "/hooks/scorpius"
WEBHOOK_SECRET = "hmac-key-secret-42"

FAST = DeliveryPolicy(
    queue_size=100,
    max_attempts=3,
    backoff_base_s=0.05,
    backoff_max_s=0.2,
    dedup_window_s=60.0,
    dedup_max_keys=100_000,
    channel_rate_per_s=1000.0,
    channel_burst=1000,
    recipient_rate_per_s=1000.0,
    recipient_burst=1000,
)


def alert(key: str = "rule:drainer:0xabc", **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "key": key,
        "origin": "rule:drainer_approval",
        "severity": "critical",
        "title": 'Approval to known drainer <0xdead> & "friends"',
        "chain_id": 1,
        "tx_hashes": ("0x" + "ab" * 32,),
        "first_seen_ms": int(time.time() * 1000) - 250,
        "created_ms": int(time.time() * 1000),
        "tags": ("drainer", "approval"),
        "data": {"spender": "0x" + "de" * 20, "amount": 2**255 + 1},
    }
    fields.update(overrides)
    return Alert(**fields)


def config(base_url: str, **overrides: Any) -> AlertsConfig:
    fields: dict[str, Any] = {
        "slack_webhook_url": f"{base_url}{SLACK_WEBHOOK_PATH}",
        "slack_bot_token": SLACK_TOKEN,
        "slack_api_url": f"{base_url}/api/",
        "slack_channel": "C0SECOPS",
        "discord_webhook_url": f"{base_url}{DISCORD_PATH}",
        "webhook_url": f"{base_url}{WEBHOOK_PATH}",
        "webhook_secret": WEBHOOK_SECRET,
        "min_severity": "info",
        "timeout_s": 5.0,
    }
    fields.update(overrides)
    return AlertsConfig(**fields)


class TimedChannel:
    """A real channel that notes when each send starts (the server only sees arrivals, which
    carry each request's own latency)."""

    def __init__(self, inner: Channel, starts: list[tuple[str, float]]) -> None:
        self.name = inner.name
        self._inner = inner
        self._starts = starts

    def send(self, alert: Alert, target: Target) -> None:
        self._starts.append((target.recipient, time.monotonic()))
        self._inner.send(alert, target)


@dataclasses.dataclass
class Harness:
    dispatcher: Dispatcher
    dead: list[DeadLetter]
    log: list[dict[str, Any]]
    starts: list[tuple[str, float]]

    def started(self, recipient: str) -> list[float]:
        return [at for who, at in list(self.starts) if who == recipient]

    def outcomes(self, outcome: str) -> list[dict[str, Any]]:
        return [r for r in list(self.log) if r["outcome"] == outcome]

    def run(self, *alerts: Alert, sent: int | None = None, dead: int | None = None) -> None:
        """Starts the dispatcher, submits ``alerts``, waits until ``sent`` of them were delivered
        and ``dead`` dead-lettered (None: either count), and closes it."""
        self.dispatcher.start()
        for each in alerts:
            self.dispatcher.submit(each)
        wait_until(
            lambda: (
                (sent is None or len(self.outcomes("sent")) == sent)
                and (dead is None or len(self.dead) == dead)
            )
        )
        self.dispatcher.close(1.0)


def harness(cfg: AlertsConfig, policy: DeliveryPolicy = FAST, seed: int = 7) -> Harness:
    import random

    redact = Redactor(secrets_of(cfg))
    starts: list[tuple[str, float]] = []
    channels: dict[str, Channel] = {
        name: TimedChannel(ch, starts) for name, ch in build_channels(cfg, redact).items()
    }
    router = build_router(cfg, sorted(channels))
    dead: list[DeadLetter] = []
    log: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_dead(letter: DeadLetter) -> None:
        with lock:
            dead.append(letter)

    def on_log(record: dict[str, Any]) -> None:
        with lock:
            log.append(record)

    dispatcher = Dispatcher(
        channels,
        router,
        policy,
        dead_letter=on_dead,
        delivery_log=on_log,
        redact=redact,
        rng=random.Random(seed),
    )
    return Harness(dispatcher, dead, log, starts)
