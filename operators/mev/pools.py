"""Which pools a decoded swap intent trades on, computed from its tokens (no RPC).

Uniswap V2 pairs (and forks) and V3 pools (and forks: PancakeSwap V3) live at CREATE2 addresses
fixed by their factory (or pool deployer), the sorted token pair (and the V3 fee tier); data/amm_factories.json lists the factories per chain
and which V2 family each router trades. ``AmmFactories.load(extra)`` adds the user's own file of
the same shape (a devnet, a fork, another chain's DEX: config ``SCORPIUS_DETECT_AMM_FACTORIES``);
the module-level functions use the bundled data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
from eth_abi import encode
from eth_utils import keccak

from operators.mev.protocols.spec import load_json
from operators.records import Swap

# The Universal Router and other multi-family routers: their V2 hops are Uniswap V2 pairs.
_DEFAULT_V2 = "uniswap_v2"
_V3_FEE_TIERS = (100, 500, 3000, 10000)
_CACHE_LIMIT = 65536


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


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base`` per chain and section: a user's entry wins on a repeated name."""
    out = {chain: dict(spec) for chain, spec in base.items() if chain.isdigit()}
    for chain, spec in extra.items():
        if not chain.isdigit():
            continue
        mine = out.setdefault(chain, {})
        for section, value in spec.items():
            if isinstance(value, dict) and section in ("v2", "v3_forks", "routers"):
                lowered = {k.lower() if section == "routers" else k: v for k, v in value.items()}
                mine[section] = {**mine.get(section, {}), **lowered}
            else:
                mine[section] = value
    return out


class AmmFactories:
    """Pool factories per chain; addresses are derived (and memoised) on demand."""

    def __init__(self, factories: dict[str, Any]) -> None:
        self._factories = {k: v for k, v in factories.items() if k.isdigit()}
        self._cache: dict[tuple[Any, ...], str | None] = {}
        # The hops of a path, by (chain, V2 family or None for V3, path, fees): the detectors
        # and the quote step ask for the same swap's hops several times.
        self._paths: dict[tuple[Any, ...], tuple[Hop, ...]] = {}

    @classmethod
    def load(cls, extra_path: str | Path | None = None) -> AmmFactories:
        """The bundled factories, then the user's JSON file of the same shape (theirs win)."""
        bundled = load_json("amm_factories.json")
        if not extra_path:
            return cls(bundled)
        return cls(_merged(bundled, json.loads(Path(extra_path).read_text())))

    def __reduce__(self) -> tuple[Any, ...]:
        # Windows snapshot the detectors holding this: pickle the data, not the memo.
        return (AmmFactories, (self._factories,))

    def _memo(self, key: tuple[Any, ...], compute: Any) -> str | None:
        if key not in self._cache:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = compute()
        return self._cache[key]

    def v2_pair(self, chain_id: int, family: str, token_a: str, token_b: str) -> str | None:
        spec = self._factories.get(str(chain_id), {}).get("v2", {}).get(family)
        if spec is None:
            return None
        t0, t1 = _sorted(token_a, token_b)

        def compute() -> str:
            salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
            return _create2(spec["factory"].lower(), salt, spec["init_code_hash"])

        return self._memo(("v2", chain_id, family, t0, t1), compute)

    def v3_pool(self, chain_id: int, token_a: str, token_b: str, fee: int) -> str | None:
        spec = self._factories.get(str(chain_id), {}).get("v3")
        return self._v3_salted(("v3", chain_id), spec, "factory", token_a, token_b, fee)

    def v3_fork_pool(
        self, chain_id: int, fork: str, token_a: str, token_b: str, fee: int
    ) -> str | None:
        """A Uniswap V3 fork's pool (``v3_forks`` in the data): CREATE2 from its pool deployer,
        salted like Uniswap V3's."""
        spec = self._factories.get(str(chain_id), {}).get("v3_forks", {}).get(fork)
        return self._v3_salted(("v3_fork", chain_id, fork), spec, "deployer", token_a, token_b, fee)

    def _v3_salted(
        self,
        memo: tuple[Any, ...],
        spec: dict[str, str] | None,
        deployer: str,
        token_a: str,
        token_b: str,
        fee: int,
    ) -> str | None:
        """CREATE2 from ``spec[deployer]`` with Uniswap V3's salt (sorted pair and fee tier)."""
        if spec is None:
            return None
        t0, t1 = _sorted(token_a, token_b)

        def compute() -> str:
            salt = keccak(encode(["address", "address", "uint24"], [t0, t1, fee]))
            return _create2(spec[deployer].lower(), salt, spec["init_code_hash"])

        return self._memo((*memo, t0, t1, fee), compute)

    def v2_family(self, chain_id: int, swap: Swap) -> str:
        routers: dict[str, str] = self._factories.get(str(chain_id), {}).get("routers", {})
        return routers.get(swap.router.lower(), _DEFAULT_V2)

    def hops(self, chain_id: int, swap: Swap) -> list[Hop]:
        """The pools of ``swap`` in path order; empty when a factory is unknown for the chain."""
        family = None if swap.fees else self.v2_family(chain_id, swap)
        key = (chain_id, family, swap.path, swap.fees)
        found = self._paths.get(key)
        if found is None:
            if len(self._paths) >= _CACHE_LIMIT:
                self._paths.clear()
            found = self._paths[key] = tuple(self._hops(chain_id, swap))
        return list(found)

    def _hops(self, chain_id: int, swap: Swap) -> list[Hop]:
        path = [token.lower() for token in swap.path]
        found: list[Hop] = []
        for i in range(len(path) - 1):
            a, b = path[i], path[i + 1]
            if swap.fees:
                fee = swap.fees[i] if i < len(swap.fees) else swap.fees[-1]
                pool = self.v3_pool(chain_id, a, b, fee)
                hop = Hop(pool, "v3", a, b, fee) if pool else None
            else:
                pool = self.v2_pair(chain_id, self.v2_family(chain_id, swap), a, b)
                hop = Hop(pool, "v2", a, b) if pool else None
            if hop is None:
                return []
            found.append(hop)
        return found

    def exchange_of(
        self, chain_id: int, protocol: str, pool: str, token_a: str, token_b: str
    ) -> str | None:
        """The exchange that deployed ``pool`` (``sushiswap``, ``uniswap_v2``, ...), recognised
        by its CREATE2 address; None when no known factory made it."""
        if protocol == "uniswap_v2":
            for family in self._factories.get(str(chain_id), {}).get("v2", {}):
                if self.v2_pair(chain_id, family, token_a, token_b) == pool:
                    return str(family)
        elif protocol == "uniswap_v3":
            for fee in _V3_FEE_TIERS:
                if self.v3_pool(chain_id, token_a, token_b, fee) == pool:
                    return "uniswap_v3"
            forks = self._factories.get(str(chain_id), {}).get("v3_forks", {})
            for fork, spec in forks.items():
                for fee in spec.get("fees", _V3_FEE_TIERS):
                    if self.v3_fork_pool(chain_id, fork, token_a, token_b, fee) == pool:
                        return str(fork)
        return None


BUNDLED = AmmFactories.load()


def v2_pair(chain_id: int, family: str, token_a: str, token_b: str) -> str | None:
    return BUNDLED.v2_pair(chain_id, family, token_a, token_b)


def v3_pool(chain_id: int, token_a: str, token_b: str, fee: int) -> str | None:
    return BUNDLED.v3_pool(chain_id, token_a, token_b, fee)


def v2_family(chain_id: int, swap: Swap) -> str:
    return BUNDLED.v2_family(chain_id, swap)


def hops(chain_id: int, swap: Swap) -> list[Hop]:
    return BUNDLED.hops(chain_id, swap)


def exchange_of(chain_id: int, protocol: str, pool: str, token_a: str, token_b: str) -> str | None:
    return BUNDLED.exchange_of(chain_id, protocol, pool, token_a, token_b)
