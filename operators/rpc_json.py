"""Raw JSON-RPC replies, decoded: the wire shapes of node objects and the checks of their fields.

The one decoder of what nodes send. Full shapes (``RpcTx``, ``RpcReceipt``, ``RpcTrace``,
``RpcBundle``: the fields the normalizer reads) and light reference shapes (``TxRef``,
``BlockRef``, ...: just the hashes and numbers that dedup, inclusion and the RPC source need) are
msgspec structs of string fields; msgspec skips every other field. The field parsers turn hex text
into checked values and raise ``Malformed`` with a precise reason (the text before the first ':'
is a stable class).
"""

from __future__ import annotations

import binascii

import msgspec

# Decoded input of one tx or call: 512 KiB. A node's own limits are lower (geth's pool takes txs up
# to 128 KiB), so anything above is corruption or abuse, not a transaction worth the memory.
MAX_CALLDATA_BYTES = 512 << 10
MAX_BLOCK_PAYLOAD_BYTES = 64 << 20  # one block bundle with receipts and traces: 64 MiB
UINT256_MAX = (1 << 256) - 1
TYPE_UNKNOWN = -1  # a call recovered from a trace: its envelope type is not known

TYPE_LEGACY = 0x0
TYPE_ACCESS_LIST = 0x1
TYPE_DYNAMIC_FEE = 0x2
TYPE_BLOB = 0x3
TYPE_SET_CODE = 0x4
TYPE_OP_DEPOSIT = 0x7E
ARBITRUM_TYPES = {
    0x64: "ArbitrumDepositTx",
    0x65: "ArbitrumUnsignedTx",
    0x66: "ArbitrumContractTx",
    0x68: "ArbitrumRetryTx",
    0x69: "ArbitrumSubmitRetryableTx",
    0x6A: "ArbitrumInternalTx",
    0x78: "ArbitrumLegacyTx",
}
SIGNED_TYPES = frozenset({0, 1, 2, 3, 4})
DYNAMIC_FEE_TYPES = frozenset({2, 3, 4})
KNOWN_TYPES = SIGNED_TYPES | {TYPE_OP_DEPOSIT} | ARBITRUM_TYPES.keys()


class Malformed(Exception):
    """An object that is not a valid JSON-RPC record; ``reason`` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- wire shapes (only the fields we read; msgspec skips the rest) -------------------------------
# gc=False: short-lived and acyclic (strings, lists of strings and of other wire shapes), so the
# cycle collector need not track them.


class RpcAuthorization(msgspec.Struct, gc=False):
    chainId: str | None = None
    address: str | None = None
    nonce: str | None = None
    authority: str | None = None


class RpcTx(msgspec.Struct, gc=False):
    hash: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    nonce: str | None = None
    value: str | None = None
    gas: str | None = None
    input: str | None = None
    type: str | None = None
    chainId: str | None = None
    gasPrice: str | None = None
    maxFeePerGas: str | None = None
    maxPriorityFeePerGas: str | None = None
    maxFeePerBlobGas: str | None = None
    blobVersionedHashes: list[str] | None = None
    authorizationList: list[RpcAuthorization] | None = None
    sourceHash: str | None = None
    mint: str | None = None
    blockNumber: str | None = None
    blockHash: str | None = None
    transactionIndex: str | None = None
    # L2 feed items only: the place in the sequencer's order (operators/l2).
    position: list[int] | None = None


class RpcLog(msgspec.Struct, gc=False):
    address: str | None = None
    topics: list[str] = []
    data: str = "0x"
    logIndex: str | None = None


class RpcReceipt(msgspec.Struct, gc=False):
    transactionHash: str | None = None
    transactionIndex: str | None = None
    status: str | None = None
    gasUsed: str | None = None
    effectiveGasPrice: str | None = None
    to: str | None = None
    contractAddress: str | None = None
    logs: list[RpcLog] | None = None


class RpcTraceAction(msgspec.Struct, gc=False):
    callType: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    gas: str | None = None
    input: str | None = None
    value: str | None = None
    init: str | None = None
    address: str | None = None
    balance: str | None = None
    refundAddress: str | None = None
    author: str | None = None
    rewardType: str | None = None


class RpcTraceResult(msgspec.Struct, gc=False):
    gasUsed: str | None = None
    output: str | None = None
    address: str | None = None
    code: str | None = None


class RpcTrace(msgspec.Struct, gc=False):
    action: RpcTraceAction | None = None
    result: RpcTraceResult | None = None
    error: str | None = None
    subtraces: int = 0
    traceAddress: list[int] | None = None
    transactionHash: str | None = None
    transactionPosition: int | None = None
    type: str | None = None


class RpcBlock(msgspec.Struct, gc=False):
    number: str | None = None
    hash: str | None = None
    parentHash: str | None = None
    timestamp: str | None = None
    miner: str | None = None
    baseFeePerGas: str | None = None
    extraData: str | None = None
    transactions: list[msgspec.Raw] = []


class RpcBundle(msgspec.Struct, gc=False):
    block: RpcBlock | None = None
    receipts: list[msgspec.Raw] | None = None
    traces: list[msgspec.Raw] | None = None


tx_decoder = msgspec.json.Decoder(RpcTx)
receipt_decoder = msgspec.json.Decoder(RpcReceipt)
trace_decoder = msgspec.json.Decoder(RpcTrace)
bundle_decoder = msgspec.json.Decoder(RpcBundle)
str_decoder = msgspec.json.Decoder(str)


# msgspec raises UnicodeDecodeError (not a DecodeError) for invalid UTF-8 inside a JSON string.
DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


def shape_reason(exc: msgspec.ValidationError | msgspec.DecodeError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: byte {exc.start} of a JSON string: {exc.reason}"
    message = str(exc)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return f"not JSON: {message}"
    if message.startswith("Expected `object`") and "- at `$" not in message:
        return f"not a JSON object: {message}"
    return f"wrong JSON type: {message}"


# --- field parsers -----------------------------------------------------------------------------


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def qty(value: str | None, field: str) -> int:
    """A hex quantity ("0x1a") as an int in [0, 2**256-1]."""
    # isalnum+isascii rejects what int() would forgive: whitespace, underscores, signs, non-ASCII
    # digits; non-hex letters still fail in int(). One branch on the happy path.
    if value is not None and value[:2] == "0x" and value.isalnum() and value.isascii():
        try:
            number = int(value, 16)
        except ValueError:
            number = -1
        if 0 <= number <= UINT256_MAX:
            return number
    raise Malformed(qty_reason(value, field))


def qty_reason(value: str | None, field: str) -> str:
    if value is None:
        return f"missing field '{field}'"
    if value.startswith("-"):
        return f"negative quantity in field '{field}': {show(value)}"
    try:
        if value[:2] == "0x" and value.isalnum() and value.isascii() and int(value, 16) >= 0:
            return f"quantity out of range in field '{field}': {show(value)}"
    except ValueError:
        pass
    return f"bad hex in field '{field}': {show(value)}"


def opt_qty(value: str | None, field: str) -> int | None:
    return None if value is None else qty(value, field)


def at_most(number: int, maximum: int, field: str) -> int:
    """``number`` when the protocol allows it in ``field`` (bounds.py), else Malformed."""
    if number > maximum:
        raise Malformed(f"quantity out of range in field '{field}': {number:#x} > {maximum:#x}")
    return number


def opt_at_most(value: str | None, maximum: int, field: str) -> int | None:
    return None if value is None else at_most(qty(value, field), maximum, field)


def required(value: str | None, field: str) -> str:
    if value is None:
        raise Malformed(f"missing field '{field}'")
    return value


def fixed_hex(value: str | None, size: int, field: str, what: str) -> str:
    """Lowercase 0x-hex of exactly ``size`` bytes (an address or a hash)."""
    if value is None:
        raise Malformed(f"missing field '{field}'")
    if len(value) == 2 + 2 * size and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])  # strict: hex digits only, no whitespace
            return value.lower()
        except ValueError:
            pass
        raise Malformed(f"bad hex in field '{field}': {show(value)}")
    raise Malformed(f"{what} not {size} bytes in field '{field}': {show(value)}")


def addr(value: str | None, field: str) -> str:
    # fixed_hex's happy path inline (a Python call less per address); it says what is wrong
    if value is not None and len(value) == 42 and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])
            return value.lower()
        except ValueError:
            pass
    return fixed_hex(value, 20, field, "address")


def opt_addr(value: str | None, field: str) -> str | None:
    return None if value is None else addr(value, field)


def hash32(value: str | None, field: str) -> str:
    if value is not None and len(value) == 66 and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])
            return value.lower()
        except ValueError:
            pass
    return fixed_hex(value, 32, field, "hash")


def hex_data(value: str | None, field: str, limit: int = MAX_CALLDATA_BYTES) -> str:
    """Lowercase 0x-hex bytes of even length, at most ``limit`` bytes."""
    if value == "0x":  # no calldata: most txs
        return value
    if value is None:
        raise Malformed(f"missing field '{field}'")
    if not value.startswith("0x"):
        raise Malformed(f"bad hex in field '{field}': {show(value)}")
    size, odd = divmod(len(value) - 2, 2)
    if odd:
        raise Malformed(f"odd-length hex in field '{field}': {show(value)}")
    if size > limit:
        raise Malformed(f"data too large in field '{field}': {size} bytes > {limit}")
    try:
        binascii.a2b_hex(value[2:])  # strict: hex digits only, no whitespace
    except ValueError:
        raise Malformed(f"bad hex in field '{field}': {show(value)}") from None
    # lower() is a fast ASCII copy; testing first (islower()) scans through Unicode tables and
    # costs ten times as much as the copy.
    return value.lower()


_TYPE_BY_TAG = {f"0x{t:x}": t for t in KNOWN_TYPES}


def tx_type_of(tag: str | None) -> int:
    if tag is None:
        return TYPE_LEGACY  # pre-Berlin nodes omit the type of legacy txs
    tx_type = _TYPE_BY_TAG.get(tag)
    if tx_type is None:
        tx_type = qty(tag, "type")
        if tx_type not in KNOWN_TYPES:
            raise Malformed(f"unknown tx type: {show(tag)}")
    return tx_type


# --- reference shapes: only the hashes and numbers a reader needs ------------------------------


class HashRef(msgspec.Struct):
    """A tx (or a block) object, read for its hash alone."""

    hash: str


class BlockRef(msgspec.Struct):
    """A block's number, hash and its transactions (full objects or hashes)."""

    number: str
    hash: str
    transactions: list[HashRef | str] = []


class BundleRef(msgspec.Struct):
    """A block bundle ``{"block": ...}`` read for the block's reference."""

    block: BlockRef


class BundleHashRef(msgspec.Struct):
    """A block bundle read for the block's hash alone."""

    block: HashRef


class SequencedRef(msgspec.Struct):
    """An L2 sequencer feed item: its hash and place in the sequencer's order."""

    hash: str
    position: list[int] = []


class HeadRef(msgspec.Struct):
    """A ``newHeads`` notification or block header."""

    number: str
    hash: str
    timestamp: str = "0x0"


class ReceiptRef(msgspec.Struct, rename="camel"):
    block_hash: str


class TxPool(msgspec.Struct):
    """``txpool_content``: executable txs by sender, then by nonce (queued ones are left out:
    nodes do not announce them either)."""

    pending: dict[str, dict[str, msgspec.Raw]] = {}


decode_hash_ref = msgspec.json.Decoder(HashRef).decode
decode_tx_or_hash = msgspec.json.Decoder(HashRef | str).decode
decode_block_ref = msgspec.json.Decoder(BlockRef).decode
decode_bundle_ref = msgspec.json.Decoder(BundleRef).decode
decode_bundle_hash = msgspec.json.Decoder(BundleHashRef).decode
decode_sequenced_ref = msgspec.json.Decoder(SequencedRef).decode
decode_head_ref = msgspec.json.Decoder(HeadRef).decode
decode_receipt_refs = msgspec.json.Decoder(list[ReceiptRef]).decode
decode_txpool = msgspec.json.Decoder(TxPool).decode
decode_hashes = msgspec.json.Decoder(list[str] | None).decode
