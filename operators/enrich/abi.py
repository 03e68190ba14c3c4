"""Function ABIs as a selector table, and argument decoding with eth-abi.

The ABIs are ordinary Solidity JSON ABI files (a list of entries, or an object with an ``abi``
list, as Etherscan and Foundry write them), so users extend the table by dropping a contract's
ABI into a folder. Everything costly happens once at load: the selector, the canonical signature
and eth-abi's tuple decoder of every function. Per call only the decoder runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.decoding import AddressDecoder, ContextFramesBytesIO
from eth_abi.encoding import AddressEncoder
from eth_abi.exceptions import DecodingError
from eth_abi.registry import BaseEquals, registry
from eth_utils.abi import abi_to_signature, collapse_if_tuple, function_abi_to_4byte_selector

Converter = Callable[[Any], Any]

# What a malformed argument block makes eth-abi (or the hex parse before it) raise. Decoding
# errors are ordinary here: most of them are calldata of another function with the same selector.
DECODE_ERRORS = (DecodingError, ValueError, OverflowError, TypeError, IndexError)


def _lowercase_hex(value: bytes) -> str:
    return "0x" + value.hex()


class LowercaseAddressDecoder(AddressDecoder):
    """eth-abi's address decoder (padding still checked), giving the 20 bytes as lowercase hex.

    The stock one goes through eth-utils' normalization, the single largest cost of decoding an
    ERC-20 call; the result is the same lowercase address.
    """

    decoder_fn = staticmethod(_lowercase_hex)  # type: ignore[assignment]  # only given bytes


# eth-abi's registry with the faster address decoder, registered through its extension API.
REGISTRY = registry.copy()
REGISTRY.unregister("address")
REGISTRY.register(BaseEquals("address"), AddressEncoder, LowercaseAddressDecoder, label="address")


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
    decoder: Callable[[ContextFramesBytesIO], tuple[Any, ...]]
    # Per argument: how to turn eth-abi's value into a JSON-friendly one (None: as is).
    converters: tuple[Converter | None, ...]

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The argument values of ``data`` (calldata after the selector); raises DECODE_ERRORS."""
        return self.decoder(ContextFramesBytesIO(data))

    def named(self, values: Sequence[Any]) -> dict[str, Any]:
        """The arguments by name, bytes as 0x-hex and structs as mappings (for DecodedCall)."""
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
        # strict=False decodes what the Solidity decoder accepts (it does not check the padding of
        # dynamic values); dirty address or integer words are still refused.
        decoder=REGISTRY.get_tuple_decoder(*types, strict=False),
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
