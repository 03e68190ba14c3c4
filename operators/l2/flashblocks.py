"""OP-stack Flashblocks: a frame → one item per preconfirmed transaction.

Base's (and other OP-stack chains') sequencer publishes a sub-block every ~200 ms on a public
websocket (``wss://mainnet.flashblocks.base.org/ws``); Base docs, "Flashblocks WebSocket
Reference". Frames are brotli-compressed JSON (binary websocket messages; plain JSON text is
accepted too): ``payload_id``, ``index``, ``base`` (index 0 only: ``block_number``, ``timestamp``
... of the block being built), ``diff.transactions`` (signed envelopes, hex) and ``metadata``
(``block_number``, ``receipts`` by tx hash; documented as unstable).

Each transaction's ``position`` is ``(block number, flashblock index, index in the
flashblock)``. The block number comes from ``base`` on index 0, else from ``metadata``, else
from the index-0 frame of the same ``payload_id`` seen before (remembered for a few payloads).
A frame whose block is unknown, that does not decompress or decode, or that decompresses beyond
the size limit, is a dead letter; so is each transaction that does not decode or is signed for
another chain.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import brotli
import msgspec

from operators.l2 import FLASHBLOCK_KIND
from operators.l2.items import INLINE, PRECONFIRMED, FrameTxs, SenderRecovery, dead
from operators.records import DeadLetter, RawItem, Receipt

STAGE = "source.flashblocks"
REMEMBERED_PAYLOADS = 64


class OversizeFrame(ValueError):
    pass


class _Base(msgspec.Struct):
    block_number: str
    timestamp: str | None = None


class _Diff(msgspec.Struct):
    transactions: list[str] = []


class _Log(msgspec.Struct):
    address: str
    topics: list[str] = []
    data: str = "0x"


class _ReceiptData(msgspec.Struct):
    status: str | None = None
    cumulativeGasUsed: str | None = None
    logs: list[_Log] = []


class _Metadata(msgspec.Struct):
    block_number: int | None = None
    receipts: dict[str, dict[str, _ReceiptData]] = {}


class Flashblock(msgspec.Struct):
    payload_id: str
    index: int
    diff: _Diff
    base: _Base | None = None
    metadata: _Metadata | None = None


_decode_flashblock = msgspec.json.Decoder(Flashblock).decode


class FlashblockItem(msgspec.Struct):
    """The payload of a ``RawItem(kind="flashblock")``: a decoded flashblock with its block
    number and its txs' hashes in order, for the preconfirmed MEV step (operators/l2/preconfirmed)."""

    block_number: int
    tx_hashes: list[str]
    flashblock: Flashblock


_encode_item = msgspec.json.Encoder().encode
decode_flashblock_item = msgspec.json.Decoder(FlashblockItem).decode


def flashblock_item(
    flashblock: Flashblock,
    items: list[RawItem | DeadLetter],
    chain_id: int,
    source: str,
    seen_ms: int,
) -> RawItem | None:
    """The flashblock as one more item when its receipts have logs (something to classify)."""
    receipts = flashblock.metadata.receipts if flashblock.metadata else {}
    if not any(data.logs for by_type in receipts.values() for data in by_type.values()):
        return None
    txs = [i for i in items if isinstance(i, RawItem)]
    if not txs:
        return None
    number = int(_decode_position(txs[0].payload).position[0])
    hashes = [i.hash or "" for i in txs]
    payload = _encode_item(FlashblockItem(number, hashes, flashblock))
    ref = f"{flashblock.payload_id}/{flashblock.index}"
    return RawItem(FLASHBLOCK_KIND, chain_id, source, seen_ms, payload, ref)


class _Position(msgspec.Struct):
    position: list[int]


_decode_position = msgspec.json.Decoder(_Position).decode


def decompress(frame: bytes, max_bytes: int) -> bytes:
    """A frame's JSON: brotli-decompressed, refusing to grow past ``max_bytes`` (a small frame
    may decompress to gigabytes)."""
    if frame[:1] in (b"{", b" ", b"\n"):
        return frame
    decompressor = brotli.Decompressor()
    out = decompressor.process(frame, output_buffer_limit=max_bytes + 1)
    if len(out) > max_bytes or not decompressor.is_finished():
        if len(out) > max_bytes:
            raise OversizeFrame(f"oversize frame: decompresses to more than {max_bytes} bytes")
        raise brotli.error("truncated brotli stream")
    return out


def receipts_of(flashblock: Flashblock, order: dict[str, int] | None = None) -> list[Receipt]:
    """The receipts the frame's metadata carries, as the normalizer shapes them (logs with their
    index within the tx; gas figures are cumulative there, so ``gas_used`` is left 0).
    ``order`` gives each tx hash its index in the flashblock (``tx_index``; -1 if unknown)."""
    receipts = flashblock.metadata.receipts if flashblock.metadata else {}
    out: list[Receipt] = []
    for tx_hash, by_type in receipts.items():
        for data in by_type.values():
            logs = tuple(
                {
                    "address": log.address.lower(),
                    "topics": tuple(t.lower() for t in log.topics),
                    "data": log.data.lower(),
                    "log_index": i,
                }
                for i, log in enumerate(data.logs)
            )
            status = None if data.status is None else int(data.status, 16)
            index = (order or {}).get(tx_hash.lower(), -1)
            out.append(Receipt(tx_hash.lower(), index, status, 0, None, None, None, logs))
    out.sort(key=lambda r: r.tx_index)
    return out


@dataclass
class FlashblockDecoder:
    """Decodes one connection's frames; remembers the block number of recent payloads."""

    chain_id: int
    source: str
    max_frame_bytes: int = 16 << 20
    _blocks: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def block_number(self, flashblock: Flashblock) -> int | None:
        number: int | None = None
        if flashblock.base is not None:
            number = int(flashblock.base.block_number, 16)
        elif flashblock.metadata is not None and flashblock.metadata.block_number is not None:
            number = flashblock.metadata.block_number
        else:
            number = self._blocks.get(flashblock.payload_id)
        if number is not None and flashblock.payload_id not in self._blocks:
            self._blocks[flashblock.payload_id] = number
            while len(self._blocks) > REMEMBERED_PAYLOADS:
                self._blocks.popitem(last=False)
        return number

    def decode(
        self, frame: bytes | str, seen_ms: int, recovery: SenderRecovery = INLINE
    ) -> tuple[Flashblock | None, list[RawItem | DeadLetter]]:
        """The decoded flashblock (None if the frame is no flashblock) and its items."""

        def letter(reason: str, payload: str) -> DeadLetter:
            return dead(STAGE, reason, payload, self.source, self.chain_id, seen_ms)

        try:
            raw = (
                frame.encode()
                if isinstance(frame, str)
                else decompress(frame, self.max_frame_bytes)
            )
            flashblock = _decode_flashblock(raw)
        except OversizeFrame as exc:
            return None, [letter(str(exc), "")]
        except brotli.error as exc:
            return None, [letter(f"garbage frame: not brotli: {exc}", _show(frame))]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return None, [letter(f"garbage frame: not a flashblock: {exc}", _show(raw))]
        number = self.block_number(flashblock)
        if number is None:
            return flashblock, [
                letter(
                    f"block unknown: flashblock {flashblock.payload_id}/{flashblock.index} "
                    "has no block number and its index 0 was not seen",
                    _show(raw),
                )
            ]
        txs = FrameTxs(PRECONFIRMED, self.chain_id, self.source, seen_ms, STAGE)
        for i, text in enumerate(flashblock.diff.transactions):
            try:
                envelope = bytes.fromhex(text[2:] if text.startswith("0x") else text)
            except ValueError as exc:
                txs.letter(f"bad tx hex: {exc}", text)
                continue
            txs.add(envelope, (number, flashblock.index, i))
        return flashblock, txs.items(recovery)


def _show(frame: bytes | str) -> str:
    if isinstance(frame, str):
        return frame
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + frame[:4096].hex()
