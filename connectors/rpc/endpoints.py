"""Which node URLs serve which chain, and how a URL is named in records without its secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from flows.config import ConfigError, RpcConfig

CHAIN_IDS = {"ethereum": 1, "arbitrum": 42161, "optimism": 10, "base": 8453}

# Provider keys usually sit in the path (Infura /v3/<key>, Alchemy /v2/<key>, QuickNode /<key>/).
_SECRET_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{20,}$")


def redact(url: str) -> str:
    """The URL without user info, query, fragment, or path segments that look like API keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = "/".join("***" if _SECRET_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))


def secret_parts(url: str) -> list[str]:
    """The pieces of ``url`` that ``redact`` hides (user info, query, fragment, key-like path
    segments), longest first: an error message may quote any of them on its own."""
    parts = urlsplit(url)
    found = [parts.query, parts.fragment, parts.username or "", parts.password or ""]
    found += [seg for seg in parts.path.split("/") if _SECRET_SEGMENT.match(seg)]
    found += [value for _, _, value in (p.partition("=") for p in parts.query.split("&"))]
    return sorted({p for p in found if len(p) >= 4}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` and each of its secret parts replaced (errors quote URLs freely)."""
    text = text.replace(url, redact(url))
    for part in secret_parts(url):
        text = text.replace(part, "***")
    return text


# What an endpoint speaks: a node's JSON-RPC, or an L2 sequencer feed (connectors/rpc/feeds.py).
RPC = "rpc"
ARBITRUM_FEED = "arbitrum_feed"
FLASHBLOCKS = "flashblocks"


@dataclass(frozen=True)
class Endpoint:
    chain_id: int
    url: str
    index: int = 0  # position among its chain's URLs: two keys on one provider stay distinct
    feed: str = RPC

    @property
    def name(self) -> str:
        """The endpoint as records name it: ``rpc:<chain>:<url without credentials>`` (the
        feeds: ``arbitrum_feed:...`` / ``flashblocks:...``)."""
        return f"{self.feed}:{self.chain_id}:{redact(self.url)}"

    @property
    def partition(self) -> str:
        prefix = "" if self.feed == RPC else f"{self.feed}:"
        return f"{prefix}{self.chain_id}:{self.index}:{redact(self.url)}"

    @property
    def is_websocket(self) -> bool:
        return self.url.startswith(("ws://", "wss://"))


def _checked(chain_id: int, url: str, index: int, setting: str) -> Endpoint:
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise ConfigError(
            f"{setting}: {redact(url)!r} is not a ws://, wss://, http:// or https:// URL"
        )
    return Endpoint(chain_id, url, index)


def endpoints_from_config(cfg: RpcConfig) -> list[Endpoint]:
    """Every configured (chain, URL), in configuration order."""
    found: list[Endpoint] = []
    per_chain = {
        "ETHEREUM_RPC_URLS": (CHAIN_IDS["ethereum"], cfg.ethereum_urls),
        "ARBITRUM_RPC_URLS": (CHAIN_IDS["arbitrum"], cfg.arbitrum_urls),
        "OPTIMISM_RPC_URLS": (CHAIN_IDS["optimism"], cfg.optimism_urls),
        "BASE_RPC_URLS": (CHAIN_IDS["base"], cfg.base_urls),
    }
    counts: dict[int, int] = {}
    for setting, (chain_id, urls) in per_chain.items():
        for url in urls:
            found.append(_checked(chain_id, url, counts.get(chain_id, 0), setting))
            counts[chain_id] = counts.get(chain_id, 0) + 1
    for pair in cfg.extra:
        chain_text, sep, url = pair.partition("=")
        if not sep or not chain_text.strip().isdigit():
            shown = f"{chain_text.strip()[:16]}={redact(url.strip())}" if sep else redact(pair)
            raise ConfigError(f"SCORPIUS_RPC_EXTRA: {shown!r} is not chain_id=url")
        chain_id = int(chain_text)
        found.append(_checked(chain_id, url.strip(), counts.get(chain_id, 0), "SCORPIUS_RPC_EXTRA"))
        counts[chain_id] = counts.get(chain_id, 0) + 1
    feeds = {
        "ARBITRUM_FEED_URLS": (CHAIN_IDS["arbitrum"], ARBITRUM_FEED, cfg.arbitrum_feed_urls),
        "OPTIMISM_FLASHBLOCKS_URLS": (
            CHAIN_IDS["optimism"],
            FLASHBLOCKS,
            cfg.optimism_flashblocks_urls,
        ),
        "BASE_FLASHBLOCKS_URLS": (CHAIN_IDS["base"], FLASHBLOCKS, cfg.base_flashblocks_urls),
    }
    for setting, (chain_id, feed, urls) in feeds.items():
        for index, url in enumerate(urls):
            if not url.startswith(("ws://", "wss://")):
                raise ConfigError(f"{setting}: {redact(url)!r} is not a ws:// or wss:// URL")
            found.append(Endpoint(chain_id, url, index, feed))
    if len({(e.chain_id, e.url, e.feed) for e in found}) != len(found):
        raise ConfigError("RPC URLs: the same URL is configured twice for one chain")
    return found
