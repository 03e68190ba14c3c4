"""Each alert channel against a server speaking its wire format: payloads, templates, signatures."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

import pytest

from connectors.alerts.base import Channel, DeliveryError, Redactor
from connectors.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from flows.config import AlertsConfig
from flows.wiring.alerts import build_channels, secrets_of
from operators.alert_router import Target
from tests.connectors.alert_helpers import (
    DISCORD_PATH,
    SLACK_TOKEN,
    SLACK_WEBHOOK_PATH,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    alert,
    config,
)
from tests.services import http_fakes
from tests.services.http_fakes import FakeApis
from tests.services.smtp import PASSWORD, USER, SmtpServer

pytestmark = pytest.mark.service

TX = "0x" + "ab" * 32


def channel(cfg: AlertsConfig, name: str) -> Channel:
    return build_channels(cfg, Redactor(secrets_of(cfg)))[name]


def test_slack_webhook_posts_blocks_with_escaped_title_and_explorer_link(
    fake_apis: FakeApis,
) -> None:
    channel(config(fake_apis.url), "slack").send(alert(), Target("slack", "default", "r1"))
    (request,) = fake_apis.received(SLACK_WEBHOOK_PATH)
    body = request.json()
    assert request.headers["content-type"].startswith("application/json")
    assert body["text"].startswith(":red_circle: CRITICAL · ethereum · Approval to known drainer")
    # Slack mrkdwn control characters are escaped so the title cannot inject links or mentions.
    assert body["blocks"][0]["text"]["text"] == (
        '*Approval to known drainer &lt;0xdead&gt; &amp; "friends"*'
    )
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert fields[1] == "*Chain*\nethereum"
    assert fields[3] == "*Tags*\ndrainer, approval"
    assert f"<https://etherscan.io/tx/{TX}|" in body["blocks"][2]["text"]["text"]
    assert "rule:drainer:0xabc" in body["blocks"][3]["elements"][0]["text"]


def test_slack_web_api_sends_blocks_to_the_recipient_with_the_bot_token(
    fake_apis: FakeApis,
) -> None:
    a = alert(chain_id=8453)
    channel(config(fake_apis.url), "slack_api").send(a, Target("slack_api", "C0123", "r1"))
    (request,) = fake_apis.received("/api/chat.postMessage")
    assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    body = request.json()
    assert body["channel"] == "C0123"
    assert "base" in body["text"]
    assert f"<https://basescan.org/tx/{TX}|" in body["blocks"][2]["text"]["text"]


def test_slack_web_api_errors_are_classified(fake_apis: FakeApis) -> None:
    ch = channel(config(fake_apis.url), "slack_api")
    fake_apis.script(
        "/api/chat.postMessage",
        http_fakes.slack_api_ratelimited(7),
        http_fakes.slack_api_error("channel_not_found"),
    )
    with pytest.raises(DeliveryError) as limited:
        ch.send(alert(), Target("slack_api", "C0123", "r1"))
    assert limited.value.retryable and limited.value.retry_after == 7.0
    assert "ratelimited" in str(limited.value)
    with pytest.raises(DeliveryError) as missing:
        ch.send(alert(), Target("slack_api", "C0NOPE", "r1"))
    assert not missing.value.retryable
    assert "channel_not_found" in str(missing.value)


def test_discord_webhook_posts_an_embed_without_mentions(fake_apis: FakeApis) -> None:
    a = alert(chain_id=42161, title="@everyone drainer approval")
    channel(config(fake_apis.url), "discord").send(a, Target("discord", "default", "r1"))
    (request,) = fake_apis.received(DISCORD_PATH)
    body = request.json()
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["title"] == "CRITICAL · arbitrum · @everyone drainer approval"
    assert embed["color"] == 0xE74C3C
    assert f"(https://arbiscan.io/tx/{TX})" in embed["fields"][2]["value"]
    assert embed["footer"]["text"] == a.key


def test_discord_rate_limit_uses_the_json_retry_after(fake_apis: FakeApis) -> None:
    fake_apis.script(DISCORD_PATH, http_fakes.discord_ratelimited(0.25))
    with pytest.raises(DeliveryError) as exc:
        channel(config(fake_apis.url), "discord").send(alert(), Target("discord", "default", "r"))
    assert exc.value.retryable
    assert exc.value.retry_after == 0.25  # the JSON's 0.25, not the header's rounded 1


def test_webhook_body_is_the_alert_and_its_hmac_signature_verifies(fake_apis: FakeApis) -> None:
    a = alert()
    channel(config(fake_apis.url), "webhook").send(a, Target("webhook", "default", "drainers"))
    (request,) = fake_apis.received(WEBHOOK_PATH)
    body = request.json()
    assert body["alert"]["key"] == a.key
    assert body["alert"]["data"]["amount"] == 2**255 + 1  # big ints stay exact
    assert body["route"] == "drainers"
    timestamp = request.headers[TIMESTAMP_HEADER.lower()]
    signature = request.headers[SIGNATURE_HEADER.lower()]
    # Recomputed independently of the module under test:
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify_signature(WEBHOOK_SECRET, timestamp, request.body, signature)
    assert not verify_signature(WEBHOOK_SECRET, timestamp, request.body + b" ", signature)
    assert not verify_signature("other-key", timestamp, request.body, signature)
    old = str(int(timestamp) - 3600)
    assert not verify_signature(WEBHOOK_SECRET, old, request.body, signature)


def test_user_templates_override_the_bundled_ones(fake_apis: FakeApis, tmp_path: Path) -> None:
    (tmp_path / "slack.json.j2").write_text(
        '{"text": {{ ("ALERT " ~ alert.key ~ " on " ~ chain)|tojson }}}'
    )
    cfg = config(fake_apis.url, templates_dir=str(tmp_path))
    channel(cfg, "slack").send(alert(chain_id=10), Target("slack", "default", "r"))
    channel(cfg, "discord").send(alert(), Target("discord", "default", "r"))
    assert fake_apis.received(SLACK_WEBHOOK_PATH)[0].json() == {
        "text": "ALERT rule:drainer:0xabc on optimism"
    }
    assert "embeds" in fake_apis.received(DISCORD_PATH)[0].json()  # not overridden: bundled


def test_a_broken_user_template_fails_the_delivery_not_the_channel(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    (tmp_path / "slack.json.j2").write_text('{"text": {{ alert.title }}}')  # no tojson: not JSON
    cfg = config(fake_apis.url, templates_dir=str(tmp_path))
    with pytest.raises(DeliveryError) as exc:
        channel(cfg, "slack").send(alert(), Target("slack", "default", "r"))
    assert not exc.value.retryable
    assert str(exc.value).startswith("template error: slack.json.j2 did not render JSON")
    assert fake_apis.received(SLACK_WEBHOOK_PATH) == []


def test_email_over_starttls_with_login(smtp_starttls: SmtpServer) -> None:
    cfg = AlertsConfig(
        smtp_host=smtp_starttls.host,
        smtp_port=smtp_starttls.port,
        smtp_user=USER,
        smtp_password=PASSWORD,
        smtp_starttls=True,
        smtp_ca_file=smtp_starttls.ca_file,
        email_from="scorpius@example.org",
    )
    a = alert()
    target = Target("email", "secops@example.org", "drainers")
    channel(cfg, "email").send(a, target)
    channel(cfg, "email").send(a, target)
    (sender, recipients, msg), (_, _, again) = smtp_starttls.mailbox.messages
    assert sender == "scorpius@example.org"
    assert recipients == ["secops@example.org"]
    # The stdlib folds this long subject onto a continuation line; readers unfold and strip it.
    assert msg["Subject"].strip() == (
        '[Scorpius CRITICAL] ethereum: Approval to known drainer <0xdead> & "friends"'
    )
    assert msg["X-Scorpius-Alert-Key"] == a.key
    assert msg["Message-ID"] == again["Message-ID"]  # same alert, same id: repeats collapse
    text = msg.get_content()
    assert f"https://etherscan.io/tx/{TX}" in text
    assert f"amount: {2**255 + 1}" in text
    assert "route drainers" in text


def test_email_over_implicit_tls(smtp_tls: SmtpServer) -> None:
    cfg = AlertsConfig(
        smtp_host=smtp_tls.host,
        smtp_port=smtp_tls.port,
        smtp_ssl=True,
        smtp_ca_file=smtp_tls.ca_file,
    )
    channel(cfg, "email").send(alert(), Target("email", "a@example.org", "r"))
    assert [m[1] for m in smtp_tls.mailbox.messages] == [["a@example.org"]]


def test_email_transient_and_permanent_failures(smtp_starttls: SmtpServer) -> None:
    base: dict[str, Any] = {
        "smtp_host": smtp_starttls.host,
        "smtp_port": smtp_starttls.port,
        "smtp_user": USER,
        "smtp_ca_file": smtp_starttls.ca_file,
    }
    good = channel(AlertsConfig(**base, smtp_password=PASSWORD), "email")
    smtp_starttls.mailbox.data_replies.append("451 4.3.0 mailbox busy, try later")
    with pytest.raises(DeliveryError) as busy:
        good.send(alert(), Target("email", "a@example.org", "r"))
    assert busy.value.retryable and "451" in str(busy.value)

    wrong = "wrong-password-value-XYZ"
    with pytest.raises(DeliveryError) as denied:
        channel(AlertsConfig(**base, smtp_password=wrong), "email").send(
            alert(), Target("email", "a@example.org", "r")
        )
    assert not denied.value.retryable and "535" in str(denied.value)
    assert wrong not in str(denied.value)

    # Certificate not trusted (no CA file): a configuration error, not retried.
    untrusted = {**base, "smtp_ca_file": ""}
    with pytest.raises(DeliveryError) as tls:
        channel(AlertsConfig(**untrusted, smtp_password=PASSWORD), "email").send(
            alert(), Target("email", "a@example.org", "r")
        )
    assert not tls.value.retryable and "SSLCertVerificationError" in str(tls.value)
    assert smtp_starttls.mailbox.messages == []


def test_secrets_never_reach_errors_or_logs(
    fake_apis: FakeApis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dead_url = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused
    cfg = config(dead_url, smtp_password=PASSWORD)
    secrets = [s for s in secrets_of(cfg) if s]
    errors: list[str] = []
    for name in ("slack", "slack_api", "discord", "webhook"):
        with pytest.raises(DeliveryError) as exc:
            channel(cfg, name).send(alert(), Target(name, "C0123", "r"))
        assert exc.value.retryable
        errors.append(str(exc.value))
        assert exc.value.__cause__ is None and exc.value.__suppress_context__
    # Healthy requests too: urllib3 and slack-sdk log request lines and headers at DEBUG.
    live = config(fake_apis.url)
    for name in ("slack", "slack_api", "discord", "webhook"):
        channel(live, name).send(alert(), Target(name, "C0123", "r"))
    assert any("[redacted]" in e for e in errors)
    texts = [*errors, caplog.text]
    for secret in [*secrets, *[s for s in secrets_of(live) if s]]:
        for text in texts:
            assert secret not in text
    for path in (SLACK_WEBHOOK_PATH, DISCORD_PATH):
        assert path not in caplog.text
    assert '"POST [redacted] HTTP/1.1" 204' in caplog.text  # urllib3 logged it, redacted
    assert repr(cfg).count(SLACK_TOKEN) == 0 and PASSWORD not in repr(cfg)


def test_a_second_configs_secrets_are_redacted_in_the_shared_library_logger(
    fake_apis: FakeApis, caplog: pytest.LogCaptureFixture
) -> None:
    # Library loggers are per process; a channel built for an earlier config (another test, a
    # reloaded config) must not leave a filter that knows only the earlier secrets.
    caplog.set_level(logging.DEBUG)
    first = config(
        "http://127.0.0.1:9", slack_webhook_url="http://127.0.0.1:9/services/T0/B0/first"
    )
    channel(first, "slack")
    live = config(fake_apis.url)
    channel(live, "slack").send(alert(), Target("slack", "C0123", "r"))
    assert "Sending a request" in caplog.text
    for secret in [s for s in secrets_of(live) if s]:
        assert secret not in caplog.text
