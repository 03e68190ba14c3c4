"""Arbitrum's sequencer feed: a ``BroadcastMessage`` frame → one item per sequenced transaction.

The feed (``wss://arb1.arbitrum.io/feed``, or a node operator's relay) sends JSON frames
``{"version": 1, "messages": [{"sequenceNumber", "message": {"message": {"header", "l2Msg"},
"delayedMessagesRead"}, "signature"}], "confirmedSequenceNumberMessage"?}`` (Offchain Labs'
docs, "How to read the sequencer feed"; nitro's ``broadcaster`` package).

- ``header.kind`` 3 (``L2Message``) carries the sequencer's own transactions in ``l2Msg``
  (base64). Other known kinds are messages from L1 (deposits, retryables, batch-posting
  reports, end of block, ...): they are no user transactions to watch, so they yield nothing.
  An unknown kind is a dead letter.
- ``l2Msg``'s first byte is the L2 message kind: 4 a signed transaction (the rest is its
  envelope), 3 a batch: segments, each an 8-byte big-endian length and a nested L2 message
  (batches nest, at most ``MAX_BATCH_DEPTH`` deep). 6 (heartbeat, deprecated) yields nothing;
  0, 1, 2 and 7 (unsigned, contract, non-mutating call, compressed) are not sent by the
  sequencer and become dead letters, as does any other kind.
- Each transaction's ``position`` is ``(sequenceNumber, index)``: the message's sequence number
  (Arbitrum One block = sequence number + 22,207,817) and its index within the message.

Bad frames lose nothing: a frame that is not a BroadcastMessage, a message that does not decode,
bad base64, a truncated batch, an undecodable or wrong-chain transaction, each becomes a dead
letter with its reason while the rest of the frame goes on.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator

import msgspec

from operators.l2.items import INLINE, SEQUENCED, FrameTxs, SenderRecovery, dead
from operators.records import DeadLetter, RawItem

STAGE = "source.arbitrum_feed"
L1_KIND_L2_MESSAGE = 3
# Kinds of L1 messages the feed also carries (nitro arbos/arbostypes): no sequencer txs in them.
L1_KINDS_FROM_L1 = frozenset({6, 7, 8, 9, 10, 11, 12, 13, 0xFF})
L2_KIND_BATCH = 3
L2_KIND_SIGNED_TX = 4
L2_KIND_HEARTBEAT = 6
L2_KINDS_UNSUPPORTED = {
    0: "unsigned user tx",
    1: "contract tx",
    2: "non-mutating call",
    7: "signed compressed tx",
}
MAX_BATCH_DEPTH = 16
MAX_L2_MESSAGE_BYTES = 256 * 1024  # nitro's MaxL2MessageSize


class _Header(msgspec.Struct):
    kind: int


class _L1Message(msgspec.Struct):
    header: _Header
    l2Msg: str | None = None


class _WithMetadata(msgspec.Struct):
    message: _L1Message


class _FeedMessage(msgspec.Struct):
    sequenceNumber: int
    message: _WithMetadata


class _Broadcast(msgspec.Struct):
    version: int = 1
    messages: list[msgspec.Raw] | None = None


_decode_broadcast = msgspec.json.Decoder(_Broadcast).decode
_decode_message = msgspec.json.Decoder(_FeedMessage).decode


class _Bad(Exception):
    pass


def l2_envelopes(l2msg: bytes, depth: int = 0) -> Iterator[bytes | _Bad]:
    """The signed envelopes in an L2 message, in order; problems are yielded, not raised, so
    one bad segment of a batch costs only itself (a truncated one ends the batch)."""
    if not l2msg:
        yield _Bad("empty l2 message")
        return
    kind, body = l2msg[0], l2msg[1:]
    if kind == L2_KIND_SIGNED_TX:
        yield body
    elif kind == L2_KIND_BATCH:
        if depth >= MAX_BATCH_DEPTH:
            yield _Bad(f"batch nested deeper than {MAX_BATCH_DEPTH}")
            return
        offset = 0
        while offset < len(body):
            if len(body) - offset < 8:
                yield _Bad(f"truncated batch: {len(body) - offset} bytes left, no segment length")
                return
            size = int.from_bytes(body[offset : offset + 8], "big")
            offset += 8
            if size > MAX_L2_MESSAGE_BYTES or size > len(body) - offset:
                yield _Bad(f"truncated batch: segment of {size} bytes, {len(body) - offset} left")
                return
            yield from l2_envelopes(body[offset : offset + size], depth + 1)
            offset += size
    elif kind == L2_KIND_HEARTBEAT:
        return
    elif kind in L2_KINDS_UNSUPPORTED:
        yield _Bad(f"unsupported l2 message kind {kind} ({L2_KINDS_UNSUPPORTED[kind]})")
    else:
        yield _Bad(f"unknown message kind: l2 message kind {kind}")


def decode_feed_frame(
    frame: bytes | str,
    chain_id: int,
    source: str,
    seen_ms: int,
    recovery: SenderRecovery = INLINE,
) -> tuple[list[RawItem | DeadLetter], int | None]:
    """Every sequenced transaction of one feed frame, a dead letter per problem, and the
    frame's highest sequence number (None if it has no message): where a client resumes."""
    try:
        broadcast = _decode_broadcast(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        reason = f"garbage frame: not a BroadcastMessage: {exc}"
        return [dead(STAGE, reason, _text(frame), source, chain_id, seen_ms)], None
    if broadcast.version != 1:
        reason = f"unknown feed version: {broadcast.version}"
        return [dead(STAGE, reason, _text(frame), source, chain_id, seen_ms)], None
    txs = FrameTxs(SEQUENCED, chain_id, source, seen_ms, STAGE)
    highest: int | None = None
    for raw in broadcast.messages or ():
        try:
            message = _decode_message(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            txs.letter(f"garbage message: {exc}", bytes(raw).decode("utf-8", "replace"))
            continue
        highest = max(highest or 0, message.sequenceNumber)
        _add_message(txs, message, bytes(raw))
    return txs.items(recovery), highest


def _text(frame: bytes | str) -> str:
    return frame if isinstance(frame, str) else frame.decode("utf-8", "replace")


def _add_message(txs: FrameTxs, message: _FeedMessage, raw: bytes) -> None:
    def letter(reason: str) -> None:
        txs.letter(reason, raw.decode("utf-8", "replace"))

    l1 = message.message.message
    kind = l1.header.kind
    if kind != L1_KIND_L2_MESSAGE:
        if kind not in L1_KINDS_FROM_L1:
            letter(f"unknown message kind: L1 kind {kind}")
        return
    if l1.l2Msg is None:
        letter("l2 message without l2Msg")
        return
    try:
        l2msg = binascii.a2b_base64(l1.l2Msg, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        letter(f"bad base64: {exc}")
        return
    index = 0
    for envelope in l2_envelopes(l2msg):
        if isinstance(envelope, _Bad):
            letter(f"{envelope} (sequence {message.sequenceNumber})")
            continue
        txs.add(envelope, (message.sequenceNumber, index))
        index += 1
