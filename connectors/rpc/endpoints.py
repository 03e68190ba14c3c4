"""Which node URLs serve which chain, and how a URL is named in records without its secrets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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


class EndpointError(ValueError):
    """A node or feed URL that cannot be used; the message never holds the URL's secrets."""


@dataclass(frozen=True)
class UrlGroup:
    """URLs of one chain (``chain_id``), or "chain_id=url" pairs (``chain_id`` None); ``label``
    is what an error names (the caller's setting)."""

    label: str
    chain_id: int | None
    urls: tuple[str, ...]
    feed: str = RPC


def _chain_and_url(group: UrlGroup, text: str) -> tuple[int, str]:
    if group.chain_id is not None:
        return group.chain_id, text
    chain_text, sep, url = text.partition("=")
    if not sep or not chain_text.strip().isdigit():
        shown = f"{chain_text.strip()[:16]}={redact(url.strip())}" if sep else redact(text)
        raise EndpointError(f"{group.label}: {shown!r} is not chain_id=url")
    return int(chain_text), url.strip()


def endpoints(groups: Sequence[UrlGroup]) -> list[Endpoint]:
    """Every (chain, URL) of ``groups``, in their order; a URL's index counts its chain's URLs
    of the same kind (node or feed)."""
    found: list[Endpoint] = []
    counts: dict[tuple[int, str], int] = {}
    for group in groups:
        schemes = (
            ("ws://", "wss://") if group.feed != RPC else ("ws://", "wss://", "http://", "https://")
        )
        for text in group.urls:
            chain_id, url = _chain_and_url(group, text)
            if not url.startswith(schemes):
                allowed = ", ".join(schemes[:-1]) + f" or {schemes[-1]}"
                raise EndpointError(f"{group.label}: {redact(url)!r} is not a {allowed} URL")
            index = counts.get((chain_id, group.feed), 0)
            found.append(Endpoint(chain_id, url, index, group.feed))
            counts[(chain_id, group.feed)] = index + 1
    if len({(e.chain_id, e.url, e.feed) for e in found}) != len(found):
        raise EndpointError("RPC URLs: the same URL is configured twice for one chain")
    return found
