"""Signed transactions as they travel on the wire: legacy RLP or an EIP-2718 typed envelope.

``decode_signed_tx`` turns the envelope bytes into the JSON-RPC transaction object a node would
serve for it (hex quantities, lowercase addresses, ``hash`` and ``from``), so the flow's own
normalizer (``operators.normalize``) makes the ``Tx`` record from it like from any node's object.

- ``hash`` is re-derived from the decoded fields: the fields are RLP-encoded again and hashed,
  and an envelope whose encoding differs from that (non-canonical RLP, trailing bytes) is
  refused, so the hash is the one the chain will give the transaction.
- ``from`` is recovered from the signature over the signing hash (EIP-155 for legacy txs with a
  chain id, the EIP-2718 type byte and the fields without the signature otherwise).
- Types: 0 legacy, 1 access list, 2 EIP-1559, 3 blob (canonical form; a network wrapper with
  blobs is unwrapped), 4 EIP-7702 (each authorization's signer recovered, None where invalid,
  as EIP-7702 skips such tuples), 0x7e OP-stack deposit (no signature: ``from`` is a field).

RLP goes through ``rusty-rlp`` (the Rust backend of the ``rlp`` package, called directly: ``rlp``'s
own encoder infers a sedes per item in Python, ten times slower) and the secp256k1 recovery
through ``coincurve`` (libsecp256k1), Keccak through ``safe-pysha3`` (a C extension, 2.5 µs a
hash where eth-hash's pycryptodome backend takes 16 µs through cffi). Recovering the sender is
most of a tx's cost (bench/bench_l2.py).
"""

from __future__ import annotations

from typing import Any

import coincurve
from rusty_rlp import DecodingError, decode_raw, encode_raw
from sha3 import keccak_256

TYPE_OP_DEPOSIT = 0x7E
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# Field names of each type's RLP list, in order (the signature is always the last three).
_FIELDS: dict[int, tuple[str, ...]] = {
    0: ("nonce", "gasPrice", "gas", "to", "value", "input", "v", "r", "s"),
    1: (
        "chainId", "nonce", "gasPrice", "gas", "to", "value", "input", "accessList",
        "yParity", "r", "s",
    ),
    2: (
        "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList", "yParity", "r", "s",
    ),
    3: (
        "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList", "maxFeePerBlobGas", "blobVersionedHashes", "yParity", "r", "s",
    ),
    4: (
        "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList", "authorizationList", "yParity", "r", "s",
    ),
    TYPE_OP_DEPOSIT: (
        "sourceHash", "from", "to", "mint", "value", "gas", "isSystemTx", "input",
    ),
}  # fmt: skip
_QUANTITIES = frozenset(
    {
        "chainId", "nonce", "gasPrice", "gas", "value", "maxPriorityFeePerGas", "maxFeePerGas",
        "maxFeePerBlobGas", "mint", "v", "yParity", "r", "s",
    }
)  # fmt: skip


def keccak(data: bytes) -> bytes:
    return keccak_256(data).digest()


class BadTx(ValueError):
    """Bytes that are not a valid signed transaction; the text says precisely why."""


def _int(value: bytes, name: str) -> int:
    if not isinstance(value, bytes):
        raise BadTx(f"bad tx: {name} is a list, not a quantity")
    if value[:1] == b"\x00":
        raise BadTx(f"bad tx: {name} has a leading zero byte")
    return int.from_bytes(value, "big")


def _address(value: bytes, name: str) -> str | None:
    if not isinstance(value, bytes):
        raise BadTx(f"bad tx: {name} is a list, not an address")
    if not value:
        return None
    if len(value) != 20:
        raise BadTx(f"bad tx: {name} is {len(value)} bytes, not 20")
    return "0x" + value.hex()


def recover_address(signing_hash: bytes, parity: int, r: int, s: int) -> str:
    """The address whose key made this signature; raises BadTx when it is not a signature."""
    if parity not in (0, 1) or not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise BadTx("bad signature: values out of range")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((parity,))
    try:
        key = coincurve.PublicKey.from_signature_and_message(signature, signing_hash, hasher=None)
    except (ValueError, TypeError) as exc:
        raise BadTx(f"bad signature: {exc}") from None
    return "0x" + keccak(key.format(compressed=False)[1:])[-20:].hex()


def _access_list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadTx("bad tx: accessList is not a list")
    out = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
            raise BadTx("bad tx: accessList entry is not [address, [keys]]")
        out.append(
            {
                "address": _address(entry[0], "accessList address"),
                "storageKeys": ["0x" + bytes(k).hex() for k in entry[1]],
            }
        )
    return out


def _authorizations(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadTx("bad tx: authorizationList is not a list")
    out = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) != 6:
            raise BadTx("bad tx: authorization is not [chainId, address, nonce, yParity, r, s]")
        chain_id, address, nonce, parity, r, s = (
            _int(entry[0], "authorization chainId"),
            _address(entry[1], "authorization address"),
            _int(entry[2], "authorization nonce"),
            _int(entry[3], "authorization yParity"),
            _int(entry[4], "authorization r"),
            _int(entry[5], "authorization s"),
        )
        message = keccak(b"\x05" + encode_raw(entry[:3]))
        try:
            authority: str | None = recover_address(message, parity, r, s)
        except BadTx:
            authority = None
        out.append(
            {
                "chainId": hex(chain_id),
                "address": address,
                "nonce": hex(nonce),
                "yParity": hex(parity),
                "r": hex(r),
                "s": hex(s),
                "authority": authority,
            }
        )
    return out


def _items(envelope: bytes) -> tuple[int, list[Any], bool]:
    """(type, RLP items, whether a blob tx came in its network wrapper)."""
    if not envelope:
        raise BadTx("bad tx: empty")
    first = envelope[0]
    if first >= 0xC0:
        tx_type, body = 0, envelope
    elif first in _FIELDS:
        tx_type, body = first, envelope[1:]
    else:
        raise BadTx(f"bad tx: unknown transaction type {first:#x}")
    try:
        items, _ = decode_raw(body, True, False)
    except DecodingError as exc:
        raise BadTx(f"truncated or malformed RLP: {exc}") from None
    if not isinstance(items, list):
        raise BadTx("bad tx: RLP string where a list was expected")
    wrapped = tx_type == 3 and len(items) == 4 and isinstance(items[0], list)
    if wrapped:
        items = items[0]  # network form [tx, blobs, commitments, proofs]: keep the tx
    if len(items) != len(_FIELDS[tx_type]):
        raise BadTx(f"bad tx: type {tx_type} has {len(_FIELDS[tx_type])} fields, got {len(items)}")
    return tx_type, items, wrapped


def decode_signed_tx(envelope: bytes) -> dict[str, Any]:
    """The JSON-RPC transaction object of a signed envelope; raises ``BadTx``."""
    tx_type, items, wrapped = _items(envelope)
    names = _FIELDS[tx_type]
    encoded = encode_raw(items)
    canonical = encoded if tx_type == 0 else bytes((tx_type,)) + encoded
    if canonical != envelope and not wrapped:
        raise BadTx("bad tx: non-canonical RLP (or trailing bytes)")
    out: dict[str, Any] = {"type": hex(tx_type), "hash": "0x" + keccak(canonical).hex()}
    values = dict(zip(names, items, strict=True))
    for name, value in values.items():
        if name in _QUANTITIES:
            out[name] = hex(_int(value, name))
    out["to"] = _address(values["to"], "to")
    data = values["input"]
    if not isinstance(data, bytes):
        raise BadTx("bad tx: input is a list")
    out["input"] = "0x" + data.hex()
    if tx_type == TYPE_OP_DEPOSIT:
        source_hash = values["sourceHash"]
        if not isinstance(source_hash, bytes) or len(source_hash) != 32:
            raise BadTx("bad tx: deposit sourceHash is not 32 bytes")
        out["sourceHash"] = "0x" + source_hash.hex()
        out["from"] = _address(values["from"], "from")
        out["isSystemTx"] = values["isSystemTx"] == b"\x01"
        return out
    if "accessList" in values:
        out["accessList"] = _access_list(values["accessList"])
    if "blobVersionedHashes" in values:
        hashes = values["blobVersionedHashes"]
        if not isinstance(hashes, list):
            raise BadTx("bad tx: blobVersionedHashes is not a list")
        out["blobVersionedHashes"] = ["0x" + bytes(h).hex() for h in hashes]
    if "authorizationList" in values:
        out["authorizationList"] = _authorizations(values["authorizationList"])
    r, s = int(out["r"], 16), int(out["s"], 16)
    if tx_type == 0:
        v = int(out["v"], 16)
        if v in (27, 28):
            unsigned = items[:6]
            parity = v - 27
        elif v >= 35:
            chain_id = (v - 35) // 2
            out["chainId"] = hex(chain_id)
            unsigned = [
                *items[:6],
                chain_id.to_bytes((chain_id.bit_length() + 7) // 8, "big"),
                b"",
                b"",
            ]
            parity = (v - 35) % 2
        else:
            raise BadTx(f"bad signature: legacy v={v}")
        signing_hash = keccak(encode_raw(unsigned))
    else:
        parity = int(out["yParity"], 16)
        out["v"] = out["yParity"]
        signing_hash = keccak(bytes((tx_type,)) + encode_raw(items[:-3]))
    out["from"] = recover_address(signing_hash, parity, r, s)
    return out


def unwrap_envelope(raw: bytes) -> bytes:
    """The signed transaction bytes: typed envelopes sometimes travel wrapped in an RLP byte
    string (early mempool-dumpster files, some node APIs)."""
    if raw and 0x80 <= raw[0] <= 0xBF:
        try:
            inner, _ = decode_raw(raw, True, False)
        except DecodingError as exc:
            raise BadTx(f"truncated or malformed RLP: {exc}") from None
        if not isinstance(inner, bytes):
            raise BadTx("bad tx: RLP string expected")
        return inner
    return raw
