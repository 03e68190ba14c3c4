"""The real L2 feed frames of tests/data/l2 (see NOTICE.md there), frames made from them in each
feed's documented wire format, and a local websocket server that serves frames to the sources.

Only loopback, only the feeds' own wire formats: Arbitrum's feed sends JSON text frames (and the
``Arbitrum-Chain-Id`` response header), Base's Flashblocks endpoint brotli-compressed binary
frames.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import brotli
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.services.ws_fakes import LocalWsServer

DATA = Path(__file__).resolve().parents[1] / "data" / "l2"
ARBITRUM_ONE = 42161
BASE = 8453

ARBITRUM_FRAME = (DATA / "arbitrum-feed-25757171.json").read_bytes()
FLASHBLOCK_TXS = (DATA / "base-flashblock-37646058-10.json").read_bytes()
FLASHBLOCK_DEPOSIT = (DATA / "base-flashblock-26600873-0.json").read_bytes()


def arbitrum_message() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ARBITRUM_FRAME)["messages"][0]
    return message


def arbitrum_signed_tx() -> bytes:
    """The real Arbitrum One tx of the docs frame: its envelope, without the kind byte."""
    return base64.b64decode(arbitrum_message()["message"]["message"]["l2Msg"])[1:]


def base_signed_txs() -> list[bytes]:
    return [bytes.fromhex(t[2:]) for t in json.loads(FLASHBLOCK_TXS)["diff"]["transactions"]]


def batch(*segments: bytes) -> bytes:
    """An L2 message of kind 3: each segment an 8-byte big-endian length and an L2 message."""
    return b"\x03" + b"".join(len(s).to_bytes(8, "big") + s for s in segments)


def signed(envelope: bytes) -> bytes:
    return b"\x04" + envelope


def feed_frame(messages: list[tuple[int, bytes | str]], kind: int = 3) -> bytes:
    """A BroadcastMessage like the docs frame, one message per (sequence, l2Msg); a str l2Msg is
    put in as is (to break its base64)."""
    template = arbitrum_message()
    out = []
    for sequence, l2msg in messages:
        message = json.loads(json.dumps(template))
        message["sequenceNumber"] = sequence
        message["message"]["message"]["header"]["kind"] = kind
        message["message"]["message"]["l2Msg"] = (
            l2msg if isinstance(l2msg, str) else base64.b64encode(l2msg).decode()
        )
        out.append(message)
    return json.dumps({"version": 1, "messages": out}).encode()


class FeedServer(LocalWsServer):
    """A websocket server on a free loopback port sending ``frames`` to each client that
    connects (the ``n``-th connection gets ``frames[min(n, len-1)]``), then keeping it open.

    ``chain_header`` is sent as ``Arbitrum-Chain-Id`` in the handshake response (nitro's relay
    does); ``requests`` records each handshake's headers (the client's resume point)."""

    path = "/feed"

    def __init__(self, frames: list[list[bytes | str]], chain_header: int | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.chain_header = chain_header
        self.requests: list[Headers] = []

    def _respond(self, conn: ServerConnection, request: Request, response: Response) -> Response:
        self.requests.append(request.headers)
        if self.chain_header is not None:
            response.headers["Arbitrum-Chain-Id"] = str(self.chain_header)
        return response

    def _serve_options(self) -> dict[str, Any]:
        return {"process_response": self._respond}

    async def _handle(self, conn: ServerConnection) -> None:
        index = min(len(self.requests), len(self.frames)) - 1
        for frame in self.frames[index]:
            await conn.send(frame)
        await conn.wait_closed()


def brotli_frame(text: bytes) -> bytes:
    return brotli.compress(text)
