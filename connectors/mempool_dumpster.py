"""Replay flashbots' mempool-dumpster archive (daily Parquet or CSV) as the flow's raw input.

mempool-dumpster (github.com/flashbots/mempool-dumpster, data CC-0) publishes every pending
transaction its collectors saw, one file per day. This source turns each row into what a live
websocket source emits: a ``RawItem(kind="tx")`` whose payload is a JSON-RPC transaction object
(hex quantities), with ``seen_ms`` the recorded first-seen time. The flow's ``normalize`` then
handles it like live input.

Parquet rows carry ``rawTx``, the signed transaction: it is decoded (legacy RLP or EIP-2718 typed
envelope, through ``operators.signed_tx``, the decoder the L2 feeds use too) for the calldata,
access list, blob and EIP-7702 fields, and its re-derived hash checked against the row's ``hash``. Early files wrap the typed envelope in an RLP byte string;
that is unwrapped. The sender is recovered from the signature when the row's ``from`` is empty or
the zero address (early collectors did not record it).

The CSV has no ``rawTx``: its payload carries the 4-byte selector as ``input`` (the only calldata
the CSV has) and ``"inputTruncated": true``.

A row that cannot be read becomes a ``DeadLetter`` (stage "replay") in the same stream, so the
source yields ``RawItem | DeadLetter``; branch on the type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from operators.metrics import SOURCE_MESSAGES
from operators.records import DeadLetter, RawItem
from operators.signed_tx import BadTx, decode_signed_tx, unwrap_envelope

SOURCE = "mempool-dumpster"
ZERO_ADDRESS = "0x" + "00" * 20

# CSV column → Parquet column (the Parquet names are the ones the code reads).
CSV_COLUMNS = {
    "timestamp_ms": "timestamp",
    "hash": "hash",
    "chain_id": "chainId",
    "from": "from",
    "to": "to",
    "value": "value",
    "nonce": "nonce",
    "gas": "gas",
    "gas_price": "gasPrice",
    "gas_tip_cap": "gasTipCap",
    "gas_fee_cap": "gasFeeCap",
    "data_size": "dataSize",
    "data_4bytes": "data4Bytes",
    "sources": "sources",
    "included_at_block_height": "includedAtBlockHeight",
    "included_block_timestamp_ms": "includedBlockTimestamp",
    "inclusion_delay_ms": "inclusionDelayMs",
    "tx_type": "txType",
}


class DumpsterRowError(ValueError):
    """A row that cannot become a transaction; the text before ':' is the reason class."""


def _hex(value: int | str | None) -> str | None:
    if value is None or value == "":
        return None
    return hex(int(value))


def _bytes_hex(value: bytes | bytearray) -> str:
    return "0x" + bytes(value).hex()


def _address(value: Any) -> str | None:
    if value in (None, b"", ""):
        return None
    if isinstance(value, bytes | bytearray):
        return _bytes_hex(value)
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def decode_raw_tx(raw_hex: str) -> tuple[bytes, dict[str, Any]]:
    """(signed envelope, JSON-RPC fields with the re-derived ``hash`` and recovered ``from``) of
    a raw transaction, through the one signed-tx decoder (``operators.signed_tx``)."""
    try:
        envelope = unwrap_envelope(bytes.fromhex(raw_hex.removeprefix("0x")))
        return envelope, decode_signed_tx(envelope)
    except (BadTx, ValueError) as exc:
        raise DumpsterRowError(f"bad rawTx: {exc}") from exc


def _seen_ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def row_to_rpc(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC transaction object of one dumpster row (Parquet column names)."""
    tx_hash = str(row.get("hash") or "").lower()
    if not tx_hash:
        raise DumpsterRowError("missing field: 'hash'")
    raw = row.get("rawTx")
    if raw:
        _, decoded = decode_raw_tx(raw)
        actual = decoded.pop("hash")
        if actual != tx_hash:
            raise DumpsterRowError(f"rawTx hash mismatch: row {tx_hash}, rawTx {actual}")
        recovered = decoded.pop("from")
        sender = _address(row.get("from"))
        if sender in (None, ZERO_ADDRESS):
            sender = recovered
        return {"hash": tx_hash, "from": sender, **decoded, "blockNumber": None, "blockHash": None}
    tx_type = int(row.get("txType") or 0)
    selector = row.get("data4Bytes") or ""
    out: dict[str, Any] = {
        "hash": tx_hash,
        "type": hex(tx_type),
        "chainId": _hex(row.get("chainId")),
        "from": _address(row.get("from")),
        "to": _address(row.get("to")),
        "nonce": _hex(row.get("nonce")),
        "gas": _hex(row.get("gas")),
        "value": _hex(row.get("value")),
        "input": selector or "0x",
        "inputTruncated": int(row.get("dataSize") or 0) > len(selector[2:]) // 2,
        "blockNumber": None,
        "blockHash": None,
    }
    if tx_type >= 2:
        out["maxFeePerGas"] = _hex(row.get("gasFeeCap"))
        out["maxPriorityFeePerGas"] = _hex(row.get("gasTipCap"))
    else:
        out["gasPrice"] = _hex(row.get("gasPrice"))
    return out


def row_to_item(row: dict[str, Any], default_chain: int) -> RawItem | DeadLetter:
    seen_ms = 0
    try:
        seen_ms = _seen_ms(row["timestamp"])
        rpc = row_to_rpc(row)
        chain_id = int(rpc["chainId"], 16) if rpc.get("chainId") else default_chain
    except (DumpsterRowError, KeyError, ValueError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, DumpsterRowError) else f"bad row: {exc!r}"
        payload = orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return DeadLetter("replay", reason, payload, SOURCE, default_chain, seen_ms)
    return RawItem("tx", chain_id, SOURCE, seen_ms, orjson.dumps(rpc))


def read_rows(path: Path, batch_rows: int = 2_000) -> Iterator[list[dict[str, Any]]]:
    """Rows of a dumpster file (Parquet, or CSV possibly gzip/zstd-compressed), in batches."""
    if ".parquet" in path.name:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            yield batch.to_pylist()
        return
    # Strings throughout: amounts exceed int64, addresses must keep their text.
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(CSV_COLUMNS, pa.string()))
    reader = pacsv.open_csv(
        pa.input_stream(str(path), compression="detect"), convert_options=options
    )
    for batch in reader:
        yield [{CSV_COLUMNS.get(k, k): v for k, v in row.items()} for row in batch.to_pylist()]


@dataclass(frozen=True)
class DumpsterPosition:
    file: int = 0
    rows: int = 0


class _DumpsterPartition(StatefulSourcePartition[RawItem | DeadLetter, DumpsterPosition]):
    def __init__(self, source: MempoolDumpsterSource, position: DumpsterPosition | None) -> None:
        self._source = source
        self._position = position or DumpsterPosition()
        self._batches = self._walk()

    def _walk(self) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        start = self._position
        for index, path in enumerate(self._source.paths):
            if index < start.file:
                continue
            skip = start.rows if index == start.file else 0
            seen = 0
            for rows in read_rows(path, self._source.batch_rows):
                if seen + len(rows) <= skip:
                    seen += len(rows)
                    continue
                rows = rows[max(0, skip - seen) :]
                seen = max(seen, skip) + len(rows)
                yield index, seen, rows

    def next_batch(self) -> list[RawItem | DeadLetter]:
        step = next(self._batches, None)
        if step is None:
            raise StopIteration
        index, done, rows = step
        self._position = DumpsterPosition(index, done)
        items = [row_to_item(row, self._source.chain_id) for row in rows]
        SOURCE_MESSAGES.labels(source=SOURCE, chain=str(self._source.chain_id)).inc(len(items))
        return items

    def snapshot(self) -> DumpsterPosition:
        return self._position


class MempoolDumpsterSource(FixedPartitionedSource[RawItem | DeadLetter, DumpsterPosition]):
    """mempool-dumpster files (``.parquet``, ``.csv``, ``.csv.gz``, ``.csv.zst``) in name order.

    Daily files are named by date, so name order is time order. ``chain_id`` applies to rows
    without a chain (mempool-dumpster covers Ethereum mainnet).
    """

    def __init__(self, paths: Sequence[str | Path], chain_id: int = 1, batch_rows: int = 2_000):
        self.paths = sorted(Path(p) for p in paths)
        self.chain_id = chain_id
        self.batch_rows = batch_rows

    def list_parts(self) -> list[str]:
        return ["dumpster"]

    def build_part(
        self, step_id: str, for_part: str, resume_state: DumpsterPosition | None
    ) -> _DumpsterPartition:
        return _DumpsterPartition(self, resume_state)
