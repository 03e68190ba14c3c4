"""The normalizer on real JSON-RPC objects (the bundled sample, execution-apis vectors) and on
every kind of malformed input it must dead-letter."""

from __future__ import annotations

import copy
import functools
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.normalize import (
    MAX_BLOCK_PAYLOAD_BYTES,
    MAX_CALLDATA_BYTES,
    MAX_DEAD_LETTER_PAYLOAD_BYTES,
    MAX_TX_PAYLOAD_BYTES,
    TYPE_UNKNOWN,
    Malformed,
    normalize_item,
    normalize_tx,
    parse_trace,
)
from operators.records import Block, DeadLetter, RawItem, Tx

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "connectors" / "sample" / "mainnet.jsonl.gz"
VECTORS = REPO / "tests" / "data" / "execution-apis"
HIVE_CHAIN = 0xC72DD9D5E883E


@functools.cache
def sample() -> tuple[dict[str, Any], ...]:
    with gzip.open(SAMPLE, "rb") as lines:
        return tuple(json.loads(line) for line in lines)


def raw(record: dict[str, Any]) -> RawItem:
    payload = json.dumps(record["payload"]).encode()
    return RawItem(record["kind"], record["chain_id"], record["source"], record["seen_ms"], payload)


def first_tx(chain: int, type_tag: str, with_chain_id: bool | None = None) -> dict[str, Any]:
    for record in sample():
        tx = record["payload"]
        if record["kind"] != "tx" or record["chain_id"] != chain or tx.get("type") != type_tag:
            continue
        if with_chain_id is None or ("chainId" in tx) == with_chain_id:
            return record
    raise AssertionError(f"no type {type_tag} tx of chain {chain} in the sample")


def only(results: list[Any], kind: type) -> Any:
    assert len(results) == 1, results
    assert isinstance(results[0], kind), results[0]
    return results[0]


def hexint(value: str | None) -> int | None:
    return None if value is None else int(value, 16)


def assert_tx_matches(tx: Tx, obj: dict[str, Any], chain: int, seen_ms: int) -> None:
    """Every field of ``tx`` against the source JSON object."""
    assert tx.chain_id == chain
    assert tx.hash == obj["hash"].lower()
    assert tx.sender == obj["from"].lower()
    assert tx.to == (obj["to"].lower() if obj.get("to") else None)
    assert tx.nonce == hexint(obj.get("nonce"))
    assert tx.value == int(obj["value"], 16)
    assert tx.gas == int(obj["gas"], 16)
    assert tx.tx_type == int(obj.get("type", "0x0"), 16)
    assert tx.input == obj["input"].lower()
    assert tx.selector == (obj["input"][:10] if len(obj["input"]) >= 10 else None)
    assert tx.gas_price == hexint(obj.get("gasPrice"))
    assert tx.max_fee_per_gas == hexint(obj.get("maxFeePerGas"))
    assert tx.max_priority_fee_per_gas == hexint(obj.get("maxPriorityFeePerGas"))
    assert tx.max_fee_per_blob_gas == hexint(obj.get("maxFeePerBlobGas"))
    assert tx.blob_versioned_hashes == tuple(obj.get("blobVersionedHashes", ()))
    assert [(a.chain_id, a.address, a.nonce) for a in tx.authorizations] == [
        (int(a["chainId"], 16), a["address"].lower(), int(a["nonce"], 16))
        for a in obj.get("authorizationList", ())
    ]
    assert tx.block_number == hexint(obj.get("blockNumber"))
    assert tx.block_hash == obj.get("blockHash")
    assert tx.tx_index == hexint(obj.get("transactionIndex"))
    assert tx.mint == hexint(obj.get("mint"))
    assert tx.source_hash == obj.get("sourceHash")
    assert tx.first_seen_ms == seen_ms


# --- every tx type, from real samples ----------------------------------------------------------

REAL_TYPES = [
    (1, "0x0", True),
    (1, "0x0", False),  # pre-EIP-155: no chainId in the object
    (1, "0x1", None),
    (1, "0x2", None),
    (1, "0x3", None),
    (1, "0x4", None),
    (10, "0x7e", None),  # OP-stack deposit
    (10, "0x2", None),
    (421614, "0x6a", None),  # ArbitrumInternalTx
    (421614, "0x2", None),
]


@pytest.mark.parametrize(("chain", "type_tag", "with_chain_id"), REAL_TYPES)
def test_real_tx_of_every_type(chain: int, type_tag: str, with_chain_id: bool | None) -> None:
    record = first_tx(chain, type_tag, with_chain_id)
    tx = only(normalize_item(raw(record)), Tx)
    assert_tx_matches(tx, record["payload"], chain, record["seen_ms"])
    assert tx.source == record["source"]


def test_type_specific_fields_are_kept() -> None:
    blob = only(normalize_item(raw(first_tx(1, "0x3"))), Tx)
    assert blob.blob_versioned_hashes and blob.max_fee_per_blob_gas is not None
    setcode = only(normalize_item(raw(first_tx(1, "0x4"))), Tx)
    assert setcode.authorizations and all(a.authority is None for a in setcode.authorizations)
    deposit = only(normalize_item(raw(first_tx(10, "0x7e"))), Tx)
    assert deposit.source_hash is not None and deposit.mint is not None
    assert deposit.sender == "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"
    internal = only(normalize_item(raw(first_tx(421614, "0x6a"))), Tx)
    assert internal.tx_type == 0x6A and internal.chain_id == 421614


def read_vector(name: str) -> dict[str, Any]:
    for line in (VECTORS / name).read_text().splitlines():
        if line.startswith("<<"):
            return json.loads(line[2:])["result"]
    raise AssertionError(f"no response in {name}")


@pytest.mark.parametrize("name", sorted(p.name for p in VECTORS.glob("*.io")))
def test_hive_chain_vectors(name: str) -> None:
    obj = read_vector(name)
    item = RawItem("tx", HIVE_CHAIN, "test:execution-apis", 7, json.dumps(obj).encode())
    assert_tx_matches(only(normalize_item(item), Tx), obj, HIVE_CHAIN, 7)


def test_legacy_without_chain_id_takes_the_source_chain() -> None:
    obj = read_vector("get-legacy-tx.io")
    assert "chainId" not in obj
    assert normalize_tx(obj, 5, "s", 0).chain_id == 5


def test_contract_creation_has_no_to() -> None:
    obj = read_vector("get-legacy-create.io")
    tx = normalize_tx(obj, HIVE_CHAIN, "s", 0)
    assert obj["to"] is None and tx.to is None and tx.selector == obj["input"][:10]


def test_normalize_tx_raises_malformed() -> None:
    obj = dict(read_vector("get-dynamic-fee.io"), value="0xzz")
    with pytest.raises(Malformed, match="bad hex in field 'value'"):
        normalize_tx(obj, HIVE_CHAIN, "s", 0)
    with pytest.raises(Malformed, match="wrong JSON type"):
        normalize_tx(dict(obj, value=5), HIVE_CHAIN, "s", 0)


# --- lenient where a type has no such field ----------------------------------------------------


def test_system_types_may_omit_nonce_and_gas_price() -> None:
    record = first_tx(421614, "0x6a")
    obj = {k: v for k, v in record["payload"].items() if k not in ("nonce", "gasPrice")}
    tx = normalize_tx(obj, 421614, "s", 0)
    assert tx.nonce is None and tx.gas_price is None


def test_deposit_may_omit_mint() -> None:
    obj = {k: v for k, v in first_tx(10, "0x7e")["payload"].items() if k != "mint"}
    assert normalize_tx(obj, 10, "s", 0).mint is None


def test_zero_chain_id_on_legacy_means_no_chain_id() -> None:
    obj = dict(first_tx(1, "0x0", False)["payload"], chainId="0x0")
    assert normalize_tx(obj, 1, "s", 0).chain_id == 1


# --- malformed input: each kind dead-lettered with its reason ---------------------------------


def _dynamic_fee() -> dict[str, Any]:
    return copy.deepcopy(first_tx(1, "0x2")["payload"])


def _with(**fields: Any) -> bytes:
    obj = _dynamic_fee()
    for key, value in fields.items():
        if value is _DROP:
            obj.pop(key)
        else:
            obj[key] = value
    return json.dumps(obj).encode()


_DROP = object()

MALFORMED: list[tuple[str, str, bytes]] = [
    ("tx", "not JSON", b'{"hash": '),
    ("tx", "not a JSON object", b"[1, 2, 3]"),
    ("tx", "missing field 'hash'", _with(hash=_DROP)),
    ("tx", "hash not 32 bytes in field 'hash'", _with(hash="0x1234")),
    ("tx", "bad hex in field 'hash'", _with(hash="0x" + "zz" * 32)),
    ("tx", "bad hex in field 'value'", _with(value="0xzz")),
    ("tx", "bad hex in field 'gas'", _with(gas="12")),  # no 0x prefix
    ("tx", "bad hex in field 'nonce'", _with(nonce="0x1_0")),  # int() would accept this
    ("tx", "negative quantity in field 'value'", _with(value="-0x1")),
    ("tx", "quantity out of range in field 'value'", _with(value=hex(2**256))),
    ("tx", "address not 20 bytes in field 'to'", _with(to="0x" + "ab" * 19)),
    ("tx", "address not 20 bytes in field 'from'", _with(**{"from": "0x" + "ab" * 21})),
    ("tx", "bad hex in field 'to'", _with(to="0x" + "g" * 40)),
    ("tx", "odd-length hex in field 'input'", _with(input="0xabc")),
    ("tx", "bad hex in field 'input'", _with(input="0xzzzz")),
    ("tx", "unknown tx type", _with(type="0x5")),
    ("tx", "chain id mismatch", _with(chainId="0xa")),
    ("tx", "fee fields inconsistent with type 2", _with(maxFeePerGas=_DROP)),
    ("tx", "fee fields inconsistent", _with(maxPriorityFeePerGas="0xffffffffffffffffffff")),
    ("tx", "fee fields inconsistent with type 0", _with(type="0x0")),  # 1559 fields on legacy
    ("tx", "fields inconsistent with type 2", _with(blobVersionedHashes=["0x" + "01" * 32])),
    ("tx", "fee fields inconsistent with type 3", _with(type="0x3")),  # no blob fields
    ("tx", "fields inconsistent with type 4", _with(type="0x4")),  # no authorizationList
    ("tx", "missing field 'nonce'", _with(nonce=_DROP)),
    ("tx", "missing field 'input'", _with(input=_DROP)),
    ("tx", "wrong JSON type", _with(value=1)),
    ("tx", "payload too large", _with(padding="x" * MAX_TX_PAYLOAD_BYTES)),
    ("tx", "data too large in field 'input'", _with(input="0x" + "00" * (MAX_CALLDATA_BYTES + 1))),
    ("call", "missing field 'from'", _with(**{"from": _DROP})),
    ("block", "block without number", json.dumps({"block": {"timestamp": "0x1"}}).encode()),
    ("block", "missing field 'block'", json.dumps({"receipts": []}).encode()),
    ("block", "missing field 'timestamp'", json.dumps({"block": {"number": "0x1"}}).encode()),
    ("block", "not a JSON object", b'"block"'),
    ("block", "payload too large", b" " * (MAX_BLOCK_PAYLOAD_BYTES + 1)),
    ("mempool", "unknown item kind", b"{}"),
]


@pytest.mark.parametrize(
    ("kind", "reason", "payload"), MALFORMED, ids=[f"{k}:{r}" for k, r, _ in MALFORMED]
)
def test_malformed_is_dead_lettered(kind: str, reason: str, payload: bytes) -> None:
    item = RawItem(kind, 1, "test:src", 1234, payload)
    dead = only(normalize_item(item), DeadLetter)
    label = dead.reason.split(":")[0]
    assert label == reason, dead.reason
    assert dead.stage == "normalize"
    if len(payload) <= MAX_DEAD_LETTER_PAYLOAD_BYTES:
        assert dead.payload == payload.decode()
    else:  # a huge payload is kept only in part, and the reason says so
        assert dead.payload == payload[:MAX_DEAD_LETTER_PAYLOAD_BYTES].decode()
        assert f"(payload cut to {MAX_DEAD_LETTER_PAYLOAD_BYTES} of {len(payload)} bytes)" in (
            dead.reason
        )
    assert (dead.source, dead.chain_id, dead.at_ms) == ("test:src", 1, 1234)


def test_dead_letter_payload_survives_invalid_utf8() -> None:
    dead = only(normalize_item(RawItem("tx", 1, "s", 0, b"\xff\xfe{")), DeadLetter)
    assert dead.reason.startswith("not JSON") and "\ufffd" in dead.payload


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["tx", "call", "block", "x"]), payload=st.binary(max_size=300))
def test_normalize_item_never_raises_on_bytes(kind: str, payload: bytes) -> None:
    for record in normalize_item(RawItem(kind, 1, "s", 0, payload)):
        assert isinstance(record, Tx | Block | DeadLetter)
        assert not getattr(record, "reason", "").startswith("normalizer error")


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["hash", "from", "to", "value", "gas", "nonce", "input", "type"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=70), st.lists(st.integers())),
    )
)
def test_normalize_item_never_raises_on_odd_objects(fields: dict[str, Any]) -> None:
    obj = dict(_dynamic_fee(), **fields)
    for kind in ("tx", "call"):
        for record in normalize_item(RawItem(kind, 1, "s", 0, json.dumps(obj).encode())):
            assert isinstance(record, Tx | DeadLetter)
            # a reason of its own for each case, never the catch-all for a bug in the normalizer
            assert not getattr(record, "reason", "").startswith("normalizer error")


ODD_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=70), st.lists(st.text(max_size=3), max_size=3)
)


@settings(max_examples=200, deadline=None)
@given(
    block=st.dictionaries(
        st.sampled_from(["number", "hash", "timestamp", "miner", "transactions", "parentHash"]),
        ODD_VALUES,
    ),
    trace=st.dictionaries(
        st.sampled_from(["action", "type", "traceAddress", "subtraces", "result"]), ODD_VALUES
    ),
)
def test_normalize_item_never_raises_on_odd_blocks(
    block: dict[str, Any], trace: dict[str, Any]
) -> None:
    whole = block_record(1, 12_775_690)["payload"]
    source = copy.deepcopy({"block": whole["block"], "traces": whole["traces"][:20]})
    source["block"].update(block)
    source["traces"][0].update(trace)
    for record in normalize_item(RawItem("block", 1, "s", 0, json.dumps(source).encode())):
        assert isinstance(record, Block | DeadLetter)
        assert not getattr(record, "reason", "").startswith("normalizer error")


# --- calls recovered from traces ---------------------------------------------------------------


def test_call_item_from_a_trace() -> None:
    record = next(r for r in sample() if r["kind"] == "call")
    tx = only(normalize_item(raw(record)), Tx)
    call = record["payload"]
    assert tx.nonce is None and tx.tx_type == TYPE_UNKNOWN
    assert (tx.hash, tx.sender, tx.to) == (call["hash"], call["from"].lower(), call["to"])
    assert (tx.value, tx.gas) == (int(call["value"], 16), int(call["gas"], 16))
    assert tx.input == call["input"] and tx.gas_price == hexint(call.get("gasPrice"))
    assert call["blockNumber"] is None  # replayed as pending
    assert tx.block_number is None and tx.tx_index is None
    mined = dict(call, blockNumber="0x10", transactionIndex="0x3")
    tx = only(normalize_item(raw({**record, "payload": mined})), Tx)
    assert (tx.block_number, tx.tx_index) == (16, 3)


# --- blocks ------------------------------------------------------------------------------------


def block_record(chain: int, number: int) -> dict[str, Any]:
    for record in sample():
        is_block = record["kind"] == "block" and record["chain_id"] == chain
        if is_block and int(record["payload"]["block"]["number"], 16) == number:
            return record
    raise AssertionError(f"block {number} of chain {chain} not in the sample")


def test_rpc_block_with_receipts() -> None:
    record = block_record(1, 18_000_000)
    source = record["payload"]
    results = normalize_item(raw(record))
    block = only(results, Block)
    body = source["block"]
    assert block.number == 18_000_000 and block.hash == body["hash"]
    assert block.timestamp == int(body["timestamp"], 16)
    assert block.base_fee_per_gas == int(body["baseFeePerGas"], 16)
    assert block.miner == body["miner"].lower() and block.parent_hash == body["parentHash"]
    assert block.first_seen_ms == record["seen_ms"]
    assert len(block.txs) == len(body["transactions"]) > 0
    assert block.tx_hashes == tuple(t["hash"] for t in body["transactions"])
    for tx, obj in zip(block.txs, body["transactions"], strict=True):
        assert_tx_matches(tx, obj, 1, record["seen_ms"])
    assert len(block.receipts) == len(source["receipts"])
    for receipt, obj in zip(block.receipts, source["receipts"], strict=True):
        assert receipt.tx_hash == obj["transactionHash"]
        assert receipt.gas_used == int(obj["gasUsed"], 16)
        assert receipt.status == int(obj["status"], 16)
        assert receipt.effective_gas_price == int(obj["effectiveGasPrice"], 16)
        assert len(receipt.logs) == len(obj["logs"])
    first_log = next(r for r in source["receipts"] if r["logs"])["logs"][0]
    parsed = next(r for r in block.receipts if r.logs).logs[0]
    assert parsed["address"] == first_log["address"].lower()
    assert list(parsed["topics"]) == first_log["topics"]
    assert parsed["log_index"] == int(first_log["logIndex"], 16)


def test_mev_fixture_bundle_with_traces() -> None:
    record = block_record(1, 12_775_690)  # the sandwich block
    source = record["payload"]
    block = only(normalize_item(raw(record)), Block)
    assert block.txs == () and block.tx_hashes == tuple(source["block"]["transactions"])
    assert block.base_fee_per_gas is None  # before London
    assert block.miner == source["block"]["miner"].lower()
    assert len(block.receipts) == len(source["receipts"])
    assert len(block.traces) == len(source["traces"])
    for kind in ("call", "suicide", "reward", "create"):
        assert sum(t.type == kind for t in block.traces) == sum(
            t["type"] == kind for t in source["traces"]
        )
    top = [t for t in block.traces if t.trace_address == ()]
    assert len(top) == len(source["block"]["transactions"]) + 1  # + the reward
    suicide_src = next(t for t in source["traces"] if t["type"] == "suicide")
    suicide = block.traces[source["traces"].index(suicide_src)]
    assert suicide.sender == suicide_src["action"]["address"]
    assert suicide.to == suicide_src["action"]["refundAddress"]
    assert suicide.trace_address == tuple(suicide_src["traceAddress"])
    reward = next(t for t in block.traces if t.type == "reward")
    assert reward.to == block.miner and reward.call_type == "block"


def test_bad_parts_of_a_good_block_become_extra_dead_letters() -> None:
    record = copy.deepcopy(block_record(1, 18_000_000))
    body = record["payload"]["block"]
    body["transactions"][3]["value"] = "0xzz"
    record["payload"]["receipts"][5]["gasUsed"] = None
    results = normalize_item(raw(record))
    block, *rest = results
    assert isinstance(block, Block)
    dead = [d for d in rest if isinstance(d, DeadLetter)]
    assert len(dead) == len(rest)
    assert len(block.txs) == len(body["transactions"]) - 1
    assert body["transactions"][3]["hash"] not in {t.hash for t in block.txs}
    assert len(block.receipts) == len(record["payload"]["receipts"]) - 1
    assert [d.reason.split(":")[0] for d in dead] == ["bad tx in block", "bad receipt in block"]
    assert json.loads(dead[0].payload) == body["transactions"][3]


def test_tx_claiming_another_block_or_chain_is_dead_lettered() -> None:
    record = copy.deepcopy(block_record(1, 18_000_000))
    body = record["payload"]["block"]
    body["transactions"][0]["blockNumber"] = hex(17_999_999)
    body["transactions"][1]["blockHash"] = "0x" + "11" * 32
    body["transactions"][2]["chainId"] = "0xa"
    block, *dead = normalize_item(raw(record))
    assert isinstance(block, Block) and len(block.txs) == len(body["transactions"]) - 3
    assert [getattr(d, "reason", "").split(": ")[1] for d in dead] == [
        "block mismatch",
        "block mismatch",
        "chain id mismatch",
    ]


def test_block_with_hashes_only() -> None:
    record = copy.deepcopy(block_record(1, 18_000_000))
    body = record["payload"]["block"]
    body["transactions"] = [t["hash"] for t in body["transactions"]]
    block = only(normalize_item(raw(record)), Block)
    assert block.txs == () and block.tx_hashes == tuple(body["transactions"])


def test_static_call_without_value_is_lenient() -> None:
    source = block_record(1, 12_775_690)["payload"]
    static = next(t for t in source["traces"] if t["action"].get("callType") == "staticcall")
    action = {k: v for k, v in static["action"].items() if k != "value"}
    assert parse_trace(dict(static, action=action)).value == 0
    call = next(t for t in source["traces"] if t["action"].get("callType") == "call")
    action = {k: v for k, v in call["action"].items() if k != "value"}
    with pytest.raises(Malformed, match=r"missing field 'action\.value'"):
        parse_trace(dict(call, action=action))


def test_parse_trace_and_a_block_receipt() -> None:
    source = block_record(1, 12_775_690)["payload"]
    trace = parse_trace(source["traces"][0])
    action = source["traces"][0]["action"]
    assert trace.sender == action["from"] and trace.input == action["input"]
    assert trace.gas == int(action["gas"], 16) and trace.call_type == action["callType"]
    receipt = only(normalize_item(raw(block_record(1, 12_775_690))), Block).receipts[0]
    assert receipt.tx_hash == source["receipts"][0]["transactionHash"]
    assert receipt.effective_gas_price is None  # before London the fixtures did not know it
    with pytest.raises(Malformed, match="unknown trace type"):
        parse_trace(dict(source["traces"][0], type="vmtrace"))
