"""Which pools a decoded swap intent trades on, computed from its tokens (no RPC).

Uniswap V2 pairs (and forks) and V3 pools live at CREATE2 addresses fixed by their factory, the
sorted token pair (and the V3 fee tier); data/amm_factories.json lists the factories per chain
and which V2 family each router trades.
"""

from __future__ import annotations

from functools import lru_cache

import msgspec
from eth_abi import encode
from eth_utils import keccak

from operators.mev.protocols.spec import load_json
from operators.records import Swap

_FACTORIES: dict[str, dict] = {
    k: v for k, v in load_json("amm_factories.json").items() if k.isdigit()
}
# The Universal Router and other multi-family routers: their V2 hops are Uniswap V2 pairs.
_DEFAULT_V2 = "uniswap_v2"


class Hop(msgspec.Struct, frozen=True):
    """One pool of a swap's path: ``token_in`` -> ``token_out`` through ``pool``."""

    pool: str
    family: str  # "v2" (constant product, reserves quote exactly) or "v3"
    token_in: str
    token_out: str
    fee: int | None = None


def _create2(factory: str, salt: bytes, init_code_hash: str) -> str:
    digest = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + bytes.fromhex(init_code_hash[2:]))
    return "0x" + digest[12:].hex()


def _sorted(a: str, b: str) -> tuple[str, str]:
    a, b = a.lower(), b.lower()
    return (a, b) if a < b else (b, a)


@lru_cache(maxsize=65536)
def v2_pair(chain_id: int, family: str, token_a: str, token_b: str) -> str | None:
    spec = _FACTORIES.get(str(chain_id), {}).get("v2", {}).get(family)
    if spec is None:
        return None
    t0, t1 = _sorted(token_a, token_b)
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return _create2(spec["factory"], salt, spec["init_code_hash"])


@lru_cache(maxsize=65536)
def v3_pool(chain_id: int, token_a: str, token_b: str, fee: int) -> str | None:
    spec = _FACTORIES.get(str(chain_id), {}).get("v3")
    if spec is None:
        return None
    t0, t1 = _sorted(token_a, token_b)
    salt = keccak(encode(["address", "address", "uint24"], [t0, t1, fee]))
    return _create2(spec["factory"], salt, spec["init_code_hash"])


def v2_family(chain_id: int, swap: Swap) -> str:
    routers: dict[str, str] = _FACTORIES.get(str(chain_id), {}).get("routers", {})
    return routers.get(swap.router.lower(), _DEFAULT_V2)


def hops(chain_id: int, swap: Swap) -> list[Hop]:
    """The pools of ``swap`` in path order; empty when a factory is unknown for the chain."""
    path = [token.lower() for token in swap.path]
    found: list[Hop] = []
    for i in range(len(path) - 1):
        a, b = path[i], path[i + 1]
        if swap.fees:
            fee = swap.fees[i] if i < len(swap.fees) else swap.fees[-1]
            pool = v3_pool(chain_id, a, b, fee)
            hop = Hop(pool, "v3", a, b, fee) if pool else None
        else:
            pool = v2_pair(chain_id, v2_family(chain_id, swap), a, b)
            hop = Hop(pool, "v2", a, b) if pool else None
        if hop is None:
            return []
        found.append(hop)
    return found


_V3_FEE_TIERS = (100, 500, 3000, 10000)


def exchange_of(chain_id: int, protocol: str, pool: str, token_a: str, token_b: str) -> str | None:
    """The exchange that deployed ``pool`` (``sushiswap``, ``uniswap_v2``, ...), recognised by
    its CREATE2 address; None when no known factory made it."""
    if protocol == "uniswap_v2":
        for family in _FACTORIES.get(str(chain_id), {}).get("v2", {}):
            if v2_pair(chain_id, family, token_a, token_b) == pool:
                return str(family)
    elif protocol == "uniswap_v3":
        for fee in _V3_FEE_TIERS:
            if v3_pool(chain_id, token_a, token_b, fee) == pool:
                return "uniswap_v3"
    return None
