"""Which URLs the source connects to, how they are named, and how reconnects are spaced."""

from __future__ import annotations

import random

import pytest
from bytewax.dataflow import Dataflow

from connectors.retry import backoff_delay
from connectors.rpc import Endpoint, redact
from flows.config import ConfigError, load_config
from flows.wiring.rpc import endpoints_from_config
from flows.wiring.sources import raw_input


def test_urls_of_every_chain_and_extra_chains_become_endpoints() -> None:
    cfg = load_config(
        {
            "ETHEREUM_RPC_URLS": "wss://eth-a.example/ws, wss://eth-b.example/ws",
            "BASE_RPC_URLS": "https://base.example",
            "ARBITRUM_RPC_URLS": "",
            "SCORPIUS_RPC_EXTRA": "31337=ws://127.0.0.1:8545",
        }
    ).rpc
    found = endpoints_from_config(cfg)
    assert [(e.chain_id, e.url, e.index) for e in found] == [
        (1, "wss://eth-a.example/ws", 0),
        (1, "wss://eth-b.example/ws", 1),
        (8453, "https://base.example", 0),
        (31337, "ws://127.0.0.1:8545", 0),
    ]
    assert len({e.partition for e in found}) == 4
    assert [e.is_websocket for e in found] == [True, True, False, True]


@pytest.mark.parametrize(
    "env",
    [
        {"SCORPIUS_RPC_EXTRA": "mainnet=ws://x"},
        {"OPTIMISM_RPC_URLS": "ftp://x"},
        {"ETHEREUM_RPC_URLS": "ws://a,ws://a"},
    ],
)
def test_bad_url_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        endpoints_from_config(load_config(env).rpc)


def test_names_carry_no_credentials() -> None:
    assert redact("wss://user:pw@eth.example:8546/ws?key=1#x") == "wss://eth.example:8546/ws"
    key = "0123456789abcdef0123456789abcdef"
    assert redact(f"https://mainnet.infura.io/v3/{key}") == "https://mainnet.infura.io/v3/***"
    endpoint = Endpoint(1, f"wss://u:p@eth-mainnet.g.alchemy.com/v2/{key}")
    assert endpoint.name == "rpc:1:wss://eth-mainnet.g.alchemy.com/v2/***"
    assert key not in endpoint.partition


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 30.0, rng) for attempt in range(12)]
    for attempt, delay in enumerate(delays):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[-4:]}) == 4  # capped, but not in lockstep


def test_live_mode_needs_a_url_and_builds_source_plus_dedup() -> None:
    with pytest.raises(ConfigError, match="no node URLs"):
        raw_input("source", Dataflow("f"), load_config({"SCORPIUS_SOURCE_KIND": "rpc"}))
    flow = Dataflow("live")
    cfg = load_config(
        {"SCORPIUS_SOURCE_KIND": "rpc", "SCORPIUS_RPC_EXTRA": "31337=ws://127.0.0.1:1"}
    )
    stream = raw_input("source", flow, cfg)
    assert stream.stream_id.startswith("live.source_dedup.")
