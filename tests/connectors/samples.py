"""Small records of every archived type, built to exercise the edges (uint256 amounts, nulls)."""

from __future__ import annotations

from typing import Any

from operators.records import (
    Alert,
    Authorization,
    Block,
    DeadLetter,
    DecodedCall,
    Detection,
    EnrichedTx,
    RuleMatch,
    Swap,
    Tx,
)

# 2023-08-04T22:04:46.723Z, the first-seen time of mempool-samples/example-tx-summary.json.
T0_MS = 1_691_186_686_723
HOUR_MS = 3_600_000
UINT256_MAX = 2**256 - 1


def make_tx(i: int, *, chain_id: int = 1, seen_ms: int = T0_MS, value: int | None = None) -> Tx:
    return Tx(
        chain_id=chain_id,
        hash=f"0x{i:064x}",
        sender=f"0x{i + 1:040x}",
        to=None if i % 5 == 4 else f"0x{i + 2:040x}",
        nonce=i,
        value=(i * 10**17) if value is None else value,
        gas=21_000 + i,
        tx_type=2 if i % 2 else 0,
        input="0x" if i % 3 else "0xa9059cbb" + "00" * 64,
        selector=None if i % 3 else "0xa9059cbb",
        first_seen_ms=seen_ms + i,
        source="test",
        gas_price=None if i % 2 else 30 * 10**9,
        max_fee_per_gas=UINT256_MAX if i % 2 else None,
        max_priority_fee_per_gas=10**9 if i % 2 else None,
        blob_versioned_hashes=("0x01" + "ab" * 31,) if i % 7 == 6 else (),
        authorizations=(
            Authorization(chain_id=0, address="0x" + "cd" * 20, nonce=3, authority=None),
        )
        if i % 7 == 5
        else (),
        block_number=18_000_000 + i if i % 4 == 3 else None,
        block_hash=f"0x{i + 7:064x}" if i % 4 == 3 else None,
        tx_index=i if i % 4 == 3 else None,
    )


def make_enriched(i: int, **kwargs: object) -> EnrichedTx:
    tx = make_tx(i, **kwargs)  # type: ignore[arg-type]
    swap = Swap(
        protocol="uniswap_v2",
        router=tx.to or "0x",
        path=("0x" + "11" * 20, "0x" + "22" * 20),
        exact_input=True,
        amount_in=UINT256_MAX,
        amount_out=None,
        amount_out_min=1,
        amount_in_max=None,
        recipient=tx.sender,
        deadline=2**64,
    )
    call = DecodedCall(
        method="swapExactTokensForTokens",
        signature="swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        args={"amountIn": UINT256_MAX},
    )
    return EnrichedTx(tx=tx, kind="swap", call=call, swaps=(swap,), to_label="Uniswap V2: Router")


def make_block(i: int, chain_id: int = 1) -> Block:
    return Block(
        chain_id=chain_id,
        number=18_000_000 + i,
        hash=f"0x{i + 100:064x}",
        timestamp=T0_MS // 1000 + 12 * i,
        miner="0x" + "95" * 20,
        base_fee_per_gas=UINT256_MAX if i == 0 else 12 * 10**9,
        first_seen_ms=T0_MS + 12_000 * i,
        source="test",
        txs=(make_tx(i),),
        parent_hash=f"0x{i + 99:064x}",
    )


def make_detection(i: int) -> Detection:
    return Detection(
        key=f"sandwich:1:{i}",
        kind="sandwich",
        chain_id=1,
        tx_hashes=(f"0x{i:064x}", f"0x{i + 1:064x}"),
        first_seen_ms=T0_MS + i,
        detected_ms=T0_MS + i + 5,
        severity="high",
        block_number=18_000_000 + i,
        data={"profit_wei": UINT256_MAX, "pool": "0x" + "ab" * 20},
    )


def make_rule_match(i: int) -> RuleMatch:
    return RuleMatch(
        key=f"large-transfer:0x{i:064x}",
        rule_id="large-transfer",
        severity="medium",
        message=f"moved {i} ETH",
        chain_id=10,
        tx_hash=f"0x{i:064x}",
        first_seen_ms=T0_MS + i,
        matched_ms=T0_MS + i + 1,
        tags=("whale",),
    )


def make_alert(i: int) -> Alert:
    return Alert(
        key=f"alert:{i}",
        origin="rule",
        severity="high",
        title=f"alert {i}",
        chain_id=8453,
        tx_hashes=(f"0x{i:064x}",),
        first_seen_ms=T0_MS + i,
        created_ms=T0_MS + i + 2,
        data={"amount": 2**200},
    )


def make_dead_letter(i: int) -> DeadLetter:
    return DeadLetter(
        stage="normalize",
        reason=f"bad hex in field 'value': '0xzz{i}'",
        payload='{"value": "0xzz"}',
        source="test",
        chain_id=None if i % 2 else 42161,
        at_ms=T0_MS + i,
    )


def records_by_table(txs: range, enriched: range) -> dict[str, list[Any]]:
    """Records of every archived table: ``txs`` plain and ``enriched`` enriched transactions,
    3 blocks, detections, rule matches and alerts, 4 dead letters."""
    return {
        "transactions": [make_tx(i) for i in txs] + [make_enriched(i) for i in enriched],
        "blocks": [make_block(i) for i in range(3)],
        "detections": [make_detection(i) for i in range(3)],
        "rule_matches": [make_rule_match(i) for i in range(3)],
        "alerts": [make_alert(i) for i in range(3)],
        "dead_letters": [make_dead_letter(i) for i in range(4)],
    }
