"""Replay flashbots' mempool-dumpster archive (daily Parquet or CSV) as the flow's raw input.

mempool-dumpster (github.com/flashbots/mempool-dumpster, data CC-0) publishes every pending
transaction its collectors saw, one file per day. This source turns each row into what a live
websocket source emits: a ``RawItem(kind="tx")`` whose payload is a JSON-RPC transaction object
(hex quantities), with ``seen_ms`` the recorded first-seen time. The flow's ``normalize`` then
handles it like live input.

Parquet rows carry ``rawTx``, the signed transaction: it is decoded (legacy RLP or EIP-2718 typed
envelope, through eth-account and rlp) for the calldata, access list, blob and EIP-7702 fields,
and checked against the row's ``hash``. Early files wrap the typed envelope in an RLP byte string;
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
import rlp
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_account.typed_transactions.set_code_transaction import Authorization
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak
from hexbytes import HexBytes

from operators.metrics import SOURCE_MESSAGES
from operators.records import DeadLetter, RawItem

SOURCE = "mempool-dumpster"
ZERO_ADDRESS = "0x" + "00" * 20
LEGACY_FIELDS = ("nonce", "gasPrice", "gas", "to", "value", "data", "v", "r", "s")

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


def unwrap_envelope(raw: bytes) -> bytes:
    """The signed transaction bytes: typed envelopes may come wrapped in an RLP byte string."""
    if raw and 0x80 <= raw[0] <= 0xBF:
        inner = rlp.decode(raw)
        if not isinstance(inner, bytes):
            raise DumpsterRowError("bad rawTx: RLP string expected")
        return inner
    return raw


def decode_raw_tx(raw_hex: str) -> tuple[bytes, dict[str, Any]]:
    """(signed envelope, JSON-RPC fields) of a raw transaction."""
    try:
        envelope = unwrap_envelope(HexBytes(raw_hex))
        if not envelope:
            raise DumpsterRowError("bad rawTx: empty")
        if envelope[0] >= 0xC0:
            items = rlp.decode(envelope)
            fields = dict(zip(LEGACY_FIELDS, items, strict=True))
            v = int.from_bytes(fields["v"], "big")
            out: dict[str, Any] = {
                "type": "0x0",
                "nonce": _hex(int.from_bytes(fields["nonce"], "big")),
                "gasPrice": _hex(int.from_bytes(fields["gasPrice"], "big")),
                "gas": _hex(int.from_bytes(fields["gas"], "big")),
                "to": _address(fields["to"]),
                "value": _hex(int.from_bytes(fields["value"], "big")),
                "input": _bytes_hex(fields["data"]),
                "v": _hex(v),
                "r": _hex(int.from_bytes(fields["r"], "big")),
                "s": _hex(int.from_bytes(fields["s"], "big")),
            }
            if v >= 35:  # EIP-155: the chain id is in v
                out["chainId"] = _hex((v - 35) // 2)
            return envelope, out
        typed = TypedTransaction.from_bytes(HexBytes(envelope)).as_dict()
    except DumpsterRowError:
        raise
    except Exception as exc:  # rlp / eth-account raise many types for malformed input
        raise DumpsterRowError(f"bad rawTx: {type(exc).__name__}: {exc}") from exc
    return envelope, _typed_fields(typed)


def _typed_fields(typed: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _hex(typed["type"])}
    for name in (
        "chainId",
        "nonce",
        "gas",
        "value",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "gasPrice",
        "maxFeePerBlobGas",
        "v",
        "r",
        "s",
    ):
        if name in typed:
            out[name] = _hex(typed[name])
    if "yParity" not in out and "v" in out:
        out["yParity"] = out["v"]
    out["to"] = _address(typed.get("to"))
    out["input"] = _bytes_hex(typed.get("data", b""))
    if "accessList" in typed:
        out["accessList"] = [
            {
                "address": _address(entry["address"]),
                "storageKeys": [
                    k if isinstance(k, str) else _bytes_hex(k) for k in entry["storageKeys"]
                ],
            }
            for entry in typed["accessList"]
        ]
    if "blobVersionedHashes" in typed:
        out["blobVersionedHashes"] = [
            h if isinstance(h, str) else _bytes_hex(h) for h in typed["blobVersionedHashes"]
        ]
    if "authorizationList" in typed:
        out["authorizationList"] = [
            {
                "chainId": _hex(a["chainId"]),
                "address": _address(a["address"]),
                "nonce": _hex(a["nonce"]),
                "yParity": _hex(a["yParity"]),
                "r": _hex(a["r"]),
                "s": _hex(a["s"]),
                "authority": _authority(a),
            }
            for a in typed["authorizationList"]
        ]
    return out


def _authority(signed: dict[str, Any]) -> str | None:
    """The EOA that signed an EIP-7702 authorization; None when the signature is invalid (EIP-7702
    skips such tuples rather than failing the transaction)."""
    try:
        message = Authorization(signed["chainId"], HexBytes(signed["address"]), signed["nonce"])
        signature = Signature(vrs=(signed["yParity"], signed["r"], signed["s"]))
        key = signature.recover_public_key_from_msg_hash(message.hash())
    except (BadSignature, ValidationError, ValueError):
        return None
    return key.to_checksum_address().lower()


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
        envelope, decoded = decode_raw_tx(raw)
        actual = _bytes_hex(keccak(envelope))
        if actual != tx_hash:
            raise DumpsterRowError(f"rawTx hash mismatch: row {tx_hash}, rawTx {actual}")
        sender = _address(row.get("from"))
        if sender in (None, ZERO_ADDRESS):
            try:
                sender = Account.recover_transaction(envelope).lower()
            except Exception as exc:
                raise DumpsterRowError(f"bad signature: {exc}") from exc
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
