"""A small JSON-RPC 2.0 client over WebSocket (requests, batches, subscriptions) and over HTTP.

Why not web3.py's WebSocketProvider: it decodes every reply into AttributeDicts with HexBytes and
runs middleware on it, while Scorpius wants the node's JSON bytes untouched (the normalizer reads
them, replay files record them). Here frames are decoded once by msgspec with ``msgspec.Raw``
results, so a transaction object or a block body is handed on as the exact bytes the node sent,
without a decode/encode round trip; the client also has to report garbage and oversize frames as
data, which a provider hides inside exceptions.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import msgspec
from websockets.asyncio.client import ClientConnection

from operators.clock import now_ms

Params = Sequence[Any]
Call = tuple[str, Params]
NULL = b"null"


class RpcError(Exception):
    """The node answered a request with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message

    @property
    def unsupported(self) -> bool:
        """The node does not offer this method (or these parameters) at all."""
        text = self.message.lower()
        return self.code in (-32601, -32604) or any(
            hint in text
            for hint in ("not supported", "unsupported", "does not exist", "not available")
        )


class OversizeReply(Exception):
    """An HTTP reply was larger than the configured frame limit."""


class _Error(msgspec.Struct):
    code: int = 0
    message: str = ""


class _Params(msgspec.Struct):
    subscription: str
    result: msgspec.Raw


class _Envelope(msgspec.Struct):
    id: int | str | None = None
    method: str | None = None
    params: _Params | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: _Error | None = None


_decode_frame = msgspec.json.Decoder(_Envelope | list[_Envelope]).decode
_encode = msgspec.json.Encoder().encode


def _request(request_id: int, method: str, params: Params) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}


def _result(method: str, reply: _Envelope) -> msgspec.Raw:
    if reply.error is not None:
        raise RpcError(method, reply.error.code, reply.error.message)
    if not reply.result:
        raise RpcError(method, 0, "reply has neither result nor error")
    return reply.result


# Called by the reader for every subscription notification:
# (subscription kind, result bytes, local receive time in ms).
OnNotification = Callable[[str, msgspec.Raw, int], None]
# Called for a frame that is neither a reply nor a notification: (reason, frame text).
OnGarbage = Callable[[str, str], None]


class WsRpc:
    """Requests and subscriptions multiplexed over one open websocket.

    ``read_loop`` must run as a task for replies to arrive; it ends (raising) when the connection
    closes, which is how the session notices a dead node.
    """

    def __init__(
        self,
        ws: ClientConnection,
        timeout: float,
        on_notification: OnNotification,
        on_garbage: OnGarbage,
    ) -> None:
        self._ws = ws
        self._timeout = timeout
        self._on_notification = on_notification
        self._on_garbage = on_garbage
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[asyncio.Future[_Envelope], str | None]] = {}
        self._subscriptions: dict[str, str] = {}

    async def read_loop(self) -> None:
        try:
            await self._read()
        except Exception as exc:
            self._fail_waiting(exc)
            raise
        self._fail_waiting(ConnectionError("the node closed the connection"))

    def _fail_waiting(self, error: Exception) -> None:
        """Requests in flight get the reason the connection ended, not a timeout later."""
        for future, _ in self._waiting.values():
            if not future.done():
                future.set_exception(error)

    async def _read(self) -> None:
        async for frame in self._ws:
            received = now_ms()
            try:
                decoded = _decode_frame(frame)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                self._on_garbage(f"garbage frame: {exc}", text)
                continue
            for envelope in decoded if isinstance(decoded, list) else (decoded,):
                self._dispatch(envelope, received, frame)

    def _dispatch(self, envelope: _Envelope, received: int, frame: str | bytes) -> None:
        if envelope.params is not None and envelope.method is not None:
            kind = self._subscriptions.get(envelope.params.subscription)
            if kind is not None:
                self._on_notification(kind, envelope.params.result, received)
            return  # a notification of a subscription of an earlier connection: not ours
        if isinstance(envelope.id, int) and envelope.id in self._waiting:
            future, subscribe_kind = self._waiting.pop(envelope.id)
            if subscribe_kind is not None and envelope.error is None and envelope.result:
                # Registered here, before the next frame is read, so no notification is missed.
                sub_id = msgspec.json.decode(envelope.result)
                if isinstance(sub_id, str):
                    self._subscriptions[sub_id] = subscribe_kind
            if not future.done():
                future.set_result(envelope)
            return
        if envelope.id is None:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            self._on_garbage("garbage frame: neither a reply nor a subscription notification", text)
        # else: a reply to a request that already timed out; nobody waits for it any more.

    async def _send(self, requests: list[dict[str, Any]] | dict[str, Any]) -> None:
        await self._ws.send(_encode(requests).decode())

    async def call(
        self, method: str, params: Params = (), subscribe: str | None = None
    ) -> msgspec.Raw:
        request_id = next(self._ids)
        future: asyncio.Future[_Envelope] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (future, subscribe)
        try:
            await self._send(_request(request_id, method, params))
            reply = await asyncio.wait_for(future, self._timeout)
        finally:
            self._waiting.pop(request_id, None)
        return _result(method, reply)

    async def batch(self, calls: Sequence[Call]) -> list[msgspec.Raw | RpcError]:
        """One JSON-RPC batch: a result or an RpcError per call, in call order."""
        if not calls:
            return []
        loop = asyncio.get_running_loop()
        ids = [next(self._ids) for _ in calls]
        futures = [loop.create_future() for _ in calls]
        for request_id, future in zip(ids, futures, strict=True):
            self._waiting[request_id] = (future, None)
        try:
            await self._send([_request(i, m, p) for i, (m, p) in zip(ids, calls, strict=True)])
            replies = await asyncio.wait_for(asyncio.gather(*futures), self._timeout)
        finally:
            for request_id in ids:
                self._waiting.pop(request_id, None)
        out: list[msgspec.Raw | RpcError] = []
        for (method, _), reply in zip(calls, replies, strict=True):
            try:
                out.append(_result(method, reply))
            except RpcError as exc:
                out.append(exc)
        return out

    async def subscribe(self, kind: str, params: Params) -> None:
        await self.call("eth_subscribe", params, subscribe=kind)


class HttpRpc:
    """Requests and batches over HTTP POST, for nodes reached by http(s):// (polled)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, max_bytes: int) -> None:
        self._session = session
        self._url = url
        self._max_bytes = max_bytes
        self._ids = itertools.count(1)

    async def _post(self, body: Any) -> _Envelope | list[_Envelope]:
        async with self._session.post(
            self._url, data=_encode(body), headers={"Content-Type": "application/json"}
        ) as resp:
            resp.raise_for_status()
            data = await resp.content.read(self._max_bytes + 1)
            if len(data) > self._max_bytes:
                raise OversizeReply(f"HTTP reply over {self._max_bytes} bytes")
        return _decode_frame(data)

    async def call(self, method: str, params: Params = ()) -> msgspec.Raw:
        reply = await self._post(_request(next(self._ids), method, params))
        if isinstance(reply, list):
            raise RpcError(method, 0, "a batch reply to a single request")
        return _result(method, reply)

    async def batch(self, calls: Sequence[Call]) -> list[msgspec.Raw | RpcError]:
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        replies = await self._post(
            [_request(i, m, p) for i, (m, p) in zip(ids, calls, strict=True)]
        )
        if not isinstance(replies, list):
            replies = [replies]
        by_id = {reply.id: reply for reply in replies}
        out: list[msgspec.Raw | RpcError] = []
        for request_id, (method, _) in zip(ids, calls, strict=True):
            reply = by_id.get(request_id)
            if reply is None:
                out.append(RpcError(method, 0, "no reply in the batch"))
                continue
            try:
                out.append(_result(method, reply))
            except RpcError as exc:
                out.append(exc)
        return out


Transport = WsRpc | HttpRpc
