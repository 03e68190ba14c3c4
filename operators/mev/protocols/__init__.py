"""Protocol knowledge, one module per protocol; ``REGISTRY`` is the order specs are tried in."""

from __future__ import annotations

from operators.mev.protocols import (
    aave,
    aggregators,
    balancer,
    balancer_v3,
    bancor,
    comet,
    compound,
    cow,
    cream,
    curve,
    erc20,
    morpho,
    oneinch,
    opensea,
    spark,
    uniswap,
    uniswap_v4,
    zeroex,
)
from operators.mev.protocols.spec import CallSpec

# Token transfers first: a ``transfer`` on any contract is a transfer, whatever else it is.
REGISTRY: tuple[CallSpec, ...] = (
    *erc20.SPECS,
    *uniswap.SPECS,
    *uniswap_v4.SPECS,
    *balancer_v3.SPECS,
    *spark.SPECS,
    *aave.SPECS,
    *zeroex.SPECS,
    *balancer.SPECS,
    *compound.SPECS,
    *comet.SPECS,
    *cream.SPECS,
    *curve.SPECS,
    *bancor.SPECS,
    *morpho.SPECS,
    *cow.SPECS,
    *oneinch.SPECS,
    *aggregators.SPECS,
    *opensea.SPECS,
)
