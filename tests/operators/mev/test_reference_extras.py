"""Over all 27 of mev-inspect-py's reference blocks: every swap of a protocol the reference
classifies is ours too (Bancor included), the only extra swaps are of protocols it does not
classify (listed here), and the findings' totals are the reference's.

Blocks: flashbots/mev-inspect-py tests/blocks at ce8179f0 (MIT), see tests/data/mev/README.md.
"""

from __future__ import annotations

import pytest

from operators.mev import analyze_block
from operators.mev.fixtures import load_block
from tests.operators.mev.conftest import DATA, analysis

BLOCKS = sorted(int(p.name.split(".")[0]) for p in (DATA / "blocks").glob("*.json.gz"))
# The protocols whose swaps mev-inspect-py classifies (its classifier specs at that commit).
REFERENCE_PROTOCOLS = {"uniswap_v2", "uniswap_v3", "balancer_v1", "curve", "0x", "bancor"}
# Swaps we find that the reference cannot: Balancer V2 vault swaps and CoW Protocol settled
# orders (no spec in the reference; the CoW ones are checked in test_cow_settlement_traces.py).
EXTRA_SWAPS = {
    (12914944, "0x9b2ee7dd41a002dd5c5a67f4559bafd65a5cbb4fa3dcf736c66c19e592f0a77c", (1, 0)),
    (13666184, "0x90722f6876f8727768ee5e0b80dd206970f93604df21f43edcde70bb32663a0d", (1, 0)),
    (13207907, "0x4033a69f87bb307e938af5184496ddee71df13201b28ecdaa5ecc6b89ff8b876", (0,)),
    (13207907, "0x9680e391b5a56205644928cfc78d7828310b223ac29fe25df4366a324913d1f7", (0, 18)),
    (13302365, "0xf687fedbc4bbc25adb3ef3a35c20c38fb7d35d86d7633d5061d2e3c4f86311b7", (2, 10, 2)),
    (13666312, "0x95d9f1a3868da2e2558f70c961ef4d0d3ef06ad9b153027a11b3de7c8bc3e1f5", (1, 1)),
}
NETWORK = "0x2f9ec37d6ccfff1cab21733bdadede11c823ccb0"


def test_all_27_reference_blocks_are_here() -> None:
    assert len(BLOCKS) == 27


def test_extra_swaps_are_only_of_protocols_the_reference_does_not_classify() -> None:
    extra = {
        (n, s.tx_hash, s.trace_address, s.protocol)
        for n in BLOCKS
        for s in analysis(n).swaps
        if s.protocol not in REFERENCE_PROTOCOLS
    }
    assert {(n, tx, path) for n, tx, path, _ in extra} == EXTRA_SWAPS
    assert {protocol for *_, protocol in extra} == {"balancer_v2", "cow"}


@pytest.mark.parametrize(
    ("number", "tx_hash", "sender", "token_in", "amount_in", "token_out", "amount_out"),
    [
        (
            13207907,
            "0xe8ea0c7707b45d9df6f97166594adb316bd07741a7ab76833cab4dd88d0e0e05",
            "0x337b208bf16fb909cf4bb6f9e5eb0cf6faeb5369",
            "0x514910771af9ca656af840dff83e8264ecf986ca",  # LINK
            1600001010000000000000,
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",  # USDC
            42471810277,
        ),
        (
            13298725,
            "0xd00e3c537afbdf1bf3d4636c2e887d446966eb131a69ea4f1d88d1bd921fc45a",
            "0xaa573f94bcca0a8083846430ba5120eddbfca055",
            "0xa02120696c7b8fe16c09c749e4598819b2b0e915",  # WXT
            1319737324000000000000000,
            "0xdac17f958d2ee523a2206206994597c13d831ec7",  # USDT
            7324329516,
        ),
    ],
)
def test_bancor_network_conversions_are_swaps(
    number: int,
    tx_hash: str,
    sender: str,
    token_in: str,
    amount_in: int,
    token_out: str,
    amount_out: int,
) -> None:
    [swap] = [s for s in analysis(number).swaps if s.protocol == "bancor"]
    assert (swap.tx_hash, swap.trace_address, swap.pool) == (tx_hash, (), NETWORK)
    assert (swap.sender, swap.recipient) == (sender, sender)
    assert (swap.token_in, swap.amount_in) == (token_in, amount_in)
    assert (swap.token_out, swap.amount_out) == (token_out, amount_out)


def test_a_contract_converting_amid_other_transfers_is_not_read_as_a_bancor_swap() -> None:
    # Tx 0x9ed0f2ff... of 13207907 calls convertByPath from a contract that also moves other
    # tokens: its own transfers do not say which pair was the conversion (the reference agrees).
    block = load_block(str(DATA / "blocks" / "13207907.json.gz"))
    calls = [t for t in block.traces if t.to == NETWORK and t.input.startswith("0xb77d239b")]
    assert len(calls) == 2
    assert len([s for s in analyze_block(block).swaps if s.protocol == "bancor"]) == 1


def test_findings_total_the_references_on_the_27_blocks() -> None:
    # mev-inspect-py on these blocks: 12 sandwiches, 37 arbitrages, 19 liquidations (issue 22).
    found = [analysis(n) for n in BLOCKS]
    assert sum(len(a.sandwiches) for a in found) == 12
    assert sum(len(a.arbitrages) for a in found) == 37
    assert sum(len(a.liquidations) for a in found) == 19
