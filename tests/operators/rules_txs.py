"""Real mainnet txs as EnrichedTx for the rule tests and bench, by a small local conversion.

operators/normalize and operators/enrich are written in parallel; until they land, this turns the
bundled JSON-RPC tx objects (tests/data/rules, see NOTICE.md there) into records with just enough
decoding for the example rules: ERC-20 transfer / approve and Uniswap V2 router swaps.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from eth_abi import decode

from operators.records import EnrichedTx, Swap, Tx

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rules" / "mainnet_txs.jsonl.gz"

LABELS = {
    "0x7a250d5630b4cf539739df2c5dacb4c659f2488d": "Uniswap V2: Router 2",
    "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45": "Uniswap V3: SwapRouter02",
    "0xef1c6e67703c7bd7107eed8303fbe6ec2554bf6b": "Uniswap: Universal Router (old)",
    "0x3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad": "Uniswap: Universal Router",
    "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2": "WETH",
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": "USDC",
    "0xdac17f958d2ee523a2206206994597c13d831ec7": "USDT",
    "0x6b175474e89094c44da98b954eedeac495271d0f": "DAI",
    "0x00000000000000adc04c56bf30ac9d3c0aaf14dc": "Seaport 1.5",
    "0x1111111254eeb25477b68fb85ed929f73a960582": "1inch v5: Aggregation Router",
}

_V2_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
# selector: (argument types, exact input, amount_in from msg.value)
_V2_SWAPS: dict[str, tuple[list[str], bool, bool]] = {
    "0x7ff36ab5": (["uint256", "address[]", "address", "uint256"], True, True),
    "0xb6f9de95": (["uint256", "address[]", "address", "uint256"], True, True),
    "0x38ed1739": (["uint256", "uint256", "address[]", "address", "uint256"], True, False),
    "0x5c11d795": (["uint256", "uint256", "address[]", "address", "uint256"], True, False),
    "0x18cbafe5": (["uint256", "uint256", "address[]", "address", "uint256"], True, False),
    "0x791ac947": (["uint256", "uint256", "address[]", "address", "uint256"], True, False),
    "0xfb3bdb41": (["uint256", "address[]", "address", "uint256"], False, True),
    "0x8803dbee": (["uint256", "uint256", "address[]", "address", "uint256"], False, False),
    "0x4a25d94a": (["uint256", "uint256", "address[]", "address", "uint256"], False, False),
}


def _int(value: str | None) -> int | None:
    return None if value is None else int(value, 16)


def to_tx(obj: dict[str, Any], chain_id: int = 1, first_seen_ms: int = 0) -> Tx:
    data = obj.get("input") or "0x"
    return Tx(
        chain_id=int(obj["chainId"], 16) if obj.get("chainId") else chain_id,
        hash=obj["hash"].lower(),
        sender=obj["from"].lower(),
        to=obj["to"].lower() if obj.get("to") else None,
        nonce=_int(obj.get("nonce")),
        value=int(obj["value"], 16),
        gas=int(obj["gas"], 16),
        tx_type=int(obj.get("type") or "0x0", 16),
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=first_seen_ms,
        source="test-sample",
        gas_price=_int(obj.get("gasPrice")),
        max_fee_per_gas=_int(obj.get("maxFeePerGas")),
        max_priority_fee_per_gas=_int(obj.get("maxPriorityFeePerGas")),
        blob_versioned_hashes=tuple(obj.get("blobVersionedHashes") or ()),
        block_number=_int(obj.get("blockNumber")),
        block_hash=obj.get("blockHash"),
        tx_index=_int(obj.get("transactionIndex")),
    )


def _v2_swap(tx: Tx, args: bytes) -> Swap | None:
    types, exact_input, from_value = _V2_SWAPS[tx.selector or ""]
    try:
        values = decode(types, args)
    except Exception:
        return None
    if from_value:
        first, path, recipient, deadline = values
        amount_in, amount_out_min, amount_out, amount_in_max = (
            (tx.value, first, None, None) if exact_input else (None, None, first, tx.value)
        )
    else:
        a, b, path, recipient, deadline = values
        amount_in, amount_out_min, amount_out, amount_in_max = (
            (a, b, None, None) if exact_input else (None, None, a, b)
        )
    return Swap(
        protocol="uniswap_v2",
        router=tx.to or "",
        path=tuple(p.lower() for p in path),
        exact_input=exact_input,
        amount_in=amount_in,
        amount_out=amount_out,
        amount_out_min=amount_out_min,
        amount_in_max=amount_in_max,
        recipient=recipient.lower(),
        deadline=deadline,
    )


def to_enriched(obj: dict[str, Any], chain_id: int = 1, first_seen_ms: int = 0) -> EnrichedTx:
    tx = to_tx(obj, chain_id, first_seen_ms)
    labels: dict[str, Any] = {
        "to_label": LABELS.get(tx.to or ""),
        "sender_label": LABELS.get(tx.sender),
    }
    args = bytes.fromhex(tx.input[10:]) if len(tx.input) > 10 else b""
    if tx.to is None:
        return EnrichedTx(tx=tx, kind="contract_creation", **labels)
    if tx.selector is None:
        return EnrichedTx(tx=tx, kind="transfer", **labels)
    if tx.selector in ("0x095ea7b3", "0xa9059cbb") and len(args) >= 64:
        counterparty, amount = decode(["address", "uint256"], args[:64])
        kind = "approval" if tx.selector == "0x095ea7b3" else "token_transfer"
        return EnrichedTx(
            tx=tx,
            kind=kind,
            token=tx.to,
            token_amount=amount,
            counterparty=counterparty.lower(),
            **labels,
        )
    if tx.to == _V2_ROUTER and tx.selector in _V2_SWAPS:
        swap = _v2_swap(tx, args)
        if swap is not None:
            return EnrichedTx(tx=tx, kind="swap", swaps=(swap,), **labels)
    return EnrichedTx(tx=tx, kind="other", **labels)


def load_rpc_txs(path: Path = SAMPLE) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def sample_enriched(path: Path = SAMPLE) -> list[EnrichedTx]:
    return [
        to_enriched(obj, first_seen_ms=1_700_000_000_000 + i)
        for i, obj in enumerate(load_rpc_txs(path))
    ]


def by_hash(txs: list[EnrichedTx], tx_hash: str) -> EnrichedTx:
    return next(e for e in txs if e.tx.hash == tx_hash)
