"""End to end on a real chain: a sandwich seen in the mempool, then mined, then linked.

On a fresh Anvil node (``--no-mining``) the test deploys its own constant-product exchange
(tests/flows/contracts/SandwichLab.sol, compiled with solcjs in the session: two ERC-20 tokens, a
CREATE2 pair factory, a Router02-compatible router, a searcher's bot). The real flow
(``flows.mempool.build_flow``, live RPC source) runs while a victim swap and a searcher's
frontrun and backrun wait in the mempool; the flow must raise the sandwichable-victim and the
sandwich-attempt alerts before anything is mined. Then the block is mined, and the block
detector's sandwich must carry the searcher's profit exactly as the chain's balances say
(``balanceOf`` by ``eth_call`` before and after the block), and the prediction link must tie
the block's sandwich to both alerts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bytewax.testing import run_main
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from prometheus_client import REGISTRY

from connectors.rpc import Endpoint
from flows.config import load_config
from flows.mempool import build_flow
from operators.mev.mempool import amm
from tests.services.anvil import DEV_KEYS, AnvilNode, StartAnvil
from tests.services.solc import Compile, Compiled
from tests.waiting import wait_until

pytestmark = [pytest.mark.service, pytest.mark.slow]

CONTRACTS = Path(__file__).parent / "contracts" / "SandwichLab.sol"
CHAIN = 31337
GWEI = 10**9
E18 = 10**18
DEPLOYER, VICTIM, SEARCHER = DEV_KEYS[0], DEV_KEYS[1], DEV_KEYS[2]
RESERVE_A, RESERVE_B = 100 * E18, 200_000 * E18
VICTIM_IN = 5 * E18
SLIPPAGE_PCT = 3


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def calldata(signature: str, *args: Any) -> str:
    types = signature[signature.index("(") + 1 : -1]
    arg_types = [t for t in types.split(",") if t] if types else []
    return "0x" + (selector(signature) + encode(arg_types, list(args))).hex()


def address_of(key: str) -> str:
    return Account.from_key(key).address.lower()


class Chain:
    """Signed transactions and calls against one Anvil node."""

    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.nonces: dict[str, int] = {}

    def send(
        self, key: str, to: str | None, data: str, tip: int = GWEI, gas: int = 3_000_000
    ) -> str:
        sender = address_of(key)
        nonce = self.nonces.get(sender)
        if nonce is None:
            nonce = int(self.node.rpc("eth_getTransactionCount", sender, "pending"), 16)
        self.nonces[sender] = nonce + 1
        tx: dict[str, Any] = {
            "chainId": CHAIN,
            "nonce": nonce,
            "gas": gas,
            # Anvil orders a block by fee cap (then arrival), builders by tip: the cap moves
            # with the tip so both orders agree.
            "maxFeePerGas": 50 * GWEI + tip,
            "maxPriorityFeePerGas": tip,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        signed = Account.sign_transaction(tx, key)
        tx_hash: str = self.node.rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
        return tx_hash.lower()

    def mine(self) -> int:
        self.node.rpc("evm_mine")
        return self.block_number()

    def block_number(self) -> int:
        return int(self.node.rpc("eth_blockNumber"), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        receipt: dict[str, Any] = self.node.rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and receipt["status"] == "0x1", f"{tx_hash} failed: {receipt}"
        return receipt

    def transact(self, key: str, to: str, signature: str, *args: Any) -> None:
        tx_hash = self.send(key, to, calldata(signature, *args))
        self.mine()
        self.receipt(tx_hash)

    def deploy(self, key: str, contract: Compiled, types: list[str], args: list[Any]) -> str:
        tx_hash = self.send(key, None, "0x" + (contract.bytecode + encode(types, args)).hex())
        self.mine()
        address: str = self.receipt(tx_hash)["contractAddress"]
        return address.lower()

    def call(
        self, to: str, signature: str, out: list[str], *args: Any, block: int | None = None
    ) -> Any:
        tag = "latest" if block is None else hex(block)
        result = self.node.rpc("eth_call", {"to": to, "data": calldata(signature, *args)}, tag)
        return decode(out, bytes.fromhex(result[2:]))

    def balance(self, token: str, owner: str, block: int | None = None) -> int:
        (value,) = self.call(token, "balanceOf(address)", ["uint256"], owner, block=block)
        return int(value)


@dataclass(frozen=True)
class Exchange:
    token_a: str
    token_b: str
    factory: str
    pair_init_code_hash: str
    pair: str
    router: str
    bot: str


def deploy_exchange(chain: Chain, contracts: dict[str, Compiled]) -> Exchange:
    token = contracts["TestToken"]
    token_a = chain.deploy(DEPLOYER, token, ["string", "uint256"], ["AAA", 10**30])
    token_b = chain.deploy(DEPLOYER, token, ["string", "uint256"], ["BBB", 10**30])
    factory = chain.deploy(DEPLOYER, contracts["Factory"], [], [])
    chain.transact(DEPLOYER, factory, "createPair(address,address)", token_a, token_b)
    (pair,) = chain.call(factory, "getPair(address,address)", ["address"], token_a, token_b)
    router = chain.deploy(DEPLOYER, contracts["Router"], ["address"], [factory])
    bot = chain.deploy(SEARCHER, contracts["Sandwicher"], [], [])
    transfer = "transfer(address,uint256)"
    chain.transact(DEPLOYER, token_a, transfer, pair, RESERVE_A)
    chain.transact(DEPLOYER, token_b, transfer, pair, RESERVE_B)
    chain.transact(DEPLOYER, pair, "sync()")
    chain.transact(DEPLOYER, token_a, transfer, address_of(VICTIM), 10 * VICTIM_IN)
    chain.transact(DEPLOYER, token_a, transfer, bot, 50 * E18)
    chain.transact(VICTIM, token_a, "approve(address,uint256)", router, 2**256 - 1)
    return Exchange(
        token_a,
        token_b,
        factory,
        "0x" + keccak(contracts["Pair"].bytecode).hex(),
        pair.lower(),
        router,
        bot,
    )


def write_settings(tmp: Path, ex: Exchange) -> dict[str, str]:
    """Test-only data the flow is pointed at: the exchange's factory and the router's label."""
    factories = tmp / "factories.json"
    factories.write_text(
        json.dumps(
            {
                str(CHAIN): {
                    "v2": {
                        "uniswap_v2": {
                            "factory": ex.factory,
                            "init_code_hash": ex.pair_init_code_hash,
                        }
                    },
                    "routers": {ex.router: "uniswap_v2"},
                }
            }
        )
    )
    labels = tmp / "labels"
    labels.mkdir()
    (labels / "lab.json").write_text(
        json.dumps(
            {
                str(CHAIN): {
                    ex.router: {
                        "label": "SandwichLab Router",
                        "category": "router",
                        "protocol": "uniswap_v2",
                    }
                }
            }
        )
    )
    rules = tmp / "rules"
    rules.mkdir()
    # A user rule on the swap's slippage tolerance: it can match only if the flow quoted the
    # pending swap (Swap.quote) before the rules ran.
    (rules / "slippage.yaml").write_text(
        "rules:\n"
        "  - id: loose-slippage\n"
        "    severity: high\n"
        "    when:\n"
        "      - swap.slippage >= 0.025\n"
    )
    return {
        "SCORPIUS_DETECT_AMM_FACTORIES": str(factories),
        "SCORPIUS_ENRICH_LABELS_DIR": str(labels),
        "SCORPIUS_RULES_DIR": str(rules),
    }


def detections(out: Path) -> list[dict[str, Any]]:
    path = out / "detections.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def alerts(out: Path) -> list[dict[str, Any]]:
    path = out / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    return wait_until(check, timeout, what, interval=0.1)


@pytest.fixture
def running_flow(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Path]]:
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(environ: dict[str, str]) -> Path:
        out = tmp_path / "out"
        cfg = load_config(
            {**environ, "SCORPIUS_OUTPUT_DIR": str(out), "SCORPIUS_OUTPUT_CONSOLE": "false"}
        )
        thread = threading.Thread(target=run_main, args=(build_flow(cfg, stop),), daemon=True)
        thread.start()
        threads.append(thread)
        return out

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "the flow did not end after the stop signal"


def test_sandwich_alerted_in_the_mempool_then_mined_with_the_chain_states_profit(
    anvil_nodes: StartAnvil,
    solc_compile: Compile,
    running_flow: Callable[[dict[str, str]], Path],
    tmp_path: Path,
) -> None:
    node = anvil_nodes(CHAIN)
    chain = Chain(node)
    ex = deploy_exchange(chain, solc_compile(CONTRACTS))

    environ = {
        "SCORPIUS_SOURCE_KIND": "rpc",
        "SCORPIUS_RPC_EXTRA": f"{CHAIN}={node.ws_url}",
        "SCORPIUS_RPC_HEAD_STALL_S": "0",
        **write_settings(tmp_path, ex),
    }
    out = running_flow(environ)
    endpoint = Endpoint(CHAIN, node.ws_url)
    wait_for(
        lambda: (
            REGISTRY.get_sample_value(
                "scorpius_rpc_connected", {"chain": str(CHAIN), "endpoint": endpoint.name}
            )
            == 1.0
        ),
        "the flow's connection to Anvil",
    )

    # The victim asks for at least 97% of the quote; the searcher frontruns with the size that
    # leaves the victim exactly within its tolerance and pays best.
    quote = amm.amount_out(VICTIM_IN, RESERVE_A, RESERVE_B)
    min_out = quote * (100 - SLIPPAGE_PCT) // 100
    frontrun_in, expected_profit = amm.best_frontrun(VICTIM_IN, min_out, RESERVE_A, RESERVE_B)
    assert frontrun_in > 0 and expected_profit > 0
    before = chain.block_number()
    victim = chain.send(
        VICTIM,
        ex.router,
        calldata(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            VICTIM_IN,
            min_out,
            [ex.token_a, ex.token_b],
            address_of(VICTIM),
            2**40,
        ),
        tip=2 * GWEI,
        gas=300_000,
    )
    trade = "trade(address,address,uint256)"
    front = chain.send(
        SEARCHER,
        ex.bot,
        calldata(trade, ex.pair, ex.token_a, frontrun_in),
        tip=3 * GWEI,
        gas=300_000,
    )
    back = chain.send(
        SEARCHER, ex.bot, calldata(trade, ex.pair, ex.token_b, 0), tip=GWEI, gas=300_000
    )

    # Alerts while all three are still pending.
    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [d for d in detections(out) if d["kind"] == kind]

    [sandwichable] = wait_for(lambda: of_kind("sandwichable_victim"), "the sandwichable alert")
    [attempt] = wait_for(lambda: of_kind("sandwich_attempt"), "the sandwich-attempt alert")
    assert chain.block_number() == before, "nothing may be mined before the alerts"
    assert sandwichable["tx_hashes"] == [victim]
    assert sandwichable["data"]["pools"] == [ex.pair]
    # The quote is what the deployed router computes from the pair's reserves.
    (router_quote,) = chain.call(
        ex.router,
        "getAmountOut(uint256,uint256,uint256)",
        ["uint256"],
        VICTIM_IN,
        RESERVE_A,
        RESERVE_B,
    )
    assert sandwichable["data"]["quote"] == router_quote == quote
    assert sandwichable["data"]["slippage_bps"] == (quote - min_out) * 10_000 // quote
    # The rule saw the quoted swap: 3% tolerance against the quote.
    rule_alerts = wait_for(
        lambda: [a for a in alerts(out) if a["origin"] == "rule:loose-slippage"], "the rule match"
    )
    assert [a["tx_hashes"] for a in rule_alerts] == [[victim]]
    assert attempt["tx_hashes"] == [front, victim, back]
    assert attempt["data"]["pool"] == ex.pair
    assert attempt["data"]["fee_bracketed"] is True

    # Mine: by fee, frontrun, victim, backrun.
    mined = chain.mine()
    assert mined == before + 1
    for tx_hash in (front, victim, back):
        chain.receipt(tx_hash)
    [sandwich] = wait_for(lambda: of_kind("sandwich"), "the block's sandwich")
    assert sandwich["block_number"] == mined
    assert sandwich["tx_hashes"] == [front, victim, back]
    assert sandwich["data"]["pool"] == ex.pair
    assert sandwich["data"]["sandwicher"] == ex.bot
    assert sandwich["data"]["exchange"] == "uniswap_v2"  # recognised through the user's factory

    # The profit, from the chain's state: the bot's token balances before and after the block.
    a_before, a_after = (chain.balance(ex.token_a, ex.bot, b) for b in (before, mined))
    b_before, b_after = (chain.balance(ex.token_b, ex.bot, b) for b in (before, mined))
    assert b_after == b_before == 0  # everything bought was sold back
    assert sandwich["data"]["profit_token"] == ex.token_a
    assert sandwich["data"]["profit_amount"] == a_after - a_before
    # ... which is what the mempool alert said the victim's tolerance left to take.
    assert sandwichable["data"]["extractable_profit"] == a_after - a_before == expected_profit
    [victim_swap] = sandwich["data"]["victims"]
    victim_got = chain.balance(ex.token_b, address_of(VICTIM), mined) - chain.balance(
        ex.token_b, address_of(VICTIM), before
    )
    assert victim_swap["amount_out"] == victim_got >= min_out

    # The inclusion link: the block's sandwich tied to both alerts, with their lead time.
    links = wait_for(
        lambda: len(of_kind("sandwich_predicted")) == 2 and of_kind("sandwich_predicted"),
        "the prediction links",
    )
    by_alert = {link["data"]["predicted_by"]: link for link in links}
    assert set(by_alert) == {"sandwich_attempt", "sandwichable_victim"}
    assert by_alert["sandwich_attempt"]["data"]["alert"] == attempt["key"]
    assert by_alert["sandwichable_victim"]["data"]["alert"] == sandwichable["key"]
    for link in links:
        assert link["tx_hashes"] == [front, victim, back]
        assert link["data"]["sandwich"] == sandwich["key"]
        assert link["data"]["alert_lead_ms"] > 0  # alerted before the block was seen
        assert link["data"]["alert_lead_ms"] == (
            sandwich["first_seen_ms"] - link["data"]["alert_detected_ms"]
        )
