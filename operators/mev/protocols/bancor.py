"""Bancor: the BancorNetwork contract's ``convertByPath`` (V2 converters routed by the network).

The network never holds the tokens: the caller pays the path's first converter and the last one
pays the caller back, so the swap is read off the caller's own transfers and reported on the
network contract (as mev-inspect-py does).
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec, swap_from_recipient_transfers

NETWORK = "0x2f9ec37d6ccfff1cab21733bdadede11c823ccb0"


def _convert(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    caller = frame.trace.sender or ""
    return swap_from_recipient_transfers(frame, "bancor", caller, prior, children, pool=NETWORK)


SPECS = [
    spec(
        "bancor",
        "convertByPath(address[] _path,uint256 _amount,uint256 _minReturn,address _beneficiary,"
        "address _affiliateAccount,uint256 _affiliateFee)",
        "swap",
        _convert,
        [NETWORK],
    ),
]
