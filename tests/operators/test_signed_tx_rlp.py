"""The signed-tx decoder's own RLP reader against the ``rlp`` package (another implementation),
and senders recovered on a thread pool against the same recovered inline."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import brotli
import pytest
import rlp

from operators.l2.flashblocks import FlashblockDecoder
from operators.l2.items import SenderRecovery
from operators.records import DeadLetter, RawItem
from operators.signed_tx import BadTx, decode_signed_tx, rlp_decode
from tests.connectors.l2_frames import BASE, FLASHBLOCK_TXS, base_signed_txs

SIZES = (0, 1, 2, 55, 56, 255, 256, 1024, 66_000)


def random_item(rng: random.Random, depth: int = 0) -> Any:
    if depth < 3 and rng.random() < 0.3:
        return [random_item(rng, depth + 1) for _ in range(rng.choice((0, 1, 3, 12)))]
    size = rng.choice(SIZES)
    if size == 1:
        return bytes((rng.randrange(256),))  # both sides of 0x80
    return rng.randbytes(size)


def reference(data: bytes) -> Any:
    """What the ``rlp`` package decodes, where ``data`` is the encoding of that (its strict
    decoder lets an item run past the end of its enclosing list when the outer one covers it)."""
    try:
        item = rlp.decode(data, strict=True)
    except rlp.DecodingError:
        return "refused"
    return item if rlp.encode(item) == data else "refused"


def ours(data: bytes) -> Any:
    try:
        return rlp_decode(data)
    except BadTx as exc:
        assert str(exc).startswith("truncated or malformed RLP: "), exc
        return "refused"


def test_rlp_decoding_agrees_with_the_rlp_package_on_valid_and_broken_encodings() -> None:
    rng = random.Random(21)
    for _ in range(150):
        item = random_item(rng)
        data = rlp.encode(item)
        assert ours(data) == item
        broken = [
            data[: rng.randrange(len(data))],  # truncated
            data + bytes((rng.randrange(256),)),  # trailing byte
            bytearray(data),
        ]
        broken[2][rng.randrange(len(data))] = rng.randrange(256)  # one byte changed
        for case in broken:
            assert ours(bytes(case)) == reference(bytes(case)), case[:40]


@pytest.mark.parametrize(
    "data",
    [
        b"\x81\x05",  # a byte below 0x80 wrapped as a string
        b"\xb8\x05abcde",  # long form for a short string
        b"\xb9\x00\x38" + b"a" * 56,  # length with a leading zero
        b"\xf8\x02\x01\x02",  # long form for a short list
        b"\xc2\x01",  # list shorter than announced
        b"\xc1\x01\x02",  # trailing bytes
        b"",
    ],
)
def test_non_canonical_or_truncated_rlp_is_refused(data: bytes) -> None:
    assert ours(data) == "refused" == reference(data)


def nested_lists(depth: int) -> bytes:
    data = b"\xc0"
    for _ in range(depth):
        size = len(data)
        if size < 56:
            data = bytes((0xC0 + size,)) + data
        else:
            length = size.to_bytes((size.bit_length() + 7) // 8, "big")
            data = bytes((0xF7 + len(length),)) + length + data
    return data


def test_deeply_nested_lists_are_refused_not_a_recursion_error() -> None:
    assert ours(nested_lists(15)) != "refused"
    deep = nested_lists(5_000)  # past Python's recursion limit
    assert ours(deep) == "refused"
    with pytest.raises(BadTx, match="lists nested deeper than"):
        decode_signed_tx(b"\x02" + deep)


def test_senders_recovered_on_a_thread_pool_equal_the_inline_ones_in_order() -> None:
    frame = json.loads(FLASHBLOCK_TXS)
    txs = base_signed_txs()
    broken = bytearray(txs[4])
    broken[-1] ^= 0xFF  # s changed: another (or no) sender, or a dead letter
    frame["diff"]["transactions"].insert(5, "0x" + bytes(broken).hex())
    compressed = brotli.compress(json.dumps(frame).encode())
    _, inline = FlashblockDecoder(BASE, "fb").decode(compressed, 1)
    with ThreadPoolExecutor(3) as pool:
        _, pooled = FlashblockDecoder(BASE, "fb").decode(compressed, 1, SenderRecovery(pool, 3))
    assert pooled == inline
    assert len(inline) == 12 and all(isinstance(i, RawItem | DeadLetter) for i in inline)
    senders = [json.loads(i.payload)["from"] for i in inline if isinstance(i, RawItem)]
    assert len(set(senders[:5])) > 1 and all(len(s) == 42 for s in senders)
