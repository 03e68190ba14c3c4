"""Rule ABI v1: how a batch of enriched transactions is laid out in a rule module's memory.

``rules/README.md`` is the reference for rule authors; this module is its implementation, so the
two must change together (and ``ABI_VERSION`` with them). A record is fixed-width little-endian,
``RECORD_SIZE`` bytes per tx, so a rule finds any field at a constant offset from the record's
start without parsing. Addresses are the raw 20 bytes, amounts are unsigned 256-bit integers
(four little-endian 64-bit limbs, least significant first), labels are CRC-32 of their UTF-8
text. Calldata is only copied into the batch when a loaded module asks for it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from operators.records import KINDS, EnrichedTx

ABI_VERSION = 1

# Field offsets inside one record (bytes from the record's start).
OFF_CHAIN = 0  # u32
OFF_KIND = 4  # u8, index in KINDS; KIND_UNKNOWN when the kind is not one of them
OFF_TX_TYPE = 5  # u8
OFF_SELECTOR = 8  # 4 raw calldata bytes (i32.load sees them little-endian)
OFF_INPUT_LEN = 12  # u32, calldata length in bytes
OFF_INPUT_OFF = 16  # u32, calldata start relative to the batch start; 0 = not provided
OFF_SWAP_COUNT = 20  # u32
OFF_TO_LABEL = 24  # u32 crc32 of to_label
OFF_SENDER_LABEL = 28  # u32 crc32 of sender_label
OFF_SWAP_PROTOCOL = 32  # u32 crc32 of swaps[0].protocol
OFF_FLAGS = 36  # u32, FLAG_* bits
OFF_NONCE = 40  # u64
OFF_GAS = 48  # u64
OFF_FEE_CAP = 56  # u64 wei per gas (saturated)
OFF_TIP_CAP = 64  # u64 wei per gas (saturated)
OFF_FIRST_SEEN_MS = 72  # u64
OFF_BLOCK_NUMBER = 80  # u64, 0 while pending
OFF_VALUE_ETH = 88  # f64, value / 1e18 (for display and coarse rules; exact value at OFF_VALUE)
OFF_SWAP_SLIPPAGE = 96  # f64, FLAG_HAS_SWAP_SLIPPAGE says whether it is known
OFF_VALUE = 104  # u256 wei
OFF_TOKEN_AMOUNT = 136  # u256 token base units
OFF_TO = 168  # 20 bytes
OFF_SENDER = 188
OFF_TOKEN = 208
OFF_COUNTERPARTY = 228
OFF_SWAP_TOKEN_IN = 248
OFF_SWAP_TOKEN_OUT = 268
OFF_SWAP_AMOUNT_IN = 288  # u256
OFF_SWAP_AMOUNT_OUT = 320  # u256
OFF_SWAP_AMOUNT_OUT_MIN = 352  # u256
OFF_SWAP_AMOUNT_IN_MAX = 384  # u256
RECORD_SIZE = 416

KIND_UNKNOWN = 255

FLAG_HAS_TO = 1 << 0
FLAG_HAS_SELECTOR = 1 << 1
FLAG_PENDING = 1 << 2
FLAG_HAS_TO_LABEL = 1 << 3
FLAG_HAS_SENDER_LABEL = 1 << 4
FLAG_HAS_TOKEN = 1 << 5
FLAG_HAS_TOKEN_AMOUNT = 1 << 6
FLAG_HAS_COUNTERPARTY = 1 << 7
FLAG_HAS_SWAP = 1 << 8
FLAG_SWAP_EXACT_INPUT = 1 << 9
FLAG_HAS_SWAP_AMOUNT_IN = 1 << 10
FLAG_HAS_SWAP_AMOUNT_OUT = 1 << 11
FLAG_HAS_SWAP_AMOUNT_OUT_MIN = 1 << 12
FLAG_HAS_SWAP_AMOUNT_IN_MAX = 1 << 13
FLAG_HAS_SWAP_SLIPPAGE = 1 << 14
FLAG_HAS_AUTHORIZATIONS = 1 << 15
FLAG_HAS_BLOBS = 1 << 16
FLAG_HAS_NONCE = 1 << 17

# One match the module writes to the output area: tx index in the batch, rule id, severity index.
MATCH = struct.Struct("<III")

# The whole record in one pack: head, then u256 value and token amount, six addresses, four
# u256 swap amounts.
_RECORD = struct.Struct("<IBBxx4sIIIIIIIQQQQQQdd32s32s20s20s20s20s20s20s32s32s32s32s")
_U64_MAX = (1 << 64) - 1
_KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}
_NO_ADDRESS = bytes(20)
_ZERO_U256 = bytes(32)
_WEI_PER_ETH = 10**18
_UNBOUNDED = 1 << 255  # an amount bound this large is no bound (type(uint256).max and kin)

_NO_SELECTOR = bytes(4)
_NO_SWAP_AMOUNTS = [_ZERO_U256] * 4

assert _RECORD.size == RECORD_SIZE


def label_hash(text: str) -> int:
    """How a label (or protocol name) appears in a record: CRC-32 of its UTF-8 bytes."""
    return zlib.crc32(text.encode())


def address_bytes(address: str | None) -> bytes:
    """The 20 raw bytes of a 0x-hex address (all zero when absent)."""
    if not address:
        return _NO_ADDRESS
    return bytes.fromhex(address[2:])


def u256_bytes(amount: int) -> bytes:
    return amount.to_bytes(32, "little") if amount > 0 else _ZERO_U256


def swap_slippage(exact_input: bool, bound: int | None, quote: int | None) -> float | None:
    """The slippage tolerance a swap allows, as a fraction, when it can be known.

    A zero minimum out (or an unbounded maximum in) accepts any price: tolerance 1.0. Otherwise
    it takes a quote of the swap at current pool state (``Swap.quote``, set by a step that has
    reserves); without one it is unknown.
    """
    if bound is None:
        return None
    if exact_input and bound == 0:
        return 1.0
    if not exact_input and bound >= _UNBOUNDED:
        return 1.0
    if not quote:
        return None
    if exact_input:
        return max(0.0, 1.0 - bound / quote)
    return max(0.0, bound / quote - 1.0)


@dataclass
class EncodedBatch:
    """One batch in ABI v1 layout: ``count`` records, then calldata when it was asked for."""

    data: bytearray
    count: int


def encode_batch(batch: list[EnrichedTx], with_calldata: bool = False) -> EncodedBatch:
    """Lay out ``batch`` as ABI v1 records (what every module of the engine receives)."""
    count = len(batch)
    records_size = count * RECORD_SIZE
    data = bytearray(records_size)
    calldata: list[bytes] = []
    calldata_at = records_size
    pack = _RECORD.pack_into
    kind_index = _KIND_INDEX
    for i, etx in enumerate(batch):
        tx = etx.tx
        flags = 0
        to = _NO_ADDRESS
        if tx.to is not None:
            flags |= FLAG_HAS_TO
            to = bytes.fromhex(tx.to[2:])
        selector = _NO_SELECTOR
        if tx.selector:
            flags |= FLAG_HAS_SELECTOR
            selector = bytes.fromhex(tx.selector[2:10])
        if tx.block_number is None:
            flags |= FLAG_PENDING
        if tx.nonce is not None:
            flags |= FLAG_HAS_NONCE
        if tx.authorizations:
            flags |= FLAG_HAS_AUTHORIZATIONS
        if tx.blob_versioned_hashes:
            flags |= FLAG_HAS_BLOBS
        to_label = sender_label = 0
        if etx.to_label is not None:
            flags |= FLAG_HAS_TO_LABEL
            to_label = label_hash(etx.to_label)
        if etx.sender_label is not None:
            flags |= FLAG_HAS_SENDER_LABEL
            sender_label = label_hash(etx.sender_label)
        input_len = (len(tx.input) - 2) // 2 if tx.input else 0
        input_off = 0
        if with_calldata and input_len:
            input_off = calldata_at
            calldata.append(bytes.fromhex(tx.input[2:]))
            calldata_at += input_len
        token = counterparty = _NO_ADDRESS
        token_amount = _ZERO_U256
        if etx.token is not None:
            flags |= FLAG_HAS_TOKEN
            token = bytes.fromhex(etx.token[2:])
        if etx.token_amount is not None:
            flags |= FLAG_HAS_TOKEN_AMOUNT
            token_amount = u256_bytes(etx.token_amount)
        if etx.counterparty is not None:
            flags |= FLAG_HAS_COUNTERPARTY
            counterparty = bytes.fromhex(etx.counterparty[2:])
        if etx.swaps:
            swap = etx.swaps[0]
            flags |= FLAG_HAS_SWAP
            protocol = label_hash(swap.protocol)
            if swap.exact_input:
                flags |= FLAG_SWAP_EXACT_INPUT
            bound = swap.amount_out_min if swap.exact_input else swap.amount_in_max
            known = swap_slippage(swap.exact_input, bound, swap.quote)
            slippage = 0.0
            if known is not None:
                flags |= FLAG_HAS_SWAP_SLIPPAGE
                slippage = known
            amounts = []
            for bit, amount in (
                (FLAG_HAS_SWAP_AMOUNT_IN, swap.amount_in),
                (FLAG_HAS_SWAP_AMOUNT_OUT, swap.amount_out),
                (FLAG_HAS_SWAP_AMOUNT_OUT_MIN, swap.amount_out_min),
                (FLAG_HAS_SWAP_AMOUNT_IN_MAX, swap.amount_in_max),
            ):
                if amount is not None:
                    flags |= bit
                    amounts.append(u256_bytes(amount))
                else:
                    amounts.append(_ZERO_U256)
            token_in = address_bytes(swap.path[0]) if swap.path else _NO_ADDRESS
            token_out = address_bytes(swap.path[-1]) if swap.path else _NO_ADDRESS
        else:
            protocol = 0
            slippage = 0.0
            token_in = token_out = _NO_ADDRESS
            amounts = _NO_SWAP_AMOUNTS
        value = tx.value
        pack(
            data,
            i * RECORD_SIZE,
            tx.chain_id,
            kind_index.get(etx.kind, KIND_UNKNOWN),
            tx.tx_type & 0xFF,
            selector,
            input_len,
            input_off,
            len(etx.swaps),
            to_label,
            sender_label,
            protocol,
            flags,
            tx.nonce or 0,
            min(tx.gas, _U64_MAX),
            min(tx.fee_cap, _U64_MAX),
            min(tx.tip_cap, _U64_MAX),
            tx.first_seen_ms,
            tx.block_number or 0,
            value / _WEI_PER_ETH,
            slippage,
            u256_bytes(value),
            token_amount,
            to,
            bytes.fromhex(tx.sender[2:]),
            token,
            counterparty,
            token_in,
            token_out,
            *amounts,
        )
    if calldata:
        data += b"".join(calldata)
    return EncodedBatch(data=data, count=count)


# What packing a record raises on a value that does not fit its field: out-of-range ints
# (struct.error, OverflowError), bad hex and unencodable text (ValueError, UnicodeEncodeError),
# a field of the wrong type (TypeError, AttributeError).
ENCODE_ERRORS = (struct.error, ValueError, OverflowError, TypeError, AttributeError)
_U32_MAX = (1 << 32) - 1
_U256_MAX = (1 << 256) - 1


def _hex_problem(name: str, value: str | None, size: int | None) -> str | None:
    """Why ``value`` is not 0x-hex (of ``size`` bytes when given), or None when it is."""
    if value is None:
        return None
    shown = value if len(value) <= 48 else value[:45] + "..."
    try:
        if not value.startswith("0x"):
            raise ValueError(value)
        raw = bytes.fromhex(value[2:])
    except (ValueError, AttributeError):
        return f"field '{name}' is not 0x-hex: {shown!r}"
    if size is not None and len(raw) != size:
        return f"field '{name}' has {len(raw)} bytes, not {size}: {shown!r}"
    return None


def _show_int(value: int) -> str:
    # str() of a huge int is slow and limited (sys.int_info.str_digits_check_threshold).
    if abs(value) < 1 << 96:
        return str(value)
    return f"{'-' if value < 0 else ''}~2^{abs(value).bit_length() - 1}"


def _int_problem(name: str, value: object, top: int | None) -> str | None:
    """Why ``value`` is not an unsigned int up to ``top`` (None: any size, it saturates)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return f"field '{name}' is not an int: {type(value).__name__}"
    if value < 0:
        return f"field '{name}' is negative: {_show_int(value)}"
    if top is not None and value > top:
        return f"field '{name}' = {_show_int(value)} does not fit u{top.bit_length()}"
    return None


def encode_problem(etx: EnrichedTx) -> str | None:
    """Why ``etx`` cannot be laid out as an ABI v1 record, or None when it can.

    Only asked when a batch failed to encode (the fast path validates nothing), so it is precise
    rather than quick. Fee fields saturate at u64 and the gas limit too, so only their sign and
    type matter; a label must be encodable UTF-8 (no lone surrogates).
    """
    tx = etx.tx
    checks: list[str | None] = [
        _int_problem("chain_id", tx.chain_id, _U32_MAX),
        _int_problem("nonce", tx.nonce, _U64_MAX),
        _int_problem("first_seen_ms", tx.first_seen_ms, _U64_MAX),
        _int_problem("block_number", tx.block_number, _U64_MAX),
        _int_problem("value", tx.value, _U256_MAX),
        _int_problem("gas", tx.gas, None),
        _int_problem("fee_cap", tx.fee_cap, None),
        _int_problem("tip_cap", tx.tip_cap, None),
        _int_problem("token_amount", etx.token_amount, _U256_MAX),
        _hex_problem("to", tx.to, 20),
        _hex_problem("sender", tx.sender, 20),
        _hex_problem("token", etx.token, 20),
        _hex_problem("counterparty", etx.counterparty, 20),
        _hex_problem("input", tx.input or None, None),
        None if not tx.selector else _hex_problem("selector", tx.selector[:10], 4),
    ]
    if not isinstance(tx.tx_type, int):
        checks.append(f"field 'tx_type' is not an int: {type(tx.tx_type).__name__}")
    for name, label in (("to_label", etx.to_label), ("sender_label", etx.sender_label)):
        if label is not None:
            try:
                label.encode()
            except (UnicodeEncodeError, AttributeError):
                checks.append(f"field '{name}' is not encodable text")
    if etx.swaps:
        swap = etx.swaps[0]
        for name in ("amount_in", "amount_out", "amount_out_min", "amount_in_max", "quote"):
            checks.append(_int_problem(f"swaps[0].{name}", getattr(swap, name), _U256_MAX))
        if swap.path:
            checks.append(_hex_problem("swaps[0].path[0]", swap.path[0], 20))
            checks.append(_hex_problem("swaps[0].path[-1]", swap.path[-1], 20))
        try:
            swap.protocol.encode()
        except (UnicodeEncodeError, AttributeError):
            checks.append("field 'swaps[0].protocol' is not encodable text")
    return next((c for c in checks if c is not None), None)


def split_encodable(
    batch: list[EnrichedTx], with_calldata: bool = False
) -> tuple[list[EnrichedTx], list[tuple[EnrichedTx, str]]]:
    """The txs of ``batch`` that encode, and (tx, reason) for each that does not."""
    good: list[EnrichedTx] = []
    bad: list[tuple[EnrichedTx, str]] = []
    for etx in batch:
        problem = encode_problem(etx)
        if problem is None:
            try:
                encode_batch([etx], with_calldata)
            except ENCODE_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            good.append(etx)
        else:
            bad.append((etx, problem))
    return good, bad
