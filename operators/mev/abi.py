"""Contract functions as data: a human-readable signature with argument names, decoded with eth-abi.

Protocol modules declare the few functions they classify, e.g.
``Function.parse("transfer(address recipient,uint256 amount)")``, instead of shipping whole ABI
files: the selector, the canonical signature and the argument names are all in that one string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError, InvalidPointer
from eth_utils import function_signature_to_4byte_selector


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
            data = bytes.fromhex(input_hex[10:])
            values = decode(self.types, data)
        except InvalidPointer:
            # Bots often send a bare 0 or dangling offset for an unused ``bytes`` argument and
            # the contract (ABI decoder v1) accepts it: decode the static arguments only.
            return self._decode_static(data)
        except (DecodingError, OverflowError, ValueError):
            return None
        return dict(zip(self.names, values, strict=True))

    def _decode_static(self, data: bytes) -> dict[str, Any] | None:
        dynamic = [_is_dynamic(t) for t in self.types]
        head_types = ["uint256" if d else t for t, d in zip(self.types, dynamic, strict=True)]
        try:
            values = decode(head_types, data)
        except (DecodingError, OverflowError, ValueError):
            return None
        return {
            name: None if d else value
            for name, value, d in zip(self.names, values, dynamic, strict=True)
        }
