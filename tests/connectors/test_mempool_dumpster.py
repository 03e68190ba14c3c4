"""Reading mempool-dumpster files (small files built here in its published schema)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from eth_account import Account

from connectors.mempool_dumpster import CSV_COLUMNS, MempoolDumpsterSource, decode_raw_tx
from operators.records import DeadLetter, RawItem
from tests.dataflows import collect

SAMPLE = json.loads(
    (
        Path(__file__).parents[1] / "data" / "mempool-dumpster" / "example-tx-summary.json"
    ).read_text()
)
# A throwaway key, only for signing test transactions.
KEY = "0x" + "46" * 32
SIGNER = Account.from_key(KEY)

PARQUET_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("hash", pa.string()),
        ("chainId", pa.string()),
        ("txType", pa.int64()),
        ("from", pa.string()),
        ("to", pa.string()),
        ("value", pa.string()),
        ("nonce", pa.string()),
        ("gas", pa.string()),
        ("gasPrice", pa.string()),
        ("gasTipCap", pa.string()),
        ("gasFeeCap", pa.string()),
        ("dataSize", pa.int64()),
        ("data4Bytes", pa.string()),
        ("sources", pa.list_(pa.string())),
        ("includedAtBlockHeight", pa.int64()),
        ("includedBlockTimestamp", pa.int64()),
        ("inclusionDelayMs", pa.int64()),
        ("rawTx", pa.string()),
    ]
)


def dumpster_row(signed: Any, tx: dict[str, Any], seen_ms: int) -> dict[str, Any]:
    data = bytes.fromhex(tx.get("data", "0x")[2:])
    return {
        "timestamp": seen_ms,
        "hash": "0x" + signed.hash.hex().removeprefix("0x"),
        "chainId": str(tx.get("chainId", 1)),
        "txType": int(tx.get("type", 0)),
        "from": SIGNER.address,
        "to": tx.get("to"),
        "value": str(tx["value"]),
        "nonce": str(tx["nonce"]),
        "gas": str(tx["gas"]),
        "gasPrice": str(tx.get("gasPrice", tx.get("maxFeePerGas"))),
        "gasTipCap": str(tx.get("maxPriorityFeePerGas", tx.get("gasPrice"))),
        "gasFeeCap": str(tx.get("maxFeePerGas", tx.get("gasPrice"))),
        "dataSize": len(data),
        "data4Bytes": "0x" + data[:4].hex() if data else "",
        "sources": ["local"],
        "includedAtBlockHeight": 18_000_000,
        "includedBlockTimestamp": seen_ms + 12_000,
        "inclusionDelayMs": 12_000,
        "rawTx": "0x" + signed.raw_transaction.hex().removeprefix("0x"),
    }


LEGACY = {
    "nonce": 7,
    "gasPrice": 25 * 10**9,
    "gas": 60_000,
    "to": "0x" + "77" * 20,
    "value": 2**255,
    "data": "0xa9059cbb" + "00" * 64,
    "chainId": 1,
}
SET_CODE = {
    "type": 4,
    "chainId": 1,
    "nonce": 8,
    "maxFeePerGas": 40 * 10**9,
    "maxPriorityFeePerGas": 2 * 10**9,
    "gas": 100_000,
    "to": "0x" + "88" * 20,
    "value": 0,
    "data": "0x",
    "accessList": [],
}


def signed_rows() -> list[dict[str, Any]]:
    legacy = Account.sign_transaction(LEGACY, KEY)
    auth = Account.sign_authorization({"chainId": 1, "address": "0x" + "99" * 20, "nonce": 9}, KEY)
    set_code = Account.sign_transaction({**SET_CODE, "authorizationList": [auth]}, KEY)
    return [
        {**SAMPLE, "chainId": "1", "txType": 2, "timestamp": SAMPLE["timestamp"]}
        | {"sources": ["bloxroute"], "includedAtBlockHeight": None},
        dumpster_row(legacy, LEGACY, SAMPLE["timestamp"] + 1),
        dumpster_row(set_code, SET_CODE, SAMPLE["timestamp"] + 2),
    ]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    arrays = {
        name: pa.array(
            [_cell(name, row.get(name)) for row in rows], PARQUET_SCHEMA.field(name).type
        )
        for name in PARQUET_SCHEMA.names
    }
    pq.write_table(pa.table(arrays), path)
    return path


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return None
    field_type = PARQUET_SCHEMA.field(name).type
    if pa.types.is_string(field_type):
        return str(value)
    return value


def run_source(source: MempoolDumpsterSource) -> list[Any]:
    return collect(source, "dumpster_test")


def test_the_recorded_sample_decodes_to_its_hash_sender_and_calldata(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "2023-08-04.parquet", signed_rows()[:1])
    (item,) = run_source(MempoolDumpsterSource([path]))
    assert isinstance(item, RawItem)
    assert (item.kind, item.chain_id, item.seen_ms) == ("tx", 1, 1691186686723)
    tx = orjson.loads(item.payload)
    assert tx["hash"] == SAMPLE["hash"]
    # The collector wrote the zero address: the sender comes from the signature.
    assert tx["from"] == "0xa059ba83c047c8ee6f94726ca5f644b7122cac61"
    assert tx["to"] == SAMPLE["to"].lower()
    assert int(tx["value"], 16) == int(SAMPLE["value"])
    assert int(tx["maxFeePerGas"], 16) == int(SAMPLE["gasFeeCap"])
    assert tx["input"].startswith(SAMPLE["data4Bytes"]) and len(tx["input"]) == 2 + 2 * 260
    assert tx["type"] == "0x2" and tx["blockNumber"] is None


def test_legacy_and_set_code_transactions_keep_every_field(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "2024-01-01.parquet", signed_rows()[1:])
    legacy, set_code = (orjson.loads(i.payload) for i in run_source(MempoolDumpsterSource([path])))
    assert legacy["from"] == SIGNER.address.lower()
    assert int(legacy["value"], 16) == 2**255
    assert legacy["input"] == LEGACY["data"] and legacy["chainId"] == "0x1"
    assert set_code["type"] == "0x4"
    (auth,) = set_code["authorizationList"]
    assert auth["address"] == "0x" + "99" * 20 and int(auth["nonce"], 16) == 9
    assert auth["authority"] == SIGNER.address.lower()


def test_bad_rows_become_dead_letters_not_crashes(tmp_path: Path) -> None:
    good, legacy, _ = signed_rows()
    corrupt = {**legacy, "rawTx": legacy["rawTx"][:-10]}
    wrong_hash = {**legacy, "hash": "0x" + "ab" * 32}
    path = write_parquet(tmp_path / "2024-01-02.parquet", [corrupt, wrong_hash, good])
    items = run_source(MempoolDumpsterSource([path]))
    assert [type(i).__name__ for i in items] == ["DeadLetter", "DeadLetter", "RawItem"]
    bad_raw, mismatch = items[0], items[1]
    assert isinstance(bad_raw, DeadLetter) and bad_raw.reason.startswith("bad rawTx:")
    assert isinstance(mismatch, DeadLetter) and mismatch.reason.startswith("rawTx hash mismatch:")
    assert mismatch.stage == "replay" and "ab" * 32 in mismatch.payload


def csv_text(rows: list[dict[str, Any]]) -> str:
    names = list(CSV_COLUMNS)
    back = {v: k for k, v in CSV_COLUMNS.items()}
    lines = [",".join(names)]
    for row in rows:
        cells = {back[k]: v for k, v in row.items() if k in back}
        cells["sources"] = "local"
        lines.append(",".join("" if cells.get(n) is None else str(cells[n]) for n in names))
    return "\n".join(lines) + "\n"


def test_csv_gives_the_columns_and_the_selector_only(tmp_path: Path) -> None:
    rows = signed_rows()[1:2]
    path = tmp_path / "2024-01-01.csv.gz"
    path.write_bytes(gzip.compress(csv_text(rows).encode()))
    (item,) = run_source(MempoolDumpsterSource([path]))
    tx = orjson.loads(item.payload)
    assert tx["hash"] == rows[0]["hash"]
    assert tx["input"] == "0xa9059cbb" and tx["inputTruncated"] is True
    assert int(tx["value"], 16) == 2**255 and int(tx["gasPrice"], 16) == LEGACY["gasPrice"]


def test_files_replay_in_name_order_and_resume_where_they_stopped(tmp_path: Path) -> None:
    first, legacy, set_code = signed_rows()
    day2 = write_parquet(tmp_path / "2024-01-02.parquet", [set_code])
    day1 = write_parquet(tmp_path / "2024-01-01.parquet", [first, legacy])
    source = MempoolDumpsterSource([day2, day1], batch_rows=1)
    part = source.build_part("in", "dumpster", None)
    got = [orjson.loads(i.payload)["hash"] for i in part.next_batch()]
    resumed = source.build_part("in", "dumpster", part.snapshot())
    while True:
        try:
            got += [orjson.loads(i.payload)["hash"] for i in resumed.next_batch()]
        except StopIteration:
            break
    assert got == [first["hash"], legacy["hash"], set_code["hash"]]


def test_decode_raw_tx_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="bad rawTx"):
        decode_raw_tx("0x05deadbeef")
