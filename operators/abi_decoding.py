"""The one ABI decoding layer: contract calldata to Python values with eth-abi, addresses lowercase.

Two ways to name the functions, one decoder under both:

- ``Method`` / ``load_methods``: a selector table from Solidity JSON ABI files (the enricher). The
  ABIs are ordinary Solidity JSON ABI files (a list of entries, or an object with an ``abi``
list, as Etherscan and Foundry write them), so users extend the table by dropping a contract's
  ABI into a folder. Everything costly happens once at load: the selector, the canonical
  signature and eth-abi's tuple decoder of every function. Per call only the decoder runs.
- ``Function.parse("transfer(address recipient,uint256 amount)")``: one function from a
  human-readable signature with argument names (the MEV protocol modules), instead of whole ABI
  files; decoded strictly, the way the reference inspectors leave undecodable calls unclassified.
"""

from __future__ import annotations

import binascii
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.decoding import (
    AddressDecoder,
    BaseDecoder,
    BooleanDecoder,
    BytesDecoder,
    ByteStringDecoder,
    ContextFramesBytesIO,
    DynamicArrayDecoder,
    Fixed32ByteSizeDecoder,
    HeadTailDecoder,
    SignedIntegerDecoder,
    SizedArrayDecoder,
    StringDecoder,
    TupleDecoder,
    UnsignedIntegerDecoder,
    decode_uint_256,
)
from eth_abi.encoding import AddressEncoder, BooleanEncoder, TupleEncoder, UnsignedIntegerEncoder
from eth_abi.exceptions import (
    DecodingError,
    InsufficientDataBytes,
    InvalidPointer,
    NonEmptyPaddingBytes,
)
from eth_abi.registry import BaseEquals, is_base_tuple, registry
from eth_utils import big_endian_to_int, function_signature_to_4byte_selector
from eth_utils.abi import abi_to_signature, collapse_if_tuple, function_abi_to_4byte_selector

Converter = Callable[[Any], Any]

# What a malformed argument block makes eth-abi (or the hex parse before it) raise. Decoding
# errors are ordinary here: most of them are calldata of another function with the same selector.
DECODE_ERRORS = (DecodingError, ValueError, OverflowError, TypeError, IndexError)


def call_arguments(input_hex: str) -> bytes:
    """The argument bytes of a call's 0x-hex input: what follows the 4-byte selector.

    Raises ValueError as ``bytes.fromhex`` does. binascii reads plain hex (a normalized tx's) in
    half the time; what it refuses goes to ``bytes.fromhex``, which also skips whitespace.
    """
    arguments = input_hex[10:]
    try:
        return binascii.a2b_hex(arguments)
    except ValueError:
        return bytes.fromhex(arguments)


def _lowercase_hex(value: bytes) -> str:
    return "0x" + value.hex()


class OneWordDecoder(Fixed32ByteSizeDecoder):
    """eth-abi's decoding of a big-endian one-word value (uint, address, bool) in one method.

    The stock ``decode`` reaches the same three steps (read 32 bytes, convert the value, check
    that the padding is zero) through five method calls that recompute the sizes each time;
    here the sizes are computed once. Same checks, same exceptions.
    """

    padding_size: int
    zero_padding: bytes

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.value_bit_size is not None and self.data_byte_size == 32
        self.padding_size = 32 - self.value_bit_size // 8
        self.zero_padding = bytes(self.padding_size)

    def decode(self, stream: ContextFramesBytesIO) -> Any:
        raw = stream.read(32)
        if len(raw) != 32:
            raise InsufficientDataBytes(f"Tried to read 32 bytes, only got {len(raw)} bytes.")
        padding_size = self.padding_size
        value = self.decoder_fn(raw[padding_size:])  # type: ignore[misc]
        if raw[:padding_size] != self.zero_padding:
            raise NonEmptyPaddingBytes(f"Padding bytes were not empty: {raw[:padding_size]!r}")
        return value


class LowercaseAddressDecoder(OneWordDecoder, AddressDecoder):
    """eth-abi's address decoder (padding still checked), giving the 20 bytes as lowercase hex.

    The stock one goes through eth-utils' normalization, the single largest cost of decoding an
    ERC-20 call; the result is the same lowercase address.
    """

    decoder_fn = staticmethod(_lowercase_hex)  # type: ignore[assignment]  # only given bytes


class UintDecoder(OneWordDecoder, UnsignedIntegerDecoder):
    decoder_fn = staticmethod(big_endian_to_int)


class BoolDecoder(OneWordDecoder, BooleanDecoder):
    pass


class HeadCheckingTupleDecoder(TupleDecoder):
    """eth-abi's tuple decoder, whose pointer check reads only the pointers.

    The stock ``validate_pointers`` decodes every static element once just to step over it,
    then ``decode`` decodes it again: for an ERC-20 call that is half the cost. Here static
    elements are stepped over by their size (a tuple without pointers is not checked at all);
    ``decode`` still runs every element's decoder at the same position, so a bad static element
    is refused all the same, and the pointers are checked exactly as eth-abi checks them.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        decoders: tuple[BaseDecoder, ...] = self.decoders or ()
        # eth-abi's own bound for pointers (it counts a static tuple as one slot): kept as is so
        # that exactly the same calldata is accepted.
        self.head_slots = sum(getattr(d, "array_size", 1) for d in decoders)
        # Byte positions of the pointers in the head; None: a static element of unknown size.
        self.pointer_at: tuple[int, ...] | None = None
        # Bytes of the whole tuple when it has no pointers (it is then static itself).
        self.static_size: int | None = None
        # The fast path (below), when every element is of a kind it reads.
        self.reader: Reader | None = None
        positions, at = [], 0
        for decoder in decoders:
            if isinstance(decoder, HeadTailDecoder):
                positions.append(at)
                size: int | None = 32
            else:
                size = _static_size(decoder)
            if size is None:
                return
            at += size
        self.pointer_at = tuple(positions)
        self.static_size = None if positions else at
        self.reader = _tuple_reader(self)

    def validate_pointers(self, stream: ContextFramesBytesIO) -> None:
        pointer_at = self.pointer_at
        if pointer_at is None:
            super().validate_pointers(stream)
            return
        if not pointer_at:
            return  # no pointers: decode reads (and checks) every element anyway
        start = stream.tell()
        end_of_offsets = start + 32 * self.head_slots
        total_stream_length = len(stream.getbuffer())
        for at in pointer_at:
            stream.seek(start + at)
            indicated_idx = start + decode_uint_256(stream)
            if indicated_idx < end_of_offsets or indicated_idx >= total_stream_length:
                raise InvalidPointer(
                    f"Invalid pointer in tuple at location {stream.tell() - 32} in payload"
                )
        stream.seek(start)

    def decode(self, stream: ContextFramesBytesIO) -> tuple[Any, ...]:
        self.validate_pointers(stream)
        return tuple([decoder(stream) for decoder in self.decoders or ()])

    def decode_bytes(self, data: bytes) -> tuple[Any, ...]:
        """The argument values in ``data``, as ``decode`` gives them; raises as eth-abi does."""
        reader = self.reader
        if reader is not None:
            try:
                return reader(data, 0)
            except _NotFast:
                pass  # eth-abi decodes it, or says why not
        return self.decode(ContextFramesBytesIO(data))


def _static_size(decoder: BaseDecoder) -> int | None:
    """Head bytes of a static element, or None when its kind is not known here."""
    if getattr(decoder, "is_dynamic", False):
        return None
    if isinstance(decoder, Fixed32ByteSizeDecoder):
        return 32
    if isinstance(decoder, HeadCheckingTupleDecoder):
        return decoder.static_size
    if isinstance(decoder, SizedArrayDecoder) and decoder.item_decoder is not None:
        item = _static_size(decoder.item_decoder)
        return None if item is None or decoder.array_size is None else item * decoder.array_size
    return None


# --- the fast path: argument values read straight from the calldata ----------------------------
#
# eth-abi reads through a stream, with a decoder object and a handful of method calls per value
# (about 40 us for a V2 router swap). For the kinds router and token calls are made of (uint, int,
# address, bool, bytesN, bytes, string, dynamic arrays and tuples of these), a tuple decoder also
# compiles a reader that slices the values out of the calldata, checking everything eth-abi checks.
# The reader never refuses on its own: whatever it does not accept as it is (short data, dirty
# padding, a bad pointer, bad UTF-8) it hands back to eth-abi, which decodes the same bytes. So a
# refusal is eth-abi's own (same exception, same message), and only clean calldata is read fast.
# tests/operators/test_abi_fast_path.py holds the two to the same values.

Reader = Callable[[bytes, int], Any]  # (calldata, where the value starts) -> the value


class _NotFast(Exception):
    """The fast reader leaves these bytes to eth-abi."""


_ADDRESS_PADDING = bytes(12)


def _uint256(data: bytes, at: int) -> int:
    word = data[at : at + 32]
    if len(word) != 32:
        raise _NotFast
    return int.from_bytes(word, "big")


def _address(data: bytes, at: int) -> str:
    value = data[at + 12 : at + 32]
    if len(value) != 20 or data[at : at + 12] != _ADDRESS_PADDING:
        raise _NotFast
    return "0x" + value.hex()


def _bool(data: bytes, at: int) -> bool:
    word = data[at : at + 32]
    value = int.from_bytes(word, "big")
    if len(word) != 32 or value > 1:
        raise _NotFast
    return value == 1


def _uint_reader(bits: int) -> Reader:
    if bits == 256:
        return _uint256
    limit = 1 << bits  # a value at or above it has non-zero padding

    def read(data: bytes, at: int) -> int:
        word = data[at : at + 32]
        value = int.from_bytes(word, "big")
        if len(word) != 32 or value >= limit:
            raise _NotFast
        return value

    return read


def _int_reader(bits: int) -> Reader:
    bound = 1 << (bits - 1)  # outside [-bound, bound): padding that is not the sign extension

    def read(data: bytes, at: int) -> int:
        word = data[at : at + 32]
        value = int.from_bytes(word, "big", signed=True)
        if len(word) != 32 or not -bound <= value < bound:
            raise _NotFast
        return value

    return read


def _fixed_bytes_reader(size: int) -> Reader:
    padding = bytes(32 - size)  # bytesN is left-aligned: the padding follows the value

    def read(data: bytes, at: int) -> bytes:
        word = data[at : at + 32]
        if len(word) != 32 or word[size:] != padding:
            raise _NotFast
        return word[:size]

    return read


def _byte_string_reader(strict: bool) -> Reader:
    def read(data: bytes, at: int) -> bytes:
        size = _uint256(data, at)
        start = at + 32
        if strict:
            end = start + size + (-size % 32)
            if end > len(data) or data[start + size : end] != bytes(end - start - size):
                raise _NotFast
        elif size > len(data):
            raise _NotFast  # eth-abi's read of a huge length: left to it
        # Not strict, eth-abi gives what there is of a value cut short, as this slice does.
        return data[start : start + size]

    return read


def _string_reader(strict: bool, errors: str) -> Reader:
    read_bytes = _byte_string_reader(strict)

    def read(data: bytes, at: int) -> str:
        try:
            return read_bytes(data, at).decode("utf-8", errors)
        except UnicodeDecodeError:
            raise _NotFast from None

    return read


def _array_reader(item: Reader, item_size: int | None) -> Reader:
    """A dynamic array; ``item_size`` None: the items are dynamic (a head of pointers)."""
    padding = _ADDRESS_PADDING
    if item_size is None:

        def read_dynamic(data: bytes, at: int) -> tuple[Any, ...]:
            count = _uint256(data, at)
            frame = at + 32
            end_of_offsets = frame + 32 * count
            total = len(data)
            if end_of_offsets > total:
                raise _NotFast
            values = []
            for head in range(frame, end_of_offsets, 32):
                target = frame + int.from_bytes(data[head : head + 32], "big")
                if target < end_of_offsets or target >= total:
                    raise _NotFast
                values.append(item(data, target))
            return tuple(values)

        return read_dynamic

    def read_static(data: bytes, at: int) -> tuple[Any, ...]:
        count = _uint256(data, at)
        frame = at + 32
        end = frame + item_size * count
        if end > len(data):
            raise _NotFast
        return tuple([item(data, head) for head in range(frame, end, item_size)])

    def read_addresses(data: bytes, at: int) -> tuple[str, ...]:
        # A swap's path: the bounds are checked once for all the words, then one plain loop.
        count = _uint256(data, at)
        frame = at + 32
        end = frame + 32 * count
        if end > len(data):
            raise _NotFast
        values = []
        for head in range(frame, end, 32):
            if data[head : head + 12] != padding:
                raise _NotFast
            values.append("0x" + data[head + 12 : head + 32].hex())
        return tuple(values)

    return read_addresses if item is _address else read_static


def _compiled(decoder: BaseDecoder) -> tuple[Reader, int | None] | None:
    """The reader of one value and its size in the head (None: dynamic), or None when the fast
    path does not know this decoder (exact classes only: a subclass may decode otherwise)."""
    kind = type(decoder)
    if kind is UintDecoder:
        return _uint_reader(decoder.value_bit_size), 32  # type: ignore[attr-defined]
    if kind is LowercaseAddressDecoder:
        return _address, 32
    if kind is BoolDecoder:
        return _bool, 32
    if kind is SignedIntegerDecoder:
        return _int_reader(decoder.value_bit_size), 32  # type: ignore[attr-defined]
    if kind is BytesDecoder:
        return _fixed_bytes_reader(decoder.value_bit_size // 8), 32  # type: ignore[attr-defined]
    if kind is ByteStringDecoder:
        return _byte_string_reader(decoder.strict), None
    if kind is StringDecoder:
        return _string_reader(decoder.strict, decoder.bytes_errors), None  # type: ignore[attr-defined]
    if kind is DynamicArrayDecoder:
        item = decoder.item_decoder  # type: ignore[attr-defined]
        dynamic = type(item) is HeadTailDecoder
        compiled = _compiled(item.tail_decoder if dynamic else item)
        if compiled is None or (not dynamic and not compiled[1]):
            return None
        return _array_reader(compiled[0], None if dynamic else compiled[1]), None
    if kind is HeadCheckingTupleDecoder:
        reader = decoder.reader  # type: ignore[attr-defined]
        return None if reader is None else (reader, decoder.static_size)  # type: ignore[attr-defined]
    return None


# How the tuple reader takes each element: a uint256 or an address word in place (the two
# commonest kinds, without a call), another static value through its reader, or a value behind a
# pointer.
_WORD_UINT, _WORD_ADDRESS, _STATIC, _POINTED = range(4)


def _tuple_reader(decoder: HeadCheckingTupleDecoder) -> Reader | None:
    if decoder.pointer_at is None:
        return None
    parts: list[tuple[int, int, Reader]] = []  # (how, place in the head, reader)
    at = 0
    for element in decoder.decoders or ():
        dynamic = type(element) is HeadTailDecoder
        compiled = _compiled(element.tail_decoder if dynamic else element)  # type: ignore[attr-defined]
        if compiled is None:
            return None
        reader, size = compiled
        if dynamic:
            parts.append((_POINTED, at, reader))
            at += 32
        elif size is None:
            return None
        else:
            how = (
                _WORD_UINT
                if reader is _uint256
                else _WORD_ADDRESS
                if reader is _address
                else _STATIC
            )
            parts.append((how, at, reader))
            at += size
    head_size = at
    head_bytes = 32 * decoder.head_slots  # eth-abi's bound for pointers

    # Closure cells rather than globals and attribute lookups: this loop runs per argument.
    from_bytes, padding, word_uint, word_address, static = (
        int.from_bytes,
        _ADDRESS_PADDING,
        _WORD_UINT,
        _WORD_ADDRESS,
        _STATIC,
    )

    def read(data: bytes, start: int) -> tuple[Any, ...]:
        total = len(data)
        # Every element reads its place in the head: past this check, the head's words are whole.
        if start + head_size > total:
            raise _NotFast
        end_of_offsets = start + head_bytes
        values: list[Any] = []
        append = values.append
        for how, at, reader in parts:
            at += start
            if how == word_uint:
                append(from_bytes(data[at : at + 32], "big"))
            elif how == word_address:
                if data[at : at + 12] != padding:
                    raise _NotFast
                append("0x" + data[at + 12 : at + 32].hex())
            elif how == static:
                append(reader(data, at))
            else:
                target = start + from_bytes(data[at : at + 32], "big")
                if target < end_of_offsets or target >= total:
                    raise _NotFast
                append(reader(data, target))
        return tuple(values)

    return read


# eth-abi's registry with the faster address, uint, bool and tuple decoders, registered through
# its extension API.
REGISTRY = registry.copy()
REGISTRY.unregister("address")
REGISTRY.register(BaseEquals("address"), AddressEncoder, LowercaseAddressDecoder, label="address")
REGISTRY.unregister("uint")
REGISTRY.register(BaseEquals("uint"), UnsignedIntegerEncoder, UintDecoder, label="uint")
REGISTRY.unregister("bool")
REGISTRY.register(BaseEquals("bool"), BooleanEncoder, BoolDecoder, label="bool")
REGISTRY.unregister("is_base_tuple")
REGISTRY.register(is_base_tuple, TupleEncoder, HeadCheckingTupleDecoder, label="is_base_tuple")


def tuple_decoder(*types: str, strict: bool = False) -> HeadCheckingTupleDecoder:
    """The decoder of an argument list, as ``registry.get_tuple_decoder(*types, strict=strict)``.

    strict=False decodes what the Solidity decoder accepts (it does not check the padding of
    dynamic values); dirty address or integer words are still refused.
    """
    return HeadCheckingTupleDecoder(decoders=[REGISTRY.get_decoder(t, strict) for t in types])


class AbiFileError(ValueError):
    """An ABI file that cannot be read as a list of ABI entries."""


@dataclass(frozen=True, slots=True)
class Method:
    """One function of the table, ready to decode its calldata."""

    selector: str
    name: str
    signature: str
    arg_names: tuple[str, ...]
    # eth-abi's decoder of the argument tuple, built once.
    decoder: HeadCheckingTupleDecoder
    # Per argument: how to turn eth-abi's value into a JSON-friendly one (None: as is).
    converters: tuple[Converter | None, ...]
    # No argument needs converting (ERC-20 calls): ``named`` is then a plain zip.
    plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", not any(self.converters))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The argument values of ``data`` (calldata after the selector); raises DECODE_ERRORS."""
        return self.decoder.decode_bytes(data)

    def named(self, values: Sequence[Any]) -> dict[str, Any]:
        """The arguments by name, bytes as 0x-hex and structs as mappings (for DecodedCall)."""
        if self.plain:
            return dict(zip(self.arg_names, values, strict=True))
        return {
            name: value if convert is None else convert(value)
            for name, convert, value in zip(self.arg_names, self.converters, values, strict=True)
        }


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _converter(param: Mapping[str, Any]) -> Converter | None:
    """How to make one decoded value JSON-friendly, or None when it already is."""
    typ: str = param["type"]
    array_depth = typ.count("[")
    base = typ.split("[", 1)[0]
    if base == "tuple":
        fields = [
            (c.get("name") or f"_{i}", _converter(c)) for i, c in enumerate(param["components"])
        ]

        def convert(value: Any) -> Any:
            return {
                name: v if conv is None else conv(v)
                for (name, conv), v in zip(fields, value, strict=True)
            }

        inner: Converter = convert
    elif base.startswith("bytes"):
        inner = _hex
    else:
        return None
    for _ in range(array_depth):
        inner = _over_items(inner)
    return inner


def _over_items(convert: Converter) -> Converter:
    return lambda values: [convert(v) for v in values]


def make_method(entry: Mapping[str, Any]) -> Method:
    """A Method from one ABI entry of type "function"."""
    inputs = entry.get("inputs", [])
    types = [collapse_if_tuple(dict(p)) for p in inputs]
    return Method(
        selector="0x" + function_abi_to_4byte_selector(entry).hex(),  # type: ignore[arg-type]
        name=entry["name"],
        signature=abi_to_signature(entry),  # type: ignore[arg-type]
        arg_names=tuple(p.get("name") or f"_{i}" for i, p in enumerate(inputs)),
        decoder=tuple_decoder(*types),
        converters=tuple(_converter(p) for p in inputs),
    )


def read_abi_file(path: Path) -> list[Mapping[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AbiFileError(f"{path}: {exc}") from exc
    if isinstance(doc, Mapping):
        doc = doc.get("abi")
    if not isinstance(doc, list):
        raise AbiFileError(f"{path}: expected a list of ABI entries or an object with 'abi'")
    return [e for e in doc if isinstance(e, Mapping) and e.get("type", "function") == "function"]


def load_methods(dirs: Iterable[Path]) -> dict[str, Method]:
    """The selector table of every ``*.json`` ABI in ``dirs``; later files win a selector clash."""
    table: dict[str, Method] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.json")):
            for entry in read_abi_file(path):
                try:
                    method = make_method(entry)
                except (KeyError, ValueError, TypeError) as exc:
                    raise AbiFileError(f"{path}: bad function entry {entry!r}: {exc}") from exc
                table[method.selector] = method
    return table


# --- functions from human-readable signatures --------------------------------------------------


def _is_dynamic(type_: str) -> bool:
    return type_ in ("bytes", "string") or "[]" in type_ or "bytes," in type_ or "bytes)" in type_


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses (tuple types)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    tail = text[start:]
    if tail.strip():
        parts.append(tail)
    return [part.strip() for part in parts]


@dataclass(frozen=True)
class Function:
    """One function: ``name``, argument ``types`` and ``names``, 4-byte ``selector`` ("0x...")."""

    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    signature: str
    selector: str

    @classmethod
    def parse(cls, text: str) -> Function:
        """``"swap(uint256 amount0Out,uint256 amount1Out,address to,bytes data)"``.

        A tuple argument is written as its type followed by its name: ``(address,uint128) order``.
        """
        name, _, rest = text.partition("(")
        params = _split_top_level(rest[: rest.rindex(")")])
        types: list[str] = []
        names: list[str] = []
        for param in params:
            type_, _, arg_name = param.rpartition(" ")
            if not type_:
                raise ValueError(f"argument without a name in {text!r}: {param!r}")
            types.append(type_.replace(" ", ""))
            names.append(arg_name)
        signature = f"{name.strip()}({','.join(types)})"
        selector = "0x" + function_signature_to_4byte_selector(signature).hex()
        return cls(name.strip(), tuple(types), tuple(names), signature, selector)

    def decode_input(self, input_hex: str) -> dict[str, Any] | None:
        """Arguments by name from a call's input, or None when the data does not decode.

        Decoding is strict (short data, dirty address padding fail), the way the reference
        inspectors treat undecodable calls as unclassified.
        """
        try:
            data = call_arguments(input_hex)
            values = _strict_decoder(self.types).decode_bytes(data)
        except InvalidPointer:
            # Bots often send a bare 0 or dangling offset for an unused ``bytes`` argument and
            # the contract (ABI decoder v1) accepts it: decode the static arguments only.
            return self._decode_static(data)
        except DECODE_ERRORS:
            return None
        return dict(zip(self.names, values, strict=True))

    def _decode_static(self, data: bytes) -> dict[str, Any] | None:
        dynamic = [_is_dynamic(t) for t in self.types]
        head_types = ["uint256" if d else t for t, d in zip(self.types, dynamic, strict=True)]
        try:
            values = _strict_decoder(tuple(head_types)).decode_bytes(data)
        except DECODE_ERRORS:
            return None
        return {
            name: None if d else value
            for name, value, d in zip(self.names, values, dynamic, strict=True)
        }


@functools.cache
def _strict_decoder(types: tuple[str, ...]) -> HeadCheckingTupleDecoder:
    # Built once per argument list: protocol modules declare a few dozen functions.
    return tuple_decoder(*types, strict=True)
