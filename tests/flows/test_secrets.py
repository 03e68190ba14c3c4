"""Secrets come from the environment or ``<VAR>_FILE`` only, and never show: not in repr(config),
``scorpius config``, configuration errors, connector errors or log lines. TLS / SASL options reach
the clients."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web
from clickhouse_driver import Client

from connectors.clickhouse.schema import apply_schema
from connectors.rpc.endpoints import Endpoint, scrub
from connectors.rpc.session import EndpointSession
from flows.commands import config as config_command
from flows.config import ConfigError, RpcConfig, load_config
from flows.wiring.kafka import record_sink
from flows.wiring.rpc import endpoints_from_config, rpc_settings
from operators.records import DeadLetter
from tests.services.ports import free_port

RPC_KEY = "a1b2c3d4e5f6a7b8c9d0e1f2"  # an Infura-style key in the path
RPC_QUERY_KEY = "qk-9f8e7d6c5b4a"
SECRETS = {
    "ETHEREUM_RPC_URLS": f"wss://mainnet.example.io/v3/{RPC_KEY}?apikey={RPC_QUERY_KEY}",
    "SCORPIUS_ALERTS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/slackHookSecret77",
    "SCORPIUS_ALERTS_SLACK_BOT_TOKEN": "xoxb-1-2-slackBotSecret",
    "SCORPIUS_ALERTS_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/discordSecret88",
    "SCORPIUS_ALERTS_WEBHOOK_URL": "https://hooks.example.com/in/webhookSecret99",
    "SCORPIUS_ALERTS_WEBHOOK_SECRET": "hmacSecret-xyz",
    "SCORPIUS_ALERTS_SMTP_PASSWORD": "smtpPassw0rd!",
    "SCORPIUS_KAFKA_SASL_PASSWORD": "kafkaSaslPassw0rd",
    "SCORPIUS_KAFKA_SSL_KEY_PASSWORD": "kafkaKeyPassw0rd",
    "SCORPIUS_STORAGE_CLICKHOUSE_URL": "clickhouse://scorpius:chUrlPassw0rd@127.0.0.1:9000/db",
    "SCORPIUS_STORAGE_CLICKHOUSE_PASSWORD": "chPassw0rd",
}
NEEDLES = [
    RPC_KEY,
    RPC_QUERY_KEY,
    "slackHookSecret77",
    "slackBotSecret",
    "discordSecret88",
    "webhookSecret99",
    "hmacSecret-xyz",
    "smtpPassw0rd",
    "kafkaSaslPassw0rd",
    "kafkaKeyPassw0rd",
    "chUrlPassw0rd",
    "chPassw0rd",
]


def assert_clean(text: str) -> None:
    leaked = [n for n in NEEDLES if n in text]
    assert not leaked, f"secrets shown: {leaked}"


def test_repr_of_the_config_shows_no_secret() -> None:
    cfg = load_config(SECRETS)
    assert cfg.kafka.sasl_password == "kafkaSaslPassw0rd"  # loaded, just not shown
    assert_clean(repr(cfg))
    assert_clean(str(cfg.alerts) + str(cfg.storage) + str(cfg.rpc) + str(cfg.kafka))


@pytest.mark.parametrize("markdown", [False, True])
def test_scorpius_config_output_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], markdown: bool
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert config_command.show(argparse.Namespace(markdown=markdown, update=None)) == 0
    out = capsys.readouterr().out
    assert "SCORPIUS_KAFKA_SASL_PASSWORD" in out
    assert_clean(out)
    if not markdown:
        assert "SCORPIUS_ALERTS_SMTP_PASSWORD" in out and "(set)" in out


def test_secrets_come_from_files_and_their_errors_name_only_the_path(tmp_path: Path) -> None:
    secret = tmp_path / "sasl"
    secret.write_text("kafkaSaslPassw0rd\n")
    cfg = load_config({"SCORPIUS_KAFKA_SASL_PASSWORD_FILE": str(secret)})
    assert cfg.kafka.sasl_password == "kafkaSaslPassw0rd"
    with pytest.raises(ConfigError) as caught:
        load_config({"SCORPIUS_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "missing")})
    assert "SCORPIUS_KAFKA_SASL_PASSWORD_FILE" in str(caught.value)


def test_a_bad_rpc_setting_is_reported_without_its_key() -> None:
    bad_pair = f"mainnet=wss://mainnet.example.io/v3/{RPC_KEY}?apikey={RPC_QUERY_KEY}"
    with pytest.raises(ConfigError) as caught:
        endpoints_from_config(RpcConfig(extra=(bad_pair,)))
    assert "SCORPIUS_RPC_EXTRA" in str(caught.value)
    assert_clean(str(caught.value))
    bad_url = f"ftp://mainnet.example.io/v3/{RPC_KEY}?apikey={RPC_QUERY_KEY}"
    with pytest.raises(ConfigError) as caught:
        endpoints_from_config(RpcConfig(ethereum_urls=(bad_url,)))
    assert_clean(str(caught.value))


def test_scrub_hides_every_secret_part_of_a_url() -> None:
    url = f"https://user:pw-secret-1@node.example.io/v3/{RPC_KEY}?apikey={RPC_QUERY_KEY}"
    quoted = (
        f"500, url=URL('{url}'), path /v3/{RPC_KEY}, key {RPC_QUERY_KEY}, pw pw-secret-1, "
        f"full {url}"
    )
    text = scrub(quoted, url)
    assert_clean(text)
    assert "pw-secret-1" not in text and "node.example.io" in text


def test_rpc_session_errors_and_logs_show_no_key(caplog: pytest.LogCaptureFixture) -> None:
    """A real node that answers 401 with the request URL in its body, as providers do."""
    letters: list[object] = []

    async def scenario() -> None:
        async def reject(request: web.Request) -> web.Response:
            return web.Response(status=401, text=f"invalid project id: {request.url}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", reject)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}/v3/{RPC_KEY}?apikey={RPC_QUERY_KEY}"
        cfg = RpcConfig(backoff_initial_s=0.05, backoff_max_s=0.1, request_timeout_s=1.0)
        session = EndpointSession(Endpoint(1, url), rpc_settings(cfg), letters.append)
        stop = asyncio.Event()
        task = asyncio.create_task(session.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await task
        await runner.cleanup()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    # Scorpius's own lines (the fake node's access log is the node's business).
    ours = [r for r in caplog.records if r.name.startswith(("connectors", "operators", "flows"))]
    logged = "\n".join(r.getMessage() for r in ours)
    assert "401" in logged  # the session did log its failures
    assert_clean(logged)
    for letter in letters:
        assert_clean(repr(letter))


def test_clickhouse_connection_failure_shows_no_password(caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_config(
        {
            "SCORPIUS_STORAGE_CLICKHOUSE_URL": f"clickhouse://scorpius@127.0.0.1:{free_port()}/db",
            "SCORPIUS_STORAGE_CLICKHOUSE_PASSWORD": "chPassw0rd",
        }
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as caught:
        apply_schema(cfg.storage.clickhouse_client_url())
    assert_clean(str(caught.value) + repr(caught.value))
    assert_clean("\n".join(r.getMessage() for r in caplog.records))


def test_clickhouse_tls_and_password_reach_the_driver() -> None:
    cfg = load_config(
        {
            "SCORPIUS_STORAGE_CLICKHOUSE_URL": "clickhouse://scorpius@ch.example:9440/db?connect_timeout=7",
            "SCORPIUS_STORAGE_CLICKHOUSE_PASSWORD": "p@ss/w:rd",
            "SCORPIUS_STORAGE_CLICKHOUSE_SECURE": "true",
            "SCORPIUS_STORAGE_CLICKHOUSE_CA_CERTS": "/etc/ssl/ch-ca.pem",
            "SCORPIUS_STORAGE_CLICKHOUSE_VERIFY": "false",
        }
    )
    connection = Client.from_url(cfg.storage.clickhouse_client_url()).connection
    assert connection.secure_socket is True
    assert connection.verify_cert is False
    assert connection.ssl_options.get("ca_certs") == "/etc/ssl/ch-ca.pem"
    assert (connection.user, connection.password) == ("scorpius", "p@ss/w:rd")
    assert (list(connection.hosts), connection.database) == ([("ch.example", 9440)], "db")
    assert connection.connect_timeout == 7.0  # the URL's own options stay
    plain = load_config({"SCORPIUS_STORAGE_CLICKHOUSE_URL": "clickhouse://127.0.0.1:9000/db"})
    assert Client.from_url(plain.storage.clickhouse_client_url()).connection.secure_socket is False


def test_kafka_tls_and_sasl_options_reach_the_client() -> None:
    cfg = load_config(
        {
            **SECRETS,
            "SCORPIUS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SCORPIUS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "SCORPIUS_KAFKA_SASL_USERNAME": "scorpius",
            "SCORPIUS_KAFKA_SSL_CA_LOCATION": "/etc/ssl/kafka-ca.pem",
            "SCORPIUS_KAFKA_EXTRA": "ssl.endpoint.identification.algorithm=https",
        }
    )
    settings = record_sink(cfg.kafka, "alerts")._settings
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["sasl.mechanism"] == "SCRAM-SHA-512"
    assert settings["sasl.username"] == "scorpius"
    assert settings["sasl.password"] == "kafkaSaslPassw0rd"
    assert settings["ssl.ca.location"] == "/etc/ssl/kafka-ca.pem"
    assert settings["ssl.key.password"] == "kafkaKeyPassw0rd"
    assert settings["ssl.endpoint.identification.algorithm"] == "https"
    assert settings["enable.idempotence"] == "true"


def test_dead_letter_records_have_no_secret_fields() -> None:
    # A dead letter is what leaves the process; its fields are stage, reason, payload, source.
    assert set(DeadLetter.__struct_fields__) == {
        "stage",
        "reason",
        "payload",
        "source",
        "chain_id",
        "at_ms",
    }
