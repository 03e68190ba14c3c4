"""Issue 15's defects through the whole graph on recorded input: mined sightings reach the
mempool windows, an alert key reaches alerts.jsonl once, and swaps on pools of an unknown
factory are warned about once per chain."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from bytewax.testing import run_main
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from prometheus_client import REGISTRY

from flows.config import Config, DetectConfig, OutputConfig, RulesConfig, SourceConfig
from flows.mempool import build_flow
from operators.mev.pools import v2_pair
from tests.flows.test_mempool_flow import read_jsonl
from tests.operators.mev.pending import BOT, BOT_CONTRACT, GWEI, UNI_ROUTER, USDC, WETH

T0 = 1_700_000_000_000


def _calldata(signature: str, types: list[str], *args: Any) -> str:
    return (
        "0x" + (function_signature_to_4byte_selector(signature) + encode(types, list(args))).hex()
    )


def _buy(sender: str, nonce: int, recipient: str | None = None) -> str:
    return _calldata(
        "swapExactETHForTokens(uint256,address[],address,uint256)",
        ["uint256", "address[]", "address", "uint256"],
        1_900 * 10**6,
        [WETH, USDC],
        recipient or sender,
        2**40,
    )


def tx(
    hash_byte: str,
    sender: str,
    to: str,
    data: str,
    nonce: int,
    tip: int,
    chain: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "hash": "0x" + hash_byte * 32,
        "from": sender,
        "to": to,
        "nonce": hex(nonce),
        "value": hex(10**18),
        "gas": hex(300_000),
        "type": "0x2",
        "chainId": hex(chain),
        "input": data,
        "maxFeePerGas": hex(30 * GWEI + tip),
        "maxPriorityFeePerGas": hex(tip),
        "v": "0x0",
        "r": "0x1",
        "s": "0x1",
        "accessList": [],
    }
    obj.update(extra)
    return obj


def block(number: int, txs: list[dict[str, Any]]) -> dict[str, Any]:
    block_hash = "0x" + f"{number:064x}"
    mined = [
        {**t, "blockNumber": hex(number), "blockHash": block_hash, "transactionIndex": hex(i)}
        for i, t in enumerate(txs)
    ]
    return {
        "block": {
            "number": hex(number),
            "hash": block_hash,
            "parentHash": "0x" + f"{number - 1:064x}",
            "timestamp": hex(T0 // 1000),
            "miner": "0x" + "00" * 20,
            "baseFeePerGas": hex(GWEI),
            "transactions": mined,
        },
        "receipts": [],
        "traces": [],
    }


def write_replay(
    path: Path, records: list[tuple[str, int, dict[str, Any]]], chain: int = 1
) -> None:
    with path.open("wb") as fh:
        for kind, seen_ms, payload in records:
            line = {
                "kind": kind,
                "chain_id": chain,
                "source": "test",
                "seen_ms": seen_ms,
                "payload": payload,
            }
            fh.write(orjson.dumps(line) + b"\n")


def run(
    tmp_path: Path,
    records: list[tuple[str, int, dict[str, Any]]],
    chain: int = 1,
    rules: str | None = None,
) -> Path:
    replay = tmp_path / "in.jsonl"
    write_replay(replay, records, chain)
    out = tmp_path / "out"
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    if rules:
        (rules_dir / "rules.yaml").write_text(rules)
    cfg = Config(
        source=SourceConfig(kind="replay", replay_path=str(replay), replay_partitions=1),
        output=OutputConfig(dir=str(out), console=False),
        rules=RulesConfig(dir=str(rules_dir)),
        detect=DetectConfig(watermark_wait_s=0.0),
    )
    run_main(build_flow(cfg))
    return out


def test_swaps_after_a_mined_sandwich_are_not_paired_with_it(tmp_path: Path) -> None:
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert pool is not None
    bot_data = "0x00006f3d" + pool[2:] + "00" * 12
    victim = tx("a1", "0x" + "a1" * 20, UNI_ROUTER, _buy("0x" + "a1" * 20, 0), 0, 2 * GWEI)
    front = tx("f1", BOT, BOT_CONTRACT, bot_data, 7, 3 * GWEI)
    back = tx("b1", BOT, BOT_CONTRACT, bot_data, 8, GWEI)
    later = [
        tx(f"c{i}", f"0x{i:040x}", UNI_ROUTER, _buy(f"0x{i:040x}", 0), 0, 2 * GWEI) for i in (1, 2)
    ]
    out = run(
        tmp_path,
        [
            ("tx", T0, victim),
            ("tx", T0 + 50, front),
            ("tx", T0 + 60, back),
            ("block", T0 + 12_000, block(100, [front, victim, back])),
            # 30 ms after block N: two unrelated swaps on the same pool.
            ("tx", T0 + 12_030, later[0]),
            ("tx", T0 + 12_031, later[1]),
        ],
    )
    attempts = [d for d in read_jsonl(out / "detections.jsonl") if d["kind"] == "sandwich_attempt"]
    assert [a["tx_hashes"] for a in attempts] == [[front["hash"], victim["hash"], back["hash"]]]
    # ... because the mined sightings settled the window, not because the later swaps were late.
    assert read_jsonl(out / "dead_letters.jsonl") == []


def test_a_rule_matching_the_pending_and_the_mined_sighting_alerts_once(tmp_path: Path) -> None:
    sender = "0x" + "a1" * 20
    swap = tx("a1", sender, UNI_ROUTER, _buy(sender, 0), 0, 2 * GWEI)
    out = run(
        tmp_path,
        [("tx", T0, swap), ("block", T0 + 300, block(100, [swap]))],
        rules="rules:\n  - id: big-value\n    severity: high\n    when:\n      - value >= 1\n",
    )
    keys = [a["key"] for a in read_jsonl(out / "alerts.jsonl") if a["origin"] == "rule:big-value"]
    assert keys and len(keys) == len(set(keys)) == 1
    assert REGISTRY.get_sample_value("scorpius_alert_repeats_total", {"origin": "rule:big-value"})


def test_swaps_on_pools_of_an_unknown_factory_are_warned_about_once_per_chain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chain = 31337  # a devnet: no bundled factory
    before = REGISTRY.get_sample_value("scorpius_mempool_unknown_pools_total", {"chain": "31337"})
    swaps = [
        tx(f"c{i}", f"0x{i:040x}", UNI_ROUTER, _buy(f"0x{i:040x}", 0), 0, 2 * GWEI, chain=chain)
        for i in range(1, 4)
    ]
    with caplog.at_level(logging.WARNING, logger="flows.steps.windows"):
        run(tmp_path, [("tx", T0 + i, s) for i, s in enumerate(swaps)], chain=chain)
    lines = [
        r.getMessage() for r in caplog.records if "SCORPIUS_DETECT_AMM_FACTORIES" in r.getMessage()
    ]
    assert len(lines) == 1
    assert lines[0].startswith("chain 31337: pending swaps through router " + UNI_ROUTER)
    assert '"31337"' in lines[0] and "init_code_hash" in lines[0]
    after = REGISTRY.get_sample_value("scorpius_mempool_unknown_pools_total", {"chain": "31337"})
    assert (after or 0) - (before or 0) == 3
