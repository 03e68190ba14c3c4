"""SparkLend, an Aave V3 fork: the same ``liquidationCall`` (and aToken
``transferOnLiquidation``), told apart from Aave's only by the pool it is called on. Its specs
come before Aave's in the registry, so a call on a Spark pool is reported as ``spark``.

Blocks without traces are told apart the same way: by the address that emitted the
``LiquidationCall`` event (``POOLS``, read by operators/mev/logs.py).
"""

from __future__ import annotations

from functools import partial

from operators.mev.protocols.aave import liquidation
from operators.mev.protocols.spec import spec

PROTOCOL = "spark"
POOLS = frozenset(
    {
        "0xc13e21b648a5ee794902342038ff3adab66be987",  # SparkLend Pool (proxy), Ethereum mainnet
    }
)

SPECS = [
    spec(
        PROTOCOL,
        "liquidationCall(address collateral,address debt,address user,uint256 debtToCover,"
        "bool receiveAToken)",
        "liquidation",
        partial(liquidation, protocol=PROTOCOL),
        addresses=POOLS,
    ),
]
