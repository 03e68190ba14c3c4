"""The lab's chain: Uniswap V2 core + periphery (two factories: Uniswap's and a fork of the same
bytecode, so two pools of one pair exist for arbitrage) and V3 core + periphery, deployed from
the npm packages' own build artifacts (tests/services/install_uniswap.sh), pools seeded with
liquidity; the population's bot and drop contracts (contracts/LabActors.sol, solcjs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak

from bench.lab.node import LabNode
from bench.testbed import compile_file

NPM = Path.home() / ".cache/scorpius/uniswap/node_modules/@uniswap"
ACTORS = Path(__file__).parent / "contracts" / "LabActors.sol"
E18 = 10**18
V3_FEE = 3000
V3_TICK = 887_220  # the widest ticks of the 3000 fee tier (spacing 60)
MAX = 2**256 - 1


def artifact(path: str) -> dict[str, Any]:
    """ABI and creation bytecode of one npm build file (V2: build/X.json, V3: artifacts/...)."""
    file = NPM / path
    if not file.is_file():
        raise SystemExit(f"{file} is missing: run tests/services/install_uniswap.sh")
    data: dict[str, Any] = json.loads(file.read_text())
    code = data["bytecode"]
    return {"abi": data["abi"], "bytecode": code if code.startswith("0x") else "0x" + code}


@dataclass(frozen=True)
class Pool:
    address: str
    family: str  # "v2" or "v3"
    exchange: str  # "uniswap_v2", "lab_fork", "uniswap_v3"
    token0: str
    token1: str
    router: str


@dataclass
class World:
    deployer: str
    tokens: list[str]
    weth: str
    factories: dict[str, str]  # exchange -> factory
    routers: dict[str, str]  # exchange -> router
    pools: list[Pool]
    drop: str
    bot_code: str
    v2_init_code_hash: str
    v3_init_code_hash: str
    bots: dict[str, str] = field(default_factory=dict)  # owner -> LabBot

    def pool(self, exchange: str, a: str, b: str) -> Pool:
        t0, t1 = sorted((a, b))
        return next(p for p in self.pools if (p.exchange, p.token0, p.token1) == (exchange, t0, t1))

    def settings(self, tmp: Path, chain_id: int) -> dict[str, str]:
        """What a user points the flow at for this chain: its factories and routers' names."""
        factories = tmp / "factories.json"
        factories.write_text(
            json.dumps(
                {
                    str(chain_id): {
                        "v2": {
                            name: {
                                "factory": self.factories[name],
                                "init_code_hash": self.v2_init_code_hash,
                            }
                            for name in ("uniswap_v2", "lab_fork")
                        },
                        "v3": {
                            "factory": self.factories["uniswap_v3"],
                            "init_code_hash": self.v3_init_code_hash,
                        },
                        "routers": {
                            self.routers["uniswap_v2"]: "uniswap_v2",
                            self.routers["lab_fork"]: "lab_fork",
                        },
                    }
                }
            )
        )
        labels = tmp / "labels"
        labels.mkdir(exist_ok=True)
        names = {
            "uniswap_v2": "Uniswap V2 Router02",
            "lab_fork": "Lab fork Router02",
            "uniswap_v3": "Uniswap V3 SwapRouter",
        }
        (labels / "lab.json").write_text(
            json.dumps(
                {
                    str(chain_id): {
                        router: {"label": names[name], "category": "router", "protocol": name}
                        for name, router in self.routers.items()
                    }
                }
            )
        )
        return {
            "SCORPIUS_DETECT_AMM_FACTORIES": str(factories),
            "SCORPIUS_ENRICH_LABELS_DIR": str(labels),
        }


def _sqrt_price_x96(price: float) -> int:
    return int((price**0.5) * 2**96)


def deploy(node: LabNode, deployer: str, bot_owners: list[str], people: list[str]) -> World:
    """Deploys everything, seeds the pools, funds ``people`` and the bots with tokens and has
    every person approve every router (set-up blocks, mined before the scenario starts)."""
    erc20 = artifact("v2-periphery/build/ERC20.json")
    weth = node.deploy(deployer, artifact("v2-periphery/build/WETH9.json")["bytecode"], [], [])
    tokens = sorted(
        node.deploy(deployer, erc20["bytecode"], ["uint256"], [10**36]) for _ in range(3)
    )
    pair_code = artifact("v2-core/build/UniswapV2Pair.json")["bytecode"]
    v2_factory = artifact("v2-core/build/UniswapV2Factory.json")["bytecode"]
    router02 = artifact("v2-periphery/build/UniswapV2Router02.json")["bytecode"]
    factories, routers = {}, {}
    for name in ("uniswap_v2", "lab_fork"):
        factories[name] = node.deploy(deployer, v2_factory, ["address"], [deployer])
        routers[name] = node.deploy(
            deployer, router02, ["address", "address"], [factories[name], weth]
        )
    pool_code = artifact("v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json")[
        "bytecode"
    ]
    factories["uniswap_v3"] = node.deploy(
        deployer,
        artifact("v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json")[
            "bytecode"
        ],
        [],
        [],
    )
    routers["uniswap_v3"] = node.deploy(
        deployer,
        artifact("v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json")["bytecode"],
        ["address", "address"],
        [factories["uniswap_v3"], weth],
    )
    positions = node.deploy(
        deployer,
        artifact(
            "v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/"
            "NonfungiblePositionManager.json"
        )["bytecode"],
        ["address", "address", "address"],
        [factories["uniswap_v3"], weth, "0x" + "00" * 19 + "01"],
    )
    pools: list[Pool] = []
    t0, t1, t2 = tokens
    v2_pairs = [
        ("uniswap_v2", t0, t1, 2_000 * E18),
        ("uniswap_v2", t0, t2, 1_000 * E18),
        ("uniswap_v2", t1, t2, 4_000 * E18),
        ("lab_fork", t0, t1, 2_000 * E18),
    ]
    for name, a, b, depth in v2_pairs:
        node.transact(deployer, factories[name], "createPair(address,address)", a, b)
        node.mine()
        (pair,) = node.call(factories[name], "getPair(address,address)", ["address"], a, b)
        pair = pair.lower()
        node.transact(deployer, a, "transfer(address,uint256)", pair, depth)
        node.transact(deployer, b, "transfer(address,uint256)", pair, depth)
        node.transact(deployer, pair, "mint(address)", deployer)
        node.mine()
        pools.append(Pool(pair, "v2", name, a, b, routers[name]))
    # One V3 pool (T0/T1, 0.3 %) at price 1 with full-range liquidity through the position manager.
    node.transact(
        deployer,
        positions,
        "createAndInitializePoolIfNecessary(address,address,uint24,uint160)",
        t0,
        t1,
        V3_FEE,
        _sqrt_price_x96(1.0),
    )
    for token in (t0, t1):
        node.transact(deployer, token, "approve(address,uint256)", positions, MAX)
    node.mine()
    node.transact(
        deployer,
        positions,
        "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
        (t0, t1, V3_FEE, -V3_TICK, V3_TICK, 2_000 * E18, 2_000 * E18, 0, 0, deployer, 2**40),
    )
    node.mine()
    (v3_pool,) = node.call(
        factories["uniswap_v3"], "getPool(address,address,uint24)", ["address"], t0, t1, V3_FEE
    )
    pools.append(Pool(v3_pool.lower(), "v3", "uniswap_v3", t0, t1, routers["uniswap_v3"]))
    compiled = compile_file(ACTORS)
    drop = node.deploy(deployer, "0x" + compiled["PublicDrop"].bytecode.hex(), [], [])
    world = World(
        deployer=deployer,
        tokens=tokens,
        weth=weth,
        factories=factories,
        routers=routers,
        pools=pools,
        drop=drop,
        bot_code="0x" + compiled["LabBot"].bytecode.hex(),
        v2_init_code_hash="0x" + keccak(hexstr=pair_code).hex(),
        v3_init_code_hash="0x" + keccak(hexstr=pool_code).hex(),
    )
    for owner in bot_owners:
        bot = node.deploy(owner, world.bot_code, [], [])
        world.bots[owner] = bot
        for token in tokens:
            node.transact(deployer, token, "transfer(address,uint256)", bot, 10**30, gas=100_000)
    for person in people:
        for token in tokens:
            node.transact(deployer, token, "transfer(address,uint256)", person, 10**30, gas=100_000)
            for router in routers.values():
                node.transact(person, token, "approve(address,uint256)", router, MAX, gas=100_000)
    node.mine_all()
    for pool in pools:
        assert int(node.rpc("eth_getCode", pool.address, "latest"), 16) != 0, pool
    return world
