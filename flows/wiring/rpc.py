"""Live RPC ingestion from the ``rpc`` config section: endpoints, session settings, the source."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from connectors.rpc.endpoints import (
    ARBITRUM_FEED,
    CHAIN_IDS,
    FLASHBLOCKS,
    RPC,
    Endpoint,
    EndpointError,
    UrlGroup,
    endpoints,
)
from connectors.rpc.settings import RpcSettings
from connectors.rpc.source import RpcSource
from flows.config import Config, ConfigError, RpcConfig, setting_name
from flows.wiring import settings_of

if TYPE_CHECKING:
    from connectors.rpc.reserves import RpcReserves

# (field of RpcConfig, chain id or None for "chain_id=url" pairs, what the URLs speak), in the
# order endpoints are listed.
URL_FIELDS: tuple[tuple[str, int | None, str], ...] = (
    ("ethereum_urls", CHAIN_IDS["ethereum"], RPC),
    ("arbitrum_urls", CHAIN_IDS["arbitrum"], RPC),
    ("optimism_urls", CHAIN_IDS["optimism"], RPC),
    ("base_urls", CHAIN_IDS["base"], RPC),
    ("extra", None, RPC),
    ("arbitrum_feed_urls", CHAIN_IDS["arbitrum"], ARBITRUM_FEED),
    ("optimism_flashblocks_urls", CHAIN_IDS["optimism"], FLASHBLOCKS),
    ("base_flashblocks_urls", CHAIN_IDS["base"], FLASHBLOCKS),
)


def url_settings() -> list[str]:
    """The environment names of every URL setting (for "set one of ..." messages)."""
    return [setting_name(f"rpc.{name}") for name, _, _ in URL_FIELDS]


def endpoints_from_config(cfg: RpcConfig) -> list[Endpoint]:
    """Every configured (chain, URL), in configuration order."""
    groups = [
        UrlGroup(setting_name(f"rpc.{name}"), chain_id, getattr(cfg, name), feed)
        for name, chain_id, feed in URL_FIELDS
    ]
    try:
        return endpoints(groups)
    except EndpointError as exc:
        raise ConfigError(str(exc)) from None


def rpc_settings(cfg: RpcConfig) -> RpcSettings:
    """What each node or feed session needs, taken from the section's same-named fields."""
    if cfg.feed_recovery_threads < 0:
        raise ConfigError(
            f"{setting_name('rpc.feed_recovery_threads')}={cfg.feed_recovery_threads}: "
            "a number of threads, 0 for inline"
        )
    return settings_of(RpcSettings, cfg)


def rpc_reserves(cfg: Config) -> RpcReserves:
    """Pool reserves (eth_call getReserves) from the configured nodes, for quoting swaps."""
    from connectors.rpc.reserves import RpcReserves, urls_by_chain

    return RpcReserves(urls_by_chain(endpoints_from_config(cfg.rpc)), cfg.detect.reserves_timeout_s)


def rpc_source(
    endpoints: list[Endpoint], cfg: RpcConfig, stop: threading.Event | None = None
) -> RpcSource:
    return RpcSource(endpoints, rpc_settings(cfg), stop)
