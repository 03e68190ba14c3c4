"""The shape of every record that crosses a step of the flow.

One module on purpose: sources, operators and sinks all import from here, so the data model is
visible in one place. Records are msgspec structs: cheap to build (no validation at runtime, the
producer is trusted), picklable for bytewax's exchange between workers, and encoded to JSON by
``encode_json`` with arbitrary-precision integers (amounts are base-unit ints end to end).
"""

from __future__ import annotations

from typing import Any

import msgspec

# --- what sources emit -------------------------------------------------------------------------


class RawItem(msgspec.Struct, frozen=True, gc=False):
    """One undecoded message from a source: a JSON-RPC object as bytes, plus where it came from.

    ``kind`` is "tx" for a transaction object and "block" for a block (body, receipts, traces).
    ``seen_ms`` is the first-seen wall time in unix milliseconds (for replays: the recorded time).
    """

    kind: str
    chain_id: int
    source: str
    seen_ms: int
    payload: bytes
    # The tx hash or block hash when the source already knows it (lowercase 0x-hex), so dedup
    # and inclusion tracking need not parse the payload again; None means "parse it".
    hash: str | None = None


# --- normalized records ------------------------------------------------------------------------


class Authorization(msgspec.Struct, frozen=True, gc=False):
    """One EIP-7702 authorization tuple: the EOA ``authority`` delegates its code to ``address``."""

    chain_id: int
    address: str
    nonce: int
    authority: str | None = None


class Tx(msgspec.Struct, frozen=True, gc=False):
    """A normalized transaction, pending or mined, of any type the four chains carry.

    Hex quantities become ints, addresses lowercase hex. ``nonce`` is None only for calls that were
    recovered from traces (the bundled mev-fixtures blocks have no nonce). ``block_number`` is None
    while the transaction is pending.
    """

    chain_id: int
    hash: str
    sender: str
    to: str | None
    nonce: int | None
    value: int
    gas: int
    tx_type: int
    input: str
    selector: str | None
    first_seen_ms: int
    source: str
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: tuple[str, ...] = ()
    authorizations: tuple[Authorization, ...] = ()
    block_number: int | None = None
    block_hash: str | None = None
    tx_index: int | None = None
    # OP-stack deposits (0x7e): L1-minted ETH and the deposit's source hash.
    mint: int | None = None
    source_hash: str | None = None
    # L2 sequencer feeds: "sequenced" (Arbitrum: ordered, FCFS) or "preconfirmed" (Flashblocks:
    # executed in a sub-block) while not yet mined, with the place in the sequencer's order:
    # (sequence number, index) on Arbitrum, (block, flashblock index, index) on Flashblocks.
    stage: str | None = None
    position: tuple[int, ...] = ()
    # Mined txs only: "true" (never seen pending while a source watched: private order flow),
    # "false" (seen pending) or "unknown" (operators/mev/private.py); None while pending.
    private: str | None = None

    @property
    def fee_cap(self) -> int:
        """The most this tx pays per gas: what a replacement must outbid."""
        if self.max_fee_per_gas is not None:
            return self.max_fee_per_gas
        return self.gas_price or 0

    @property
    def tip_cap(self) -> int:
        if self.max_priority_fee_per_gas is not None:
            return self.max_priority_fee_per_gas
        return self.gas_price or 0


class Trace(msgspec.Struct, frozen=True, gc=False):
    """One call frame of a Parity-style ``trace_block`` (geth call traces are adapted to this).

    ``trace_address`` locates the frame in its tx's call tree ([] is the top-level call).
    ``error`` is set when the frame reverted; a frame inside a reverted parent is not successful
    either, whatever its own ``error`` says.
    """

    tx_hash: str | None
    tx_position: int | None
    trace_address: tuple[int, ...]
    type: str
    call_type: str | None
    sender: str | None
    to: str | None
    value: int
    gas: int
    input: str
    output: str | None
    gas_used: int | None
    error: str | None
    subtraces: int


class Receipt(msgspec.Struct, frozen=True, gc=False):
    tx_hash: str
    tx_index: int
    status: int | None
    gas_used: int
    effective_gas_price: int | None
    to: str | None
    contract_address: str | None = None
    logs: tuple[dict[str, Any], ...] = ()


class Block(msgspec.Struct, frozen=True, gc=False):
    """A mined block with what the MEV detectors need: its txs, receipts and call traces.

    ``txs`` may be empty when only traces are known (the bundled mev-fixtures blocks).
    """

    chain_id: int
    number: int
    hash: str | None
    timestamp: int
    miner: str | None
    base_fee_per_gas: int | None
    first_seen_ms: int
    source: str
    txs: tuple[Tx, ...] = ()
    receipts: tuple[Receipt, ...] = ()
    traces: tuple[Trace, ...] = ()
    parent_hash: str | None = None
    # Every tx hash of the block in order, also when the body came with hashes only.
    tx_hashes: tuple[str, ...] = ()
    # The private status of each tx in ``tx_hashes`` order, once the private-flow step has seen
    # the block (operators/mev/private.py); empty before.
    tx_private: tuple[str, ...] = ()
    # The header's extraData (0x-hex), where builders and pools sign their blocks.
    extra_data: str | None = None


# --- enrichment --------------------------------------------------------------------------------


class Swap(msgspec.Struct, frozen=True, gc=False):
    """A swap intent decoded from a router call (what the sender asked for, not what executed).

    Exactly one of ``amount_in`` / ``amount_out`` is the exact side; the other bound is
    ``amount_out_min`` (exact input) or ``amount_in_max`` (exact output). ``None`` means the
    router takes the amount from its balance or from a previous command (``CONTRACT_BALANCE``).
    """

    protocol: str
    router: str
    path: tuple[str, ...]
    exact_input: bool
    amount_in: int | None
    amount_out: int | None
    amount_out_min: int | None
    amount_in_max: int | None
    recipient: str | None
    deadline: int | None
    fees: tuple[int, ...] = ()
    # The other side at the last known pool state (expected out for exact input, expected in for
    # exact output), set by a step that quotes the swap; the rule ABI derives slippage from it.
    quote: int | None = None

    @property
    def token_in(self) -> str:
        return self.path[0]

    @property
    def token_out(self) -> str:
        return self.path[-1]


class DecodedCall(msgspec.Struct, frozen=True, gc=False):
    """A decoded top-level call: the method's signature and its arguments by name."""

    method: str
    signature: str
    args: dict[str, Any]


class EnrichedTx(msgspec.Struct, frozen=True, gc=False):
    """A transaction with what Scorpius knows about it.

    ``kind`` is one of ``KINDS``. ``to_label`` / ``sender_label`` come from the per-chain label
    files. ``swaps`` holds every swap the call asks for (a Universal Router ``execute`` may carry
    several).
    """

    tx: Tx
    kind: str
    call: DecodedCall | None = None
    swaps: tuple[Swap, ...] = ()
    to_label: str | None = None
    sender_label: str | None = None
    # ERC-20 details of transfer / approve / transferFrom.
    token: str | None = None
    token_amount: int | None = None
    counterparty: str | None = None


KINDS = (
    "transfer",
    "token_transfer",
    "approval",
    "swap",
    "contract_creation",
    "deposit",
    "other",
)


# --- detections and outputs --------------------------------------------------------------------


class Detection(msgspec.Struct, frozen=True, gc=False):
    """A finding of a detector: MEV in a block, or an attack or gas war seen in the mempool.

    ``key`` is a natural key (same finding, same key) so every sink can be idempotent. ``data``
    carries the detector's specifics; amounts in it are ints in base units.
    """

    key: str
    kind: str
    chain_id: int
    tx_hashes: tuple[str, ...]
    first_seen_ms: int
    detected_ms: int
    severity: str = "info"
    block_number: int | None = None
    data: dict[str, Any] = {}


class RuleMatch(msgspec.Struct, frozen=True, gc=False):
    """A user rule that matched a transaction."""

    key: str
    rule_id: str
    severity: str
    message: str
    chain_id: int
    tx_hash: str
    first_seen_ms: int
    matched_ms: int
    tags: tuple[str, ...] = ()


class Alert(msgspec.Struct, frozen=True, gc=False):
    """What the alert router delivers: from a rule match or a detection."""

    key: str
    origin: str
    severity: str
    title: str
    chain_id: int
    tx_hashes: tuple[str, ...]
    first_seen_ms: int
    created_ms: int
    tags: tuple[str, ...] = ()
    data: dict[str, Any] = {}


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """Anything a step could not handle, with the step, the reason, and the untouched payload."""

    stage: str
    reason: str
    payload: str
    source: str = ""
    chain_id: int | None = None
    at_ms: int = 0


SEVERITIES = ("info", "low", "medium", "high", "critical")

_encoder = msgspec.json.Encoder()


def encode_json(record: Any) -> bytes:
    """JSON bytes of any record (ints stay exact, however large)."""
    return _encoder.encode(record)


def to_builtins(record: Any) -> Any:
    return msgspec.to_builtins(record)


# --- live ingestion ----------------------------------------------------------------------------


class Inclusion(msgspec.Struct, frozen=True, gc=False):
    """What became of a pending transaction: mined, reorged out of a block, or never mined.

    ``status`` is "included" (seen in block ``block_hash``; ``latency_ms`` = block seen time minus
    first seen), "reorged" (the block holding it was replaced by another at the same height) or
    "expired" (not mined within the tracking bound: dropped or replaced; ``latency_ms`` = how long
    it was tracked as pending). ``source`` is the
    source that saw the pending tx first. ``key`` is the natural key for idempotent sinks.
    """

    key: str
    status: str
    chain_id: int
    tx_hash: str
    first_seen_ms: int
    source: str
    block_number: int | None = None
    block_hash: str | None = None
    included_ms: int | None = None
    latency_ms: int | None = None
    # The stage tracking started at: None (a mempool sighting), "sequenced" or "preconfirmed"
    # (L2 feeds: the latency then runs from the sequencer's sighting). Status "not_landed": a
    # preconfirmed tx missing from the block ``block_number`` its flashblock belonged to.
    stage: str | None = None
