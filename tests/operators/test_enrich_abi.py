"""The enricher's eth-abi decoders against eth-abi's stock ones: same values, same refusals.

``HeadCheckingTupleDecoder`` and ``OneWordDecoder`` only skip work (the stock pointer check
decodes static elements a first time; the stock one-word decode recomputes sizes); these tests decode the bundled sample's calldata, and damaged copies of it, with
both and require the same outcome for every method in the table.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from eth_abi.decoding import AddressDecoder, ContextFramesBytesIO
from eth_abi.encoding import AddressEncoder
from eth_abi.registry import BaseEquals, registry
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector

from operators.abi_decoding import DECODE_ERRORS, read_abi_file, tuple_decoder
from operators.enrich import ABI_DIR

SAMPLE = Path(__file__).resolve().parents[2] / "connectors" / "sample" / "mainnet.jsonl.gz"


class StockLowercaseAddressDecoder(AddressDecoder):
    """eth-abi's own address decoder giving lowercase hex, as the enricher's does."""

    decoder_fn = staticmethod(lambda data: "0x" + data.hex())  # type: ignore[assignment]


# eth-abi's stock registry, its addresses in lowercase so that values compare equal.
STOCK = registry.copy()
STOCK.unregister("address")
STOCK.register(BaseEquals("address"), AddressEncoder, StockLowercaseAddressDecoder, label="address")


def _methods() -> dict[str, tuple[str, ...]]:
    """Selector → argument types of every bundled ABI function."""
    table = {}
    for path in sorted(ABI_DIR.glob("*.json")):
        for entry in read_abi_file(path):
            selector = "0x" + function_abi_to_4byte_selector(entry).hex()  # type: ignore[arg-type]
            table[selector] = tuple(collapse_if_tuple(dict(p)) for p in entry.get("inputs", []))
    return table


METHODS = _methods()
UR_INPUTS = (
    ("address", "uint256", "uint256", "bytes", "bool"),
    ("address", "uint256", "uint256", "address[]", "bool"),
)


def _sample_calls() -> list[tuple[tuple[str, ...], bytes]]:
    calls = []
    with gzip.open(SAMPLE, "rb") as lines:
        for line in lines:
            payload = json.loads(line)["payload"]
            data = payload.get("input") if isinstance(payload, dict) else None
            if isinstance(data, str) and data[:10] in METHODS:
                types = METHODS[data[:10]]
                calls.append((types, bytes.fromhex(data[10:])))
                if types[:2] == ("bytes", "bytes[]"):  # Universal Router execute: its commands
                    calls.extend(_ur_inputs(types, bytes.fromhex(data[10:])))
    return calls


def _ur_inputs(types: tuple[str, ...], data: bytes) -> list[tuple[tuple[str, ...], bytes]]:
    try:
        commands, inputs, *_ = STOCK.get_tuple_decoder(*types, strict=False)(
            ContextFramesBytesIO(data)
        )
    except DECODE_ERRORS:
        return []
    layouts = {0x00: UR_INPUTS[0], 0x01: UR_INPUTS[0], 0x08: UR_INPUTS[1], 0x09: UR_INPUTS[1]}
    return [
        (layouts[c & 0x7F], bytes(i))
        for c, i in zip(commands, inputs, strict=False)
        if c & 0x7F in layouts
    ]


CALLS = _sample_calls()


def _outcome(decoder: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", decoder(ContextFramesBytesIO(data))
    except DECODE_ERRORS:
        return "refused", None


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """A copy with one word overwritten, bytes flipped, or cut short."""
    buf = bytearray(data)
    choice = rng.randrange(4)
    if choice == 0 and len(buf) >= 32:
        at = rng.randrange(len(buf) // 32) * 32
        word = rng.choice([0, 1, 31, 32, 64, len(buf), len(buf) + 32, 2**255, rng.getrandbits(40)])
        buf[at : at + 32] = word.to_bytes(32, "big")
    elif choice == 1 and buf:
        for _ in range(rng.randint(1, 3)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif choice == 2:
        del buf[rng.randrange(len(buf) + 1) :]
    else:
        buf += bytes(rng.randrange(1, 64))
    return bytes(buf)


def test_the_sample_reaches_many_methods() -> None:
    kinds = {types for types, _ in CALLS}
    assert len(CALLS) > 1000 and len(kinds) >= 10 and set(UR_INPUTS) <= kinds


@pytest.mark.parametrize("types", sorted(set(METHODS.values()) | set(UR_INPUTS)))
def test_head_checking_decoder_is_the_stock_decoder_on_every_method(
    types: tuple[str, ...],
) -> None:
    ours, stock = tuple_decoder(*types), STOCK.get_tuple_decoder(*types, strict=False)
    rng = random.Random(zlib.crc32(repr(types).encode()))
    samples = [data for t, data in CALLS if t == types]
    for data in [*samples[:50], b""]:
        assert _outcome(ours, data) == _outcome(stock, data)
        for _ in range(40):
            damaged = _damaged(data, rng)
            assert _outcome(ours, damaged) == _outcome(stock, damaged), damaged.hex()


def test_damaged_calldata_is_refused_by_both() -> None:
    """The comparison above means something: damage makes both decoders refuse often."""
    rng = random.Random(7)
    refused = 0
    for types, data in CALLS[:300]:
        damaged = _damaged(data, rng)
        outcome = _outcome(tuple_decoder(*types), damaged)
        assert outcome == _outcome(STOCK.get_tuple_decoder(*types, strict=False), damaged)
        refused += outcome[0] == "refused"
    assert refused > 50
