"""geth call-tracer results become the same traces, and the same findings, as Parity's."""

from __future__ import annotations

from typing import Any

import msgspec

from operators.mev import detect_block
from operators.mev.geth import traces_from_call_tracer
from operators.records import Trace
from tests.operators.mev.conftest import block


def _as_call_tracer(traces: tuple[Trace, ...]) -> list[dict[str, Any]]:
    """Write a block's Parity traces the way geth's call tracer reports them."""
    nodes: dict[tuple[str, tuple[int, ...]], dict[str, Any]] = {}
    roots: list[tuple[int, dict[str, Any]]] = []
    for t in sorted(
        (t for t in traces if t.tx_hash), key=lambda t: (t.tx_position, t.trace_address)
    ):
        kind = {"create": "CREATE", "suicide": "SELFDESTRUCT"}.get(
            t.type, (t.call_type or "call").upper()
        )
        node: dict[str, Any] = {
            "type": kind,
            "from": t.sender,
            "to": t.to,
            "value": hex(t.value),
            "gas": hex(t.gas),
            "input": t.input,
            "calls": [],
        }
        if t.gas_used is not None:
            node["gasUsed"] = hex(t.gas_used)
        if t.error is not None:
            node["error"] = "execution reverted" if t.error == "Reverted" else t.error
        nodes[(t.tx_hash or "", t.trace_address)] = node
        if t.trace_address:
            nodes[(t.tx_hash or "", t.trace_address[:-1])]["calls"].append(node)
        else:
            roots.append((t.tx_position or 0, {"txHash": t.tx_hash, "result": node}))
    return [entry for _, entry in sorted(roots, key=lambda r: r[0])]


def test_flattening_restores_addresses_order_and_errors() -> None:
    result = [
        {
            "result": {
                "type": "CALL",
                "from": "0xAA",
                "to": "0xBB",
                "value": "0x5",
                "gas": "0x100",
                "gasUsed": "0x10",
                "input": "0x12345678",
                "error": "execution reverted",
                "calls": [
                    {"type": "DELEGATECALL", "from": "0xbb", "to": "0xcc", "input": "0x"},
                    {
                        "type": "CREATE2",
                        "from": "0xbb",
                        "to": "0xdd",
                        "input": "0x60",
                        "error": "out of gas",
                    },
                ],
            }
        }
    ]
    root, delegate, create = traces_from_call_tracer(result, tx_hashes=["0xABC"])
    assert (root.tx_hash, root.trace_address, root.value, root.error) == (
        "0xabc",
        (),
        5,
        "Reverted",
    )
    assert (root.sender, root.subtraces, root.gas_used) == ("0xaa", 2, 16)
    assert (delegate.trace_address, delegate.type, delegate.call_type) == (
        (0,),
        "call",
        "delegatecall",
    )
    assert (create.trace_address, create.type, create.error) == ((1,), "create", "out of gas")


def test_findings_match_the_parity_path() -> None:
    for number in (12775690, 13404932, 12483198):
        parity = block(number)
        geth_traces = traces_from_call_tracer(_as_call_tracer(parity.traces))
        geth = msgspec.structs.replace(parity, traces=tuple(geth_traces))
        want = [(d.key, d.data) for d in detect_block(parity)]
        assert want
        assert [(d.key, d.data) for d in detect_block(geth)] == want
