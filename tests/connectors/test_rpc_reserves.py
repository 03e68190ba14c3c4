"""getReserves by eth_call against a real Anvil node (the pair is a few hand-assembled bytes of
EVM code that answer like a V2 pair; the full exchange is in tests/flows/test_mev_anvil.py)."""

from __future__ import annotations

import pytest

from connectors.rpc import Endpoint
from connectors.rpc.reserves import RpcReserves, http_url, urls_by_chain
from operators.mev.mempool.reserves import ReservesUnavailable
from tests.services.anvil import AnvilNode, StartAnvil
from tests.services.ports import free_port

pytestmark = pytest.mark.service

RESERVE0, RESERVE1 = 123_456_789 * 10**18, 42 * 10**6


def _pair_code(reserve0: int, reserve1: int) -> str:
    """Runtime code returning abi.encode(reserve0, reserve1, 7) for any call."""

    def push16(value: int) -> str:
        return "6f" + value.to_bytes(16, "big").hex()

    return (
        "0x"
        + push16(reserve0) + "600052"  # mstore(0x00, reserve0)
        + push16(reserve1) + "602052"  # mstore(0x20, reserve1)
        + "6007604052"  # mstore(0x40, 7)
        + "60606000f3"  # return(0x00, 0x60)
    )  # fmt: skip


def test_reserves_of_a_pair_at_a_block_and_no_pair_elsewhere(anvil_nodes: StartAnvil) -> None:
    node: AnvilNode = anvil_nodes(31337)
    pair, reverter = "0x" + "5a" * 20, "0x" + "5b" * 20
    node.rpc("anvil_setCode", pair, _pair_code(RESERVE0, RESERVE1))
    node.rpc("anvil_setCode", reverter, "0x60006000fd")  # revert(0, 0)
    node.rpc("evm_mine")
    first = int(node.rpc("eth_blockNumber"), 16)
    node.rpc("anvil_setCode", pair, _pair_code(RESERVE0 + 1, RESERVE1 - 1))  # a swap, say
    node.rpc("evm_mine")
    urls = urls_by_chain([Endpoint(31337, node.ws_url)])
    assert urls == {31337: node.http_url}
    fetch = RpcReserves(urls, timeout_s=5.0)
    # (Anvil's setCode rewrites history too, so only the newest state is checked here; the
    # end-to-end test reads reserves that real swaps moved.)
    latest = (RESERVE0 + 1, RESERVE1 - 1)
    assert fetch(31337, pair, first + 1) == fetch(31337, pair, None) == latest
    # A block this node does not have yet (seen first through another URL): its latest state.
    assert fetch(31337, pair, first + 1000) == latest
    assert fetch(31337, reverter, None) is None
    assert fetch(31337, "0x" + "00" * 19 + "99", None) is None
    assert fetch(1, pair, None) is None  # no node for the chain


def test_an_unreachable_node_is_unavailable_not_an_empty_pool() -> None:
    url = f"http://127.0.0.1:{free_port()}/v3/abcdefghijklmnopqrstuvwxyz123456"
    with pytest.raises(ReservesUnavailable) as raised:
        RpcReserves({1: url}, timeout_s=1.0)(1, "0x" + "5a" * 20, None)
    assert "abcdefghijklmnopqrstuvwxyz123456" not in str(raised.value)  # the key stays secret


def test_http_url_of_websocket_urls() -> None:
    assert http_url("wss://eth.example/ws/v3/KEY") == "https://eth.example/ws/v3/KEY"
    assert http_url("ws://127.0.0.1:8545") == "http://127.0.0.1:8545"
    both = [Endpoint(1, "wss://a.example/x"), Endpoint(1, "https://b.example/y", 1)]
    assert urls_by_chain(both) == {1: "https://b.example/y"}
