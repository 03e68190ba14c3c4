"""Enrichment: what a transaction is (kind), what it calls (decoded call, swaps) and who is
involved (labels).

``enrich(tx)`` uses the bundled ABIs and labels under ``data/``. A flow with the user's extra
labels or ABIs builds its own ``Enricher.load(extra_labels_dir, extra_abi_dir)`` once and maps
``enricher.enrich``. Both are pure and never raise: unknown calldata is the normal case (kind
"other", call None), and so is a known selector whose arguments do not decode (call None, kind
from the selector alone).

Per transaction the cost is two label lookups and one selector lookup; eth-abi runs only for
selectors in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from operators.abi_decoding import DECODE_ERRORS, Method, call_arguments, load_methods
from operators.enrich.labels import Label, Labels, load_labels
from operators.enrich.swaps import HANDLERS, CallContext, SwapDecoder
from operators.records import DecodedCall, EnrichedTx, Swap, Tx

DATA_DIR = Path(__file__).resolve().parent / "data"
ABI_DIR = DATA_DIR / "abi"
LABELS_DIR = DATA_DIR / "labels"

DEPOSIT_TX_TYPE = 0x7E

# Token methods by signature: the kind they give, and the argument positions of the counterparty
# and the amount. transferFrom's counterparty is the receiver (``from`` stays in the call args).
# ERC-721 shares the transfer/approve selectors; for an NFT contract the "amount" is a token id.
TOKEN_METHODS: dict[str, tuple[str, int, int | None]] = {
    "transfer(address,uint256)": ("token_transfer", 0, 1),
    "transferFrom(address,address,uint256)": ("token_transfer", 1, 2),
    "approve(address,uint256)": ("approval", 0, 1),
    "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)": ("approval", 1, 2),
    "setApprovalForAll(address,bool)": ("approval", 0, None),
}

_NO_LABELS: dict[str, Label] = {}


class Enricher:
    """The loaded selector table and labels; ``enrich`` is its one per-transaction step."""

    def __init__(self, methods: Mapping[str, Method], labels: Labels) -> None:
        self._methods = dict(methods)
        self._labels = labels
        self._swaps = SwapDecoder(self._methods)

    @classmethod
    def load(
        cls, extra_labels_dir: str | Path | None = None, extra_abi_dir: str | Path | None = None
    ) -> Enricher:
        """The bundled data, then the user's folders (which win on a repeated address/selector)."""
        label_dirs = [LABELS_DIR] + ([Path(extra_labels_dir)] if extra_labels_dir else [])
        abi_dirs = [ABI_DIR] + ([Path(extra_abi_dir)] if extra_abi_dir else [])
        return cls(load_methods(abi_dirs), load_labels(label_dirs))

    def label(self, chain_id: int, address: str | None) -> Label | None:
        if address is None:
            return None
        return self._labels.get(chain_id, _NO_LABELS).get(address)

    def method(self, selector: str | None) -> Method | None:
        return None if selector is None else self._methods.get(selector)

    def enrich(self, tx: Tx) -> EnrichedTx:
        labels = self._labels.get(tx.chain_id, _NO_LABELS)
        to = tx.to
        to_entry = labels.get(to) if to is not None else None
        sender_entry = labels.get(tx.sender)
        to_label = to_entry.label if to_entry is not None else None
        sender_label = sender_entry.label if sender_entry is not None else None

        if to is None:
            return EnrichedTx(tx, "contract_creation", sender_label=sender_label)
        method = self._methods.get(tx.selector) if tx.selector is not None else None
        if method is None:
            return EnrichedTx(tx, _kind(tx), to_label=to_label, sender_label=sender_label)

        token_method = TOKEN_METHODS.get(method.signature)
        try:
            values = method.decode(call_arguments(tx.input))
        except DECODE_ERRORS:
            selector_kind = token_method[0] if token_method is not None else None
            return EnrichedTx(
                tx, _kind(tx, selector_kind), to_label=to_label, sender_label=sender_label
            )
        call = DecodedCall(method.name, method.signature, method.named(values))

        if token_method is not None:
            kind, counterparty_at, amount_at = token_method
            return EnrichedTx(
                tx,
                _kind(tx, kind),
                call,
                to_label=to_label,
                sender_label=sender_label,
                token=to,
                token_amount=None if amount_at is None else values[amount_at],
                counterparty=values[counterparty_at],
            )
        swaps: tuple[Swap, ...] = ()
        if method.signature in HANDLERS:
            protocol = to_entry.protocol if to_entry is not None else None
            commands = to_entry.commands if to_entry is not None else None
            ctx = CallContext(tx.sender, to, tx.value, protocol, commands=commands)
            swaps = tuple(self._swaps.swaps(method, call.args, ctx))
        return EnrichedTx(
            tx,
            _kind(tx, "swap" if swaps else None),
            call,
            swaps,
            to_label=to_label,
            sender_label=sender_label,
        )


def _kind(tx: Tx, call_kind: str | None = None) -> str:
    """A deposit is a deposit whatever it calls; then what the call means; then value and input."""
    if tx.tx_type == DEPOSIT_TX_TYPE:
        return "deposit"
    if call_kind is not None:
        return call_kind
    if tx.value > 0 and len(tx.input) <= 2:
        return "transfer"
    return "other"


DEFAULT_ENRICHER = Enricher.load()

# The bound method itself (no wrapper call per tx): enrich with the bundled ABIs and labels.
enrich: Callable[[Tx], EnrichedTx] = DEFAULT_ENRICHER.enrich


__all__ = ["DEFAULT_ENRICHER", "Enricher", "enrich"]
