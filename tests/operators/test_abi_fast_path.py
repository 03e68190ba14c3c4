"""The ABI layer's fast path (``decode_bytes``) against eth-abi: same values, same refusals.

The fast reader slices values straight out of the calldata and hands anything it does not accept
back to eth-abi. These tests hold it to eth-abi's stock decoders on the bundled sample's calldata,
on generated calldata of every kind it reads (tuples, arrays of tuples, strings, signed ints, ...),
and on damaged copies of both, strict and not: the value is the same, and a refusal is the stream
decoder's own exception with its own message. They also check that the fast reader does the work
on clean calldata, so that the comparison is not eth-abi against itself.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import pytest
from eth_abi import encode
from eth_abi.decoding import ContextFramesBytesIO
from eth_abi.exceptions import InvalidPointer

from operators.abi_decoding import DECODE_ERRORS, Function, tuple_decoder
from tests.operators.test_enrich_abi import CALLS, METHODS, STOCK, UR_INPUTS, _damaged

# Kinds the bundled ABIs do not use, with a value generator each.
ADDRESS = "0x" + "ab" * 20


def _value(type_: str, rng: random.Random) -> Any:
    if type_.endswith("[]"):
        return [_value(type_[:-2], rng) for _ in range(rng.randrange(4))]
    if type_.startswith("("):
        return tuple(_value(t, rng) for t in _split(type_[1:-1]))
    if type_ == "address":
        return "0x" + rng.randbytes(20).hex()
    if type_ == "bool":
        return rng.random() < 0.5
    if type_ == "string":
        return rng.choice(["", "swap", "ünïcode ✓", "x" * rng.randrange(70)])
    if type_ == "bytes":
        return rng.randbytes(rng.randrange(70))
    if type_.startswith("bytes"):
        return rng.randbytes(int(type_[5:]))
    if type_.startswith("uint"):
        return rng.getrandbits(int(type_[4:]))
    if type_.startswith("int"):
        bits = int(type_[3:])
        return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    raise ValueError(type_)


def _split(types: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(types):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(types[start:i])
            start = i + 1
    return [*parts, types[start:]] if types else parts


GENERATED = [
    ("uint8", "int24", "int256", "bool", "bytes32", "bytes4", "address"),
    ("string", "bytes", "uint256"),
    ("(address,uint24,bool)", "(bytes,address,uint256)", "string[]"),
    ("(address,uint256)[]", "(bytes,int128)[]", "bytes[]", "uint160[]"),
    ("((address,bytes),uint256)", "address[]", "(uint8,(bytes32,address)[])"),
    ("int8[]", "bool[]", "bytes1"),
]


def _generated(types: tuple[str, ...], count: int) -> list[bytes]:
    rng = random.Random(zlib.crc32(repr(types).encode()))
    return [encode(list(types), [_value(t, rng) for t in types]) for _ in range(count)]


def _outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode(data)
    except DECODE_ERRORS as exc:
        return "refused", (type(exc), str(exc))


def _check(types: tuple[str, ...], samples: list[bytes], strict: bool) -> tuple[int, int]:
    """Fast path vs stream path vs stock eth-abi; (clean samples, samples the reader took)."""
    ours = tuple_decoder(*types, strict=strict)
    stock = STOCK.get_tuple_decoder(*types, strict=strict)
    assert ours.reader is not None, f"no fast reader for {types}"
    rng = random.Random(zlib.crc32(repr((types, strict)).encode()))
    taken = 0
    for data in samples:
        for damaged in [data, *(_damaged(data, rng) for _ in range(30))]:
            fast = _outcome(ours.decode_bytes, damaged)
            assert fast == _outcome(lambda d: ours(ContextFramesBytesIO(d)), damaged), (
                types,
                damaged.hex(),
            )
            expected = _outcome(lambda d: stock(ContextFramesBytesIO(d)), damaged)
            assert fast[0] == expected[0] and (fast[0] == "refused" or fast == expected)
        try:
            ours.reader(data, 0)
            taken += 1
        except Exception:  # the reader's hand-back to eth-abi
            pass
    return len(samples), taken


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("types", sorted(set(METHODS.values()) | set(UR_INPUTS)))
def test_fast_path_is_eth_abi_on_every_bundled_method(types: tuple[str, ...], strict: bool) -> None:
    samples = [data for t, data in CALLS if t == types][:25] or _generated(types, 5)
    _check(types, [*samples, b""], strict)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("types", GENERATED)
def test_fast_path_is_eth_abi_on_generated_calldata(types: tuple[str, ...], strict: bool) -> None:
    clean, taken = _check(types, _generated(types, 25), strict)
    assert taken == clean  # eth-abi's own encoding is always clean


def test_the_fast_path_reads_the_clean_sample_itself() -> None:
    """Almost all of the sample's decodable calldata is read without eth-abi."""
    decoded = taken = 0
    for types, data in CALLS:
        decoder = tuple_decoder(*types)
        try:
            decoder(ContextFramesBytesIO(data))
        except DECODE_ERRORS:
            continue
        decoded += 1
        assert decoder.reader is not None
        try:
            decoder.reader(data, 0)
            taken += 1
        except Exception:  # the reader's hand-back to eth-abi
            pass
    assert decoded > 1000 and taken >= 0.95 * decoded


def test_a_dangling_pointer_is_still_eth_abis_invalid_pointer() -> None:
    """Function.decode_input tells a bad pointer apart (it then reads the static arguments)."""
    swap = Function.parse("swap(uint256 amount0Out,uint256 amount1Out,address to,bytes data)")
    data = encode(["uint256", "uint256", "address", "uint256"], [1, 2, ADDRESS, 0])
    with pytest.raises(InvalidPointer):
        tuple_decoder(*swap.types, strict=True).decode_bytes(data)
    assert swap.decode_input(swap.selector + data.hex()) == {
        "amount0Out": 1,
        "amount1Out": 2,
        "to": ADDRESS,
        "data": None,
    }
