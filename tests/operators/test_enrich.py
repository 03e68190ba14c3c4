"""operators.enrich on real mainnet calldata: ERC-20 methods, undecodable input, kinds and
labels (expected values: see enrich_samples.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.config import load_config
from operators.enrich import DEFAULT_ENRICHER, Enricher, enrich
from operators.enrich.labels import LabelFileError, load_labels
from operators.records import EnrichedTx, Tx
from tests.operators.enrich_samples import (
    ALICE,
    APPROVAL_TOPIC,
    CHAIN_SAMPLES,
    DAI,
    MEV_CALLS,
    SUSHI_ROUTER,
    TRANSFER_TOPIC,
    USDC,
    V2_LAYOUT,
    V2_ROUTER,
    Calldata,
    calldata,
    logs,
    make_tx,
    rpc_tx,
    samples,
    the_swap,
    topic_address,
    trace_tx,
)

# --- ERC-20 ----------------------------------------------------------------------------------------


def test_sample_set_covers_every_real_method() -> None:
    selectors = {rpc_tx(e["tx"]).selector for e in CHAIN_SAMPLES} | {
        trace_tx(c).selector for c in MEV_CALLS
    }
    assert {"0xa9059cbb", "0x095ea7b3", "0x23b872dd", "0x38ed1739", "0x7ff36ab5", "0x18cbafe5"} <= (
        selectors
    )
    assert {"0x414bf389", "0xc04b8d59", "0x5ae401dc", "0xac9650d8", "0x04e45aaf"} <= selectors
    assert {"0xb858183f", "0x3593564c", "0x4a25d94a", "0xdb3e2198", "0x472b43f3"} <= selectors


def test_erc20_transfer_matches_calldata_and_transfer_log() -> None:
    checked_logs = 0
    cases = list(samples("0xa9059cbb"))
    assert len(cases) >= 3
    for tx, receipt in cases:
        etx = enrich(tx)
        assert etx.kind == "token_transfer"
        assert etx.call is not None and etx.call.method == "transfer"
        checked_logs += _matches_calldata_and_log(tx, etx, receipt, TRANSFER_TOPIC)
    assert checked_logs >= 1


def test_erc20_approve_matches_calldata_and_approval_log() -> None:
    checked_logs = 0
    for tx, receipt in samples("0x095ea7b3"):
        etx = enrich(tx)
        assert etx.kind == "approval"
        checked_logs += _matches_calldata_and_log(tx, etx, receipt, APPROVAL_TOPIC)
    assert checked_logs >= 1


def _matches_calldata_and_log(
    tx: Tx, etx: EnrichedTx, receipt: dict[str, Any] | None, topic: str
) -> bool:
    """Token, counterparty and amount as the calldata gives them (address, uint256) and, when
    the tx went through, as the token's own log shows them; whether there was a log to check."""
    raw = Calldata(tx.input)
    assert (etx.token, etx.counterparty, etx.token_amount) == (
        tx.to,
        raw.address(0),
        raw.word(1),
    )
    if receipt is None or receipt["status"] != "0x1":
        return False
    (log,) = [g for g in logs(receipt, topic) if g["address"].lower() == tx.to]
    assert topic_address(log["topics"][1]) == tx.sender
    assert topic_address(log["topics"][2]) == etx.counterparty
    assert int(log["data"], 16) == etx.token_amount
    return True


def test_erc20_transfer_from_matches_calldata_and_transfer_log() -> None:
    cases = list(samples("0x23b872dd"))
    assert cases
    for tx, receipt in cases:
        etx = enrich(tx)
        raw = Calldata(tx.input)
        assert etx.kind == "token_transfer"
        assert etx.call is not None and etx.call.args["from"] == raw.address(0)
        assert (etx.counterparty, etx.token_amount) == (raw.address(1), raw.word(2))
        if receipt is not None and receipt["status"] == "0x1":
            transfers = [g for g in logs(receipt, TRANSFER_TOPIC) if g["address"].lower() == tx.to]
            assert [
                (topic_address(g["topics"][1]), topic_address(g["topics"][2]), int(g["data"], 16))
                for g in transfers
            ] == [(raw.address(0), etx.counterparty, etx.token_amount)]


def test_set_approval_for_all_and_permit_are_approvals() -> None:
    (tx, _), *_ = samples("0xa22cb465")
    etx = enrich(tx)
    raw = Calldata(tx.input)
    assert etx.kind == "approval"
    assert (etx.counterparty, etx.token_amount) == (raw.address(0), None)
    assert etx.call is not None and etx.call.args["approved"] is bool(raw.word(1))

    (tx, _), *_ = samples("0xd505accf")  # a real Gnosis-chain permit
    etx = enrich(tx)
    raw = Calldata(tx.input)
    assert etx.kind == "approval"
    assert (etx.counterparty, etx.token_amount) == (raw.address(1), raw.word(2))
    assert etx.call is not None and etx.call.args["r"] == "0x" + raw.body[160:192].hex()


# --- not decodable, no exception ------------------------------------------------------------------


def test_truncated_real_calldata_is_not_decoded() -> None:
    truncated = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES if len(e["tx"]["input"]) == 10]
    assert {"0xa9059cbb", "0x3593564c"} <= {tx.selector for tx in truncated}
    for tx in truncated:
        etx = enrich(tx)
        assert etx.call is None and etx.swaps == ()
        assert etx.token_amount is None
        # The selector is all that is known: a token method keeps its kind, a router call is "other".
        assert etx.kind == ("token_transfer" if tx.selector == "0xa9059cbb" else "other")


KNOWN_SELECTORS = sorted(
    {"0xa9059cbb", "0x095ea7b3", "0x23b872dd", "0xd505accf", "0xa22cb465"}
    | set(V2_LAYOUT)
    | {"0x414bf389", "0xc04b8d59", "0xdb3e2198", "0xf28c0498", "0xac9650d8", "0x5ae401dc"}
    | {"0x1f0464d1", "0x04e45aaf", "0xb858183f", "0x5023b4df", "0x09b81346", "0x472b43f3"}
    | {"0x42712a67", "0x3593564c", "0x24856bc3"}
)


@settings(max_examples=300, deadline=None)
@given(selector=st.sampled_from(KNOWN_SELECTORS), body=st.binary(max_size=400))
def test_garbage_after_a_known_selector_never_raises(selector: str, body: bytes) -> None:
    etx = enrich(make_tx(V2_ROUTER, selector + body.hex(), value=1))
    assert etx.kind in ("swap", "approval", "token_transfer", "other")
    assert etx.kind != "swap" or etx.swaps


def test_random_words_after_transfer_are_not_decoded() -> None:
    dirty_address = "ff" * 12 + "11" * 20  # an address word with its high bytes set
    etx = enrich(make_tx(USDC, "0xa9059cbb" + dirty_address + "00" * 31 + "05"))
    assert etx.call is None and etx.token_amount is None


# --- kinds and labels --------------------------------------------------------------------------------


def test_kinds_of_plain_transactions() -> None:
    assert enrich(make_tx(None, "0x6080604052")).kind == "contract_creation"
    assert enrich(make_tx(ALICE, "0x", value=5)).kind == "transfer"
    assert enrich(make_tx(ALICE, "0x", value=0)).kind == "other"
    assert enrich(make_tx(ALICE, "0x12345678aa", value=5)).kind == "other"
    deposits = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES if e["tx"].get("type") == "0x7e"]
    assert deposits
    for tx in deposits:
        etx = enrich(tx)
        assert etx.kind == "deposit"
        assert etx.sender_label == "Optimism: L1 attributes depositor"
        assert etx.to_label == "Optimism: L1Block"


def test_labels_are_per_chain() -> None:
    usdc_base = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
    assert enrich(make_tx(USDC, "0x", chain_id=1)).to_label == "USDC"
    assert enrich(make_tx(usdc_base, "0x", chain_id=8453)).to_label == "USDC"
    assert enrich(make_tx(usdc_base, "0x", chain_id=1)).to_label is None
    assert enrich(make_tx(USDC, "0x", chain_id=8453)).to_label is None
    weth_op = "0x4200000000000000000000000000000000000006"
    assert enrich(make_tx(weth_op, "0x", chain_id=10)).to_label == "WETH"
    arb_weth = "0x82af49447d8a07e3bd95bd0d56f35241523fbab1"
    assert enrich(make_tx(arb_weth, "0x", chain_id=42161)).to_label == "WETH"
    assert enrich(make_tx(ALICE, "0x", sender=V2_ROUTER)).sender_label == "Uniswap V2: Router02"
    assert enrich(make_tx(ALICE, "0x", chain_id=137)).to_label is None  # an unknown chain


def test_extra_labels_and_abis_extend_and_override(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    # YAML reads the unquoted key as an int: the loader takes it back as an address.
    (labels / "mine.yaml").write_text(
        f"1:\n  {USDC}: {{label: My USDC, category: stablecoin}}\n"
        f"  {ALICE}: Alice\n"
        f'8453:\n  "{SUSHI_ROUTER}": {{label: Fork router, category: router, protocol: forkswap}}\n'
    )
    abis = tmp_path / "abi"
    abis.mkdir()
    (abis / "vault.json").write_text(
        json.dumps(
            {
                "abi": [
                    {
                        "type": "function",
                        "name": "deposit",
                        "inputs": [
                            {"name": "assets", "type": "uint256"},
                            {"name": "receiver", "type": "address"},
                        ],
                    }
                ]
            }
        )
    )
    enricher = Enricher.load(labels, abis)
    etx = enricher.enrich(make_tx(USDC, "0x", sender=ALICE))
    assert (etx.to_label, etx.sender_label) == ("My USDC", "Alice")
    deposit = calldata("0x6e553f65", ["uint256", "address"], [42, ALICE])
    etx = enricher.enrich(make_tx(ALICE, deposit))
    assert etx.call is not None and etx.call.args == {"assets": 42, "receiver": ALICE}
    assert etx.kind == "other"
    assert enrich(make_tx(ALICE, deposit)).call is None  # the bundled enricher is unchanged
    v2 = calldata(
        "0x38ed1739",
        ["uint256", "uint256", "address[]", "address", "uint256"],
        [1, 2, [DAI, USDC], ALICE, 3],
    )
    assert (
        the_swap(enricher.enrich(make_tx(SUSHI_ROUTER, v2, chain_id=8453))).protocol == "forkswap"
    )


@pytest.mark.parametrize(
    "text",
    [
        "1: [not, a, mapping]\n",
        '1:\n  "0x1234": USDC\n',
        'mainnet:\n  "0x' + "11" * 20 + '": X\n',
        '1:\n  "0x' + "11" * 20 + '": {category: token}\n',
        '1:\n  "0x' + "11" * 20 + '": {label: X, colour: red}\n',
        '1:\n  "0x' + "11" * 20 + '": {label: X, category: token, decimals: six}\n',
    ],
)
def test_malformed_label_files_are_refused_with_the_file_named(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(LabelFileError, match=r"bad\.yaml"):
        load_labels([tmp_path])


def test_bundled_token_labels_carry_their_decimals() -> None:
    # The console shows amounts in token units from these (web/vite.config.ts reads the same files).
    labels = load_labels([Path(__file__).parents[2] / "operators/enrich/data/labels"])
    assert labels[1][USDC].decimals == 6
    assert labels[1][DAI].decimals == 18
    tokens = [
        x
        for chain in labels.values()
        for x in chain.values()
        if x.category in {"token", "stablecoin", "wrapped_native"}
    ]
    assert tokens and all(isinstance(x.decimals, int) for x in tokens)


def test_config_names_the_users_folders(tmp_path: Path) -> None:
    (tmp_path / "team.json").write_text(json.dumps({"1": {ALICE: {"label": "Treasury"}}}))
    config = load_config({"SCORPIUS_ENRICH_LABELS_DIR": str(tmp_path)})
    enricher = Enricher.load(config.enrich.labels_dir, config.enrich.abi_dir)
    assert enricher.enrich(make_tx(ALICE, "0x", value=1)).to_label == "Treasury"
    assert enricher.label(1, ALICE) is not None and DEFAULT_ENRICHER.label(1, ALICE) is None


def test_enrich_as_a_bytewax_map_step() -> None:
    txs = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES]
    out: list[EnrichedTx] = []
    flow = Dataflow("enrich_test")
    enriched = op.map("enrich", op.input("in", flow, TestingSource(txs)), enrich)
    op.output("out", enriched, TestingSink(out))
    run_main(flow)
    assert [e.tx.hash for e in out] == [tx.hash for tx in txs]
    assert {"swap", "token_transfer", "approval", "deposit", "other"} <= {e.kind for e in out}
