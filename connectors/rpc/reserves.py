"""``getReserves()`` of Uniswap V2 pairs (and forks) by ``eth_call`` over JSON-RPC HTTP.

Used by the flow's sandwichable-victim check (``operators.mev.mempool.reserves`` caches it per
block). It runs inside a bytewax step, so it is a plain blocking HTTP call with a short timeout
rather than the source's asyncio client. A chain's websocket URL is asked over HTTP on the same
host and path (ws→http, wss→https), which is how Anvil, geth, Reth and most providers serve both;
an http(s) URL configured for the chain is preferred.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

import requests
from eth_abi import decode
from eth_abi.exceptions import DecodingError

from connectors.rpc.endpoints import Endpoint, redact
from operators.mev.mempool.reserves import ReservesUnavailable

GET_RESERVES = "0x0902f1ac"  # getReserves() -> (uint112, uint112, uint32)
_EMPTY = ("0x", "")


def http_url(url: str) -> str:
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


def urls_by_chain(endpoints: list[Endpoint]) -> dict[int, str]:
    """One HTTP URL per chain: its first http(s) endpoint, else its first websocket's."""
    found: dict[int, str] = {}
    for endpoint in sorted(endpoints, key=lambda e: e.is_websocket):
        found.setdefault(endpoint.chain_id, http_url(endpoint.url))
    return found


class RpcReserves:
    """``fetch(chain_id, pool, block)`` for ``ReservesAtHead.lookup``."""

    def __init__(self, urls: Mapping[int, str], timeout_s: float) -> None:
        self._urls = dict(urls)
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        # One HTTP session per worker thread: workers of a process share this object.
        self._local = threading.local()

    def __call__(self, chain_id: int, pool: str, block: int | None) -> tuple[int, int] | None:
        url = self._urls.get(chain_id)
        if url is None:
            return None  # no node for the chain: no quote
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        body: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "eth_call",
            "params": [
                {"to": pool, "data": GET_RESERVES},
                "latest" if block is None else hex(block),
            ],
        }
        try:
            response = session.post(url, json=body, timeout=self._timeout_s)
            response.raise_for_status()
            reply = response.json()
        except (requests.RequestException, ValueError) as exc:
            # The message names the host only: provider URLs carry API keys.
            raise ReservesUnavailable(
                f"eth_call getReserves on {redact(url)}: {type(exc).__name__}"
            ) from None
        error = reply.get("error")
        if error is not None:
            if "revert" in str(error.get("message", "")).lower():
                return None  # a contract without getReserves: not a V2 pair
            if block is not None:
                # The block came from another URL and this node has not got it yet ("header
                # not found"): its latest state is the nearest there is.
                return self(chain_id, pool, None)
            raise ReservesUnavailable(f"eth_call getReserves: error {error.get('code')}")
        result = reply.get("result")
        if result in _EMPTY or not isinstance(result, str):
            return None  # no contract at the address: the pair was never created
        try:
            reserve0, reserve1, _ = decode(
                ["uint112", "uint112", "uint32"], bytes.fromhex(result[2:])
            )
        except (DecodingError, ValueError):
            return None  # something else answers that selector: not a pair
        return int(reserve0), int(reserve1)
