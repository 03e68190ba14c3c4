"""The fields a rule can test, where they sit in an ABI v1 record, and their display values.

Declarative rules name these fields; the compiler turns each into loads at fixed offsets. Messages
of matches are formatted host-side from ``message_fields`` (only for txs that matched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from operators.records import EnrichedTx
from operators.rules import abi


@dataclass(frozen=True)
class Field:
    name: str
    # u8 | u32 | u64 | u256 | eth | f64 | address | selector | label | kind | flag
    type: str
    offset: int = 0
    # The FLAG_* bit that says the field is present (0: always present).
    presence: int = 0
    # For type "flag": the FLAG_* bit that is the field's value.
    bit: int = 0


_FIELDS = [
    Field("chain", "u32", abi.OFF_CHAIN),
    Field("kind", "kind", abi.OFF_KIND),
    Field("tx_type", "u8", abi.OFF_TX_TYPE),
    Field("selector", "selector", abi.OFF_SELECTOR, abi.FLAG_HAS_SELECTOR),
    Field("input_len", "u32", abi.OFF_INPUT_LEN),
    Field("swap_count", "u32", abi.OFF_SWAP_COUNT),
    Field("to_label", "label", abi.OFF_TO_LABEL, abi.FLAG_HAS_TO_LABEL),
    Field("sender_label", "label", abi.OFF_SENDER_LABEL, abi.FLAG_HAS_SENDER_LABEL),
    Field("nonce", "u64", abi.OFF_NONCE, abi.FLAG_HAS_NONCE),
    Field("gas", "u64", abi.OFF_GAS),
    Field("fee_cap", "u64", abi.OFF_FEE_CAP),
    Field("tip_cap", "u64", abi.OFF_TIP_CAP),
    Field("value", "u256", abi.OFF_VALUE),
    Field("value_eth", "eth", abi.OFF_VALUE),
    Field("token_amount", "u256", abi.OFF_TOKEN_AMOUNT, abi.FLAG_HAS_TOKEN_AMOUNT),
    Field("to", "address", abi.OFF_TO, abi.FLAG_HAS_TO),
    Field("sender", "address", abi.OFF_SENDER),
    Field("token", "address", abi.OFF_TOKEN, abi.FLAG_HAS_TOKEN),
    Field("counterparty", "address", abi.OFF_COUNTERPARTY, abi.FLAG_HAS_COUNTERPARTY),
    Field("pending", "flag", bit=abi.FLAG_PENDING),
    Field("authorizations", "flag", bit=abi.FLAG_HAS_AUTHORIZATIONS),
    Field("blobs", "flag", bit=abi.FLAG_HAS_BLOBS),
    Field("swap.protocol", "label", abi.OFF_SWAP_PROTOCOL, abi.FLAG_HAS_SWAP),
    Field("swap.exact_input", "flag", presence=abi.FLAG_HAS_SWAP, bit=abi.FLAG_SWAP_EXACT_INPUT),
    Field("swap.token_in", "address", abi.OFF_SWAP_TOKEN_IN, abi.FLAG_HAS_SWAP),
    Field("swap.token_out", "address", abi.OFF_SWAP_TOKEN_OUT, abi.FLAG_HAS_SWAP),
    Field("swap.amount_in", "u256", abi.OFF_SWAP_AMOUNT_IN, abi.FLAG_HAS_SWAP_AMOUNT_IN),
    Field("swap.amount_out", "u256", abi.OFF_SWAP_AMOUNT_OUT, abi.FLAG_HAS_SWAP_AMOUNT_OUT),
    Field(
        "swap.amount_out_min", "u256", abi.OFF_SWAP_AMOUNT_OUT_MIN, abi.FLAG_HAS_SWAP_AMOUNT_OUT_MIN
    ),
    Field(
        "swap.amount_in_max", "u256", abi.OFF_SWAP_AMOUNT_IN_MAX, abi.FLAG_HAS_SWAP_AMOUNT_IN_MAX
    ),
    Field("swap.slippage", "f64", abi.OFF_SWAP_SLIPPAGE, abi.FLAG_HAS_SWAP_SLIPPAGE),
]
FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}
FIELDS["from"] = FIELDS["sender"]
FIELDS["chain_id"] = FIELDS["chain"]


def message_fields(etx: EnrichedTx) -> dict[str, Any]:
    """What a message template can name: ``{value_eth}``, ``{to}``, ``{swap_slippage}`` ..."""
    tx = etx.tx
    swap = etx.swaps[0] if etx.swaps else None
    fields: dict[str, Any] = {
        "hash": tx.hash,
        "chain": tx.chain_id,
        "kind": etx.kind,
        "sender": tx.sender,
        "to": tx.to,
        "value": tx.value,
        "value_eth": tx.value / 10**18,
        "selector": tx.selector,
        "nonce": tx.nonce,
        "gas": tx.gas,
        "fee_cap": tx.fee_cap,
        "tip_cap": tx.tip_cap,
        "to_label": etx.to_label,
        "sender_label": etx.sender_label,
        "token": etx.token,
        "token_amount": etx.token_amount,
        "counterparty": etx.counterparty,
        "swap_protocol": swap.protocol if swap else None,
        "swap_token_in": swap.path[0] if swap and swap.path else None,
        "swap_token_out": swap.path[-1] if swap and swap.path else None,
        "swap_amount_in": swap.amount_in if swap else None,
        "swap_amount_out_min": swap.amount_out_min if swap else None,
        "swap_slippage": None,
    }
    if swap is not None:
        bound = swap.amount_out_min if swap.exact_input else swap.amount_in_max
        fields["swap_slippage"] = abi.swap_slippage(swap.exact_input, bound, swap.quote)
    return fields


MESSAGE_FIELDS = frozenset(
    [
        "hash", "chain", "kind", "sender", "to", "value", "value_eth", "selector", "nonce", "gas",
        "fee_cap", "tip_cap", "to_label", "sender_label", "token", "token_amount", "counterparty",
        "swap_protocol", "swap_token_in", "swap_token_out", "swap_amount_in",
        "swap_amount_out_min", "swap_slippage",
    ]
)  # fmt: skip


_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message_values(etx: EnrichedTx) -> dict[str, Any]:
    """``message_fields`` ready for ``format_message`` (built once per matched tx)."""
    return _Lenient({k: ("-" if v is None else v) for k, v in message_fields(etx).items()})


def format_message(template: str, values: dict[str, Any]) -> str:
    """The template filled from ``message_values``; a field that is None prints as "-"."""
    try:
        return template.format_map(values)
    except (ValueError, TypeError):
        # A format spec that does not fit the value (":.1f" on "-"): drop the specs.
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
