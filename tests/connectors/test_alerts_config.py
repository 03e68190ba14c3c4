"""Alert settings: environment names, secrets from files, and secrets that never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.config import ConfigError, load_config, settings_table
from flows.wiring.alerts import build_alert_sink
from operators.alert_router import RoutesError

TOKEN = "xoxb-0000-config-test-token"


def test_alert_settings_have_environment_names_and_secrets_are_marked() -> None:
    rows = {name: is_secret for name, _, is_secret, _ in settings_table()}
    for name in (
        "SCORPIUS_ALERTS_SLACK_WEBHOOK_URL",
        "SCORPIUS_ALERTS_SLACK_BOT_TOKEN",
        "SCORPIUS_ALERTS_DISCORD_WEBHOOK_URL",
        "SCORPIUS_ALERTS_SMTP_PASSWORD",
        "SCORPIUS_ALERTS_WEBHOOK_URL",
        "SCORPIUS_ALERTS_WEBHOOK_SECRET",
    ):
        assert rows[name] is True
    assert rows["SCORPIUS_ALERTS_SMTP_HOST"] is False
    assert rows["SCORPIUS_ALERTS_ROUTES_PATH"] is False


def test_environment_and_secret_files(tmp_path: Path) -> None:
    token_file = tmp_path / "slack-token"
    token_file.write_text(TOKEN + "\n")
    cfg = load_config(
        {
            "SCORPIUS_ALERTS_SLACK_BOT_TOKEN_FILE": str(token_file),
            "SCORPIUS_ALERTS_EMAIL_TO": "a@example.org, b@example.org",
            "SCORPIUS_ALERTS_SMTP_STARTTLS": "false",
            "SCORPIUS_ALERTS_SMTP_PORT": "465",
        }
    ).alerts
    assert cfg.slack_bot_token == TOKEN  # the trailing newline of the file is not part of it
    assert cfg.email_to == ("a@example.org", "b@example.org")
    assert cfg.smtp_starttls is False and cfg.smtp_port == 465
    assert TOKEN not in repr(cfg) and TOKEN not in repr(load_config({}))
    # The variable itself wins over the file.
    both = {
        "SCORPIUS_ALERTS_SLACK_BOT_TOKEN": "direct",
        "SCORPIUS_ALERTS_SLACK_BOT_TOKEN_FILE": str(token_file),
    }
    assert load_config(both).alerts.slack_bot_token == "direct"


def test_an_unreadable_secret_file_names_the_path_only(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match="SCORPIUS_ALERTS_SMTP_PASSWORD_FILE: cannot read"):
        load_config({"SCORPIUS_ALERTS_SMTP_PASSWORD_FILE": str(missing)})
    # Non-secret fields have no _FILE form.
    assert load_config({"SCORPIUS_ALERTS_SMTP_HOST_FILE": str(missing)}).alerts.smtp_host == ""


def test_no_channel_no_sink(tmp_path: Path) -> None:
    assert build_alert_sink(load_config({}).alerts, tmp_path, dead_letter=print) is None


def test_a_route_to_an_unconfigured_channel_fails_at_startup_without_secrets(
    tmp_path: Path,
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n  - send: [discord]\n")
    cfg = load_config(
        {
            "SCORPIUS_ALERTS_ROUTES_PATH": str(routes),
            "SCORPIUS_ALERTS_SLACK_BOT_TOKEN": TOKEN,
            "SCORPIUS_ALERTS_SLACK_CHANNEL": "C1",
        }
    ).alerts
    with pytest.raises(RoutesError, match="'discord', which is not configured") as exc:
        build_alert_sink(cfg, tmp_path, dead_letter=print)
    assert TOKEN not in str(exc.value)
