"""ERC-20 transfers (any contract): ``transfer`` and ``transferFrom``."""

from __future__ import annotations

from operators.mev.model import Frame, Transfer
from operators.mev.protocols.spec import spec


def _transfer(frame: Frame) -> Transfer:
    args = frame.args
    sender = args.get("sender", frame.trace.sender or "")
    return Transfer(
        frame.tx_hash,
        frame.address,
        sender.lower(),
        args["recipient"].lower(),
        frame.trace.to or "",
        args["amount"],
    )


SPECS = [
    spec(None, "transfer(address recipient,uint256 amount)", "transfer", _transfer),
    spec(
        None,
        "transferFrom(address sender,address recipient,uint256 amount)",
        "transfer",
        _transfer,
    ),
]
