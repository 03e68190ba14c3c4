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

RLP is decoded by ``rlp_decode`` below: strict (shortest lengths only, no trailing bytes, an item
never running past its list) and slicing the input, so a long calldata costs one copy. The
decoder of ``rusty-rlp`` (the Rust backend of the ``rlp`` package) grows with the input's length:
in one process on the shared 2-core machine it took 15 µs for the 213-byte Arbitrum tx and
161 µs for a 4 kB Base tx, this one 8 µs for either. ``rusty-rlp`` still encodes, for the hash
check and the signing hash (1 µs). The secp256k1 recovery goes through ``coincurve``
(libsecp256k1 linked in; cffi releases the GIL around the call), Keccak through ``safe-pysha3``
(a C extension, 1.5 µs a hash where eth-hash's pycryptodome backend takes 16 µs through cffi).
Recovering the sender is most of a tx's cost (bench/bench_l2.py); ``decode_unsigned`` and
``recover_senders`` let a caller recover the senders of many txs together, on threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeAlias

import coincurve
from rusty_rlp import encode_raw
from sha3 import keccak_256

TYPE_OP_DEPOSIT = 0x7E
# A tx nests lists 4 deep at most (blob wrapper, tx, access list, entry, keys); deeper input is
# refused before Python's recursion limit is reached.
MAX_RLP_DEPTH = 16
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
# Each type's fields' indexes in its RLP list, and its quantities: (name, index).
_INDEX = {tx_type: {name: i for i, name in enumerate(names)} for tx_type, names in _FIELDS.items()}
_QUANTITIES_AT = {
    tx_type: tuple((name, i) for i, name in enumerate(names) if name in _QUANTITIES)
    for tx_type, names in _FIELDS.items()
}

RlpItem: TypeAlias = "bytes | list[RlpItem]"


class BadTx(ValueError):
    """Bytes that are not a valid signed transaction; the text says precisely why."""


class Signature(NamedTuple):
    """What recovering a sender needs: the hash that was signed and the signature."""

    signing_hash: bytes
    parity: int
    r: int
    s: int


def keccak(data: bytes) -> bytes:
    return keccak_256(data).digest()


# --- RLP -----------------------------------------------------------------------------------------


def _malformed(why: str) -> BadTx:
    return BadTx(f"truncated or malformed RLP: {why}")


def _long_payload(data: bytes, pos: int, end: int, length_size: int) -> tuple[int, int]:
    """(start, stop) of a long string's or list's payload; its header starts at ``pos``."""
    start = pos + 1 + length_size
    if start > end:
        raise _malformed(f"length of {length_size} bytes cut at byte {end}")
    if data[pos + 1] == 0:
        raise _malformed(f"length with a leading zero byte at byte {pos}")
    size = int.from_bytes(data[pos + 1 : start], "big")
    if size < 56:
        raise _malformed(f"long form for a length of {size} at byte {pos}")
    if start + size > end:
        raise _malformed(f"{size} bytes announced at byte {pos}, {end - start} left")
    return start, start + size


def _rlp_list(data: bytes, pos: int, end: int, depth: int = 0) -> list[RlpItem]:
    """The items of the list payload ``data[pos:end]``; the string cases are inlined (most items
    of a tx are short strings, a Python call each would be a good part of the decoding)."""
    if depth > MAX_RLP_DEPTH:
        raise _malformed(f"lists nested deeper than {MAX_RLP_DEPTH}")
    out: list[RlpItem] = []
    append = out.append
    while pos < end:
        first = data[pos]
        if first < 0x80:
            append(data[pos : pos + 1])
            pos += 1
        elif first < 0xB8:
            start = pos + 1
            pos = start + first - 0x80
            if pos > end:
                raise _malformed(f"{first - 0x80} bytes announced at byte {start - 1}")
            if first == 0x81 and data[start] < 0x80:
                raise _malformed(f"single byte {data[start]:#x} encoded as a string")
            append(data[start:pos])
        elif first < 0xC0:
            start, pos = _long_payload(data, pos, end, first - 0xB7)
            append(data[start:pos])
        else:
            if first < 0xF8:
                start = pos + 1
                pos = start + first - 0xC0
                if pos > end:
                    raise _malformed(f"list of {first - 0xC0} bytes announced at byte {start - 1}")
            else:
                start, pos = _long_payload(data, pos, end, first - 0xF7)
            append(_rlp_list(data, start, pos, depth + 1))
    return out


def rlp_decode(data: bytes) -> RlpItem:
    """The one RLP item ``data`` encodes; strict, like the chain's decoders: shortest lengths
    only, a single byte below 0x80 never wrapped, nothing after the item."""
    wrapped = _rlp_list(data, 0, len(data))
    if len(wrapped) != 1:
        raise _malformed("empty input" if not wrapped else "trailing bytes after the item")
    return wrapped[0]


# --- signatures ----------------------------------------------------------------------------------


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


def _recover_or_error(signature: Signature) -> str | BadTx:
    try:
        return recover_address(*signature)
    except BadTx as exc:
        return exc


def _recover_chunk(signatures: Sequence[Signature]) -> list[str | BadTx]:
    return [_recover_or_error(signature) for signature in signatures]


MapChunks = Callable[
    [Callable[[Sequence[Signature]], list[str | BadTx]], Iterable[Sequence[Signature]]],
    Iterable[list[str | BadTx]],
]


def recover_senders(
    signatures: Sequence[Signature], map_chunks: MapChunks | None = None, chunks: int = 1
) -> list[str | BadTx]:
    """Each signature's signer (or the BadTx saying why none), in order. ``map_chunks`` (an
    executor's ``map``) runs ``chunks`` slices of the list at once: libsecp256k1 runs with the
    GIL released, so threads recover in parallel."""
    if map_chunks is None or chunks <= 1 or len(signatures) < 2:
        return _recover_chunk(signatures)
    step = -(-len(signatures) // chunks)
    parts = [signatures[i : i + step] for i in range(0, len(signatures), step)]
    return [sender for part in map_chunks(_recover_chunk, parts) for sender in part]


# --- transactions --------------------------------------------------------------------------------


def _int(value: RlpItem, name: str) -> int:
    if value.__class__ is not bytes:
        raise BadTx(f"bad tx: {name} is a list, not a quantity")
    if value[:1] == b"\x00":
        raise BadTx(f"bad tx: {name} has a leading zero byte")
    return int.from_bytes(value, "big")


def _address(value: RlpItem, name: str) -> str | None:
    if value.__class__ is not bytes:
        raise BadTx(f"bad tx: {name} is a list, not an address")
    if not value:
        return None
    if len(value) != 20:
        raise BadTx(f"bad tx: {name} is {len(value)} bytes, not 20")
    return "0x" + value.hex()


def _hashes(value: RlpItem, name: str) -> list[str]:
    if not isinstance(value, list) or any(h.__class__ is not bytes for h in value):
        raise BadTx(f"bad tx: {name} is not a list of byte strings")
    return ["0x" + h.hex() for h in value]  # type: ignore[union-attr]


def _access_list(value: RlpItem) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadTx("bad tx: accessList is not a list")
    out = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
            raise BadTx("bad tx: accessList entry is not [address, [keys]]")
        out.append(
            {
                "address": _address(entry[0], "accessList address"),
                "storageKeys": _hashes(entry[1], "accessList storage keys"),
            }
        )
    return out


def _authorizations(value: RlpItem) -> list[dict[str, Any]]:
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


def _items(envelope: bytes) -> tuple[int, list[RlpItem], bool]:
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
    items = rlp_decode(body)
    if not isinstance(items, list):
        raise BadTx("bad tx: RLP string where a list was expected")
    wrapped = tx_type == 3 and len(items) == 4 and isinstance(items[0], list)
    if wrapped:
        items = items[0]  # network form [tx, blobs, commitments, proofs]: keep the tx
        assert isinstance(items, list)
    if len(items) != len(_FIELDS[tx_type]):
        raise BadTx(f"bad tx: type {tx_type} has {len(_FIELDS[tx_type])} fields, got {len(items)}")
    return tx_type, items, wrapped


def decode_unsigned(envelope: bytes) -> tuple[dict[str, Any], Signature | None]:
    """The JSON-RPC transaction object of a signed envelope without ``from``, and the signature
    to recover it from (None for an OP deposit, whose ``from`` is a field); raises ``BadTx``."""
    tx_type, items, wrapped = _items(envelope)
    # The hash is re-derived from the decoded fields: encoded again (by rusty-rlp, not by the
    # decoder above) and hashed; an envelope that is not that encoding is refused.
    encoded = encode_raw(items)
    if wrapped:
        canonical = bytes((tx_type,)) + encoded
    elif encoded == (envelope if tx_type == 0 else envelope[1:]):
        canonical = envelope
    else:
        raise BadTx("bad tx: non-canonical RLP (or trailing bytes)")
    out: dict[str, Any] = {"type": hex(tx_type), "hash": "0x" + keccak(canonical).hex()}
    at = _INDEX[tx_type]
    for name, index in _QUANTITIES_AT[tx_type]:
        value = items[index]
        if value.__class__ is not bytes or value[:1] == b"\x00":  # _int inlined: 9 calls a tx
            _int(value, name)  # raises, saying why
        out[name] = hex(int.from_bytes(value, "big"))  # type: ignore[arg-type]
    out["to"] = _address(items[at["to"]], "to")
    data = items[at["input"]]
    if data.__class__ is not bytes:
        raise BadTx("bad tx: input is a list")
    out["input"] = "0x" + data.hex()
    if tx_type == TYPE_OP_DEPOSIT:
        source_hash = items[at["sourceHash"]]
        if source_hash.__class__ is not bytes or len(source_hash) != 32:
            raise BadTx("bad tx: deposit sourceHash is not 32 bytes")
        out["sourceHash"] = "0x" + source_hash.hex()
        out["from"] = _address(items[at["from"]], "from")
        out["isSystemTx"] = items[at["isSystemTx"]] == b"\x01"
        return out, None
    if tx_type != 0:
        out["accessList"] = _access_list(items[at["accessList"]])
        if tx_type == 3:
            out["blobVersionedHashes"] = _hashes(
                items[at["blobVersionedHashes"]], "blobVersionedHashes"
            )
        elif tx_type == 4:
            out["authorizationList"] = _authorizations(items[at["authorizationList"]])
    r, s = int.from_bytes(items[-2], "big"), int.from_bytes(items[-1], "big")  # type: ignore[arg-type]
    if tx_type == 0:
        v = int.from_bytes(items[-3], "big")  # type: ignore[arg-type]
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
        parity = int.from_bytes(items[-3], "big")  # type: ignore[arg-type]
        out["v"] = out["yParity"]
        signing_hash = keccak(bytes((tx_type,)) + encode_raw(items[:-3]))
    return out, Signature(signing_hash, parity, r, s)


def decode_signed_tx(envelope: bytes) -> dict[str, Any]:
    """The JSON-RPC transaction object of a signed envelope, ``from`` recovered; raises
    ``BadTx``."""
    out, signature = decode_unsigned(envelope)
    if signature is not None:
        out["from"] = recover_address(*signature)
    return out


def unwrap_envelope(raw: bytes) -> bytes:
    """The signed transaction bytes: typed envelopes sometimes travel wrapped in an RLP byte
    string (early mempool-dumpster files, some node APIs)."""
    if raw and 0x80 <= raw[0] <= 0xBF:
        inner = rlp_decode(raw)
        if not isinstance(inner, bytes):
            raise BadTx("bad tx: RLP string expected")
        return inner
    return raw
