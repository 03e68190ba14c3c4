"""The L2 feed decoders on real frames (tests/data/l2/NOTICE.md): every tx's hash re-derived from
its decoded fields, the Tx records the flow's normalizer makes of them, and dead letters (never
exceptions) for every kind of broken frame."""

from __future__ import annotations

import json
from pathlib import Path

import brotli
import pytest
import rlp
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address

from operators.inclusion import InclusionTracker, PendingSeen, sighting
from operators.l2.arbitrum import decode_feed_frame
from operators.l2.flashblocks import FlashblockDecoder, receipts_of
from operators.l2.preconfirmed import preconfirmed_detections
from operators.mev.block import analyze_block_logs
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, RawItem, Tx
from operators.signed_tx import decode_signed_tx
from tests.connectors.l2_frames import (
    ARBITRUM_FRAME,
    ARBITRUM_ONE,
    BASE,
    FLASHBLOCK_DEPOSIT,
    FLASHBLOCK_TXS,
    arbitrum_signed_tx,
    base_signed_txs,
    batch,
    feed_frame,
    signed,
)

SOURCE = "arbitrum_feed:42161:wss://relay"
LEGACY = ("nonce", "gasPrice", "gas", "to", "value", "input", "v", "r", "s")


def rederived_hash(fields: dict) -> str:
    """The tx hash from decoded fields alone, encoded by other code than the decoder's."""

    def q(name: str) -> int:
        return int(fields[name], 16)

    if fields["type"] == "0x0":
        values = [q("nonce"), q("gasPrice"), q("gas"), bytes.fromhex(fields["to"][2:]),
                  q("value"), bytes.fromhex(fields["input"][2:]), q("v"), q("r"), q("s")]  # fmt: skip
        return "0x" + keccak(rlp.encode(values)).hex()
    typed = {k: v for k, v in fields.items() if k not in ("hash", "from", "yParity", "position")}
    typed["data"] = typed.pop("input")
    if typed.get("to"):
        typed["to"] = to_checksum_address(typed["to"])
    for entry in typed.get("accessList", ()):
        entry["address"] = to_checksum_address(entry["address"])
    return "0x" + keccak(TypedTransaction.from_dict(typed).encode()).hex()


def normalized(items: list) -> list[Tx]:
    out = [r for item in items if isinstance(item, RawItem) for r in normalize_item(item)]
    txs = [t for t in out if isinstance(t, Tx)]
    assert txs == out, out
    return txs


def letters(items: list) -> list[DeadLetter]:
    found = [i for i in items if isinstance(i, DeadLetter)]
    assert found == items, items
    return found


def test_real_arbitrum_feed_frame_gives_the_sequenced_tx_with_rederived_hash_and_sender() -> None:
    items, highest = decode_feed_frame(ARBITRUM_FRAME, ARBITRUM_ONE, SOURCE, 1_000)
    assert highest == 25757171
    [item] = items
    assert isinstance(item, RawItem) and item.kind == "sequenced"
    fields = json.loads(item.payload)
    envelope = arbitrum_signed_tx()
    assert fields["hash"] == rederived_hash(fields) == "0x" + keccak(envelope).hex() == item.hash
    assert fields["from"] == Account.recover_transaction(envelope).lower()
    [tx] = normalized(items)
    assert (tx.stage, tx.position, tx.chain_id, tx.tx_type) == (
        "sequenced",
        (25757171, 0),
        ARBITRUM_ONE,
        2,
    )
    assert tx.sender == fields["from"] and tx.to == "0x996d8368205d834e2c6ca83a43db1208f4624b1b"
    assert tx.nonce == 0x48 and tx.max_fee_per_gas == 0xA0EEBB00 and tx.selector == "0x0861e8dd"
    assert tx.first_seen_ms == 1_000 and tx.block_number is None and tx.source == SOURCE


def test_real_flashblock_gives_every_tx_preconfirmed_with_the_hashes_its_receipts_name() -> None:
    decoder = FlashblockDecoder(BASE, "flashblocks:8453:wss://fb")
    flashblock, items = decoder.decode(brotli.compress(FLASHBLOCK_TXS), 2_000)
    assert flashblock is not None and len(items) == 11
    txs = normalized(items)
    fields = [json.loads(i.payload) for i in items if isinstance(i, RawItem)]
    for f, envelope in zip(fields, base_signed_txs(), strict=True):
        assert f["hash"] == rederived_hash(f) == "0x" + keccak(envelope).hex()
        assert f["from"] == Account.recover_transaction(envelope).lower()
    receipt_hashes = {r.tx_hash for r in receipts_of(flashblock)}
    assert receipt_hashes == {"0x1a766690fd6d0febffc488f12fbd7385c43fbe1e07113a1316f22f176355297e",
                              "0x2cd6b4825b5ee40b703c947e15630336dceda97825b70412da54ccc27f484496"}  # fmt: skip
    assert receipt_hashes <= {t.hash for t in txs}
    assert [t.position for t in txs] == [(37646058, 10, i) for i in range(11)]
    assert {t.stage for t in txs} == {"preconfirmed"} and {t.chain_id for t in txs} == {BASE}
    assert sorted({t.tx_type for t in txs}) == [0, 2]
    usdc = next(t for t in txs if t.hash.startswith("0x2cd6b4"))
    assert usdc.to == "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"  # USDC on Base
    assert usdc.selector == "0xcf092995"


def test_real_deposit_flashblock_and_later_index_without_base_keep_the_block_number() -> None:
    decoder = FlashblockDecoder(BASE, "fb")
    _, items = decoder.decode(FLASHBLOCK_DEPOSIT.decode(), 1)  # a text frame: plain JSON
    [deposit] = normalized(items)
    assert (
        deposit.tx_type == 0x7E and deposit.sender == "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"
    )
    assert deposit.to == "0x4200000000000000000000000000000000000015"  # L1Block predeploy
    assert deposit.source_hash is not None and deposit.position == (26600873, 0, 0)
    fields = decode_signed_tx(
        bytes.fromhex(json.loads(FLASHBLOCK_DEPOSIT)["diff"]["transactions"][0][2:])
    )
    assert deposit.hash == fields["hash"]
    later = json.loads(FLASHBLOCK_TXS)
    later["payload_id"], later["metadata"] = "0x0307de8ff1df8ed8", {}  # no block number of its own
    _, items = decoder.decode(brotli.compress(json.dumps(later).encode()), 2)
    assert {t.position[0] for t in normalized(items)} == {26600873}


def test_nested_batches_are_flattened_in_order_with_positions() -> None:
    arb = arbitrum_signed_tx()
    other = base_signed_txs()[0]
    inner = batch(signed(arb), batch(signed(arb)))
    frame = feed_frame([(100, batch(signed(arb), inner)), (101, signed(arb))])
    items, highest = decode_feed_frame(frame, ARBITRUM_ONE, SOURCE, 5)
    assert highest == 101
    assert [json.loads(i.payload)["position"] for i in items if isinstance(i, RawItem)] == [
        [100, 0], [100, 1], [100, 2], [101, 0]
    ]  # fmt: skip
    # A Base tx inside an Arbitrum batch: wrong chain, a dead letter; its neighbours still pass.
    items, _ = decode_feed_frame(
        feed_frame([(7, batch(signed(other), signed(arb)))]), ARBITRUM_ONE, SOURCE, 5
    )
    letter, good = items
    assert isinstance(letter, DeadLetter) and letter.reason.startswith("wrong chain id: ")
    assert isinstance(good, RawItem) and json.loads(good.payload)["position"] == [7, 1]


BROKEN_ARBITRUM = {
    "bad base64": feed_frame([(1, "BAL4!!not base64")]),
    "unknown message kind": feed_frame([(1, b"\x05\x01\x02")]),
    "unknown message kind: L1": feed_frame([(1, signed(b"\x01"))], kind=42),
    "truncated or malformed RLP": feed_frame([(1, signed(arbitrum_signed_tx()[:-20]))]),
    "truncated batch": feed_frame([(1, batch(signed(arbitrum_signed_tx()))[:-30])]),
    "unsupported l2 message kind": feed_frame([(1, b"\x07\x00")]),
    "garbage frame": b"\x00\xffnot json",
    "garbage message": b'{"version":1,"messages":[{"sequenceNumber":"x"}]}',
    "bad tx": feed_frame([(1, signed(b"\x09\x01"))]),
    "bad signature": feed_frame([(1, signed(arbitrum_signed_tx()[:-33] + b"\xa0" + b"\xff" * 32))]),
}


@pytest.mark.parametrize("reason", sorted(BROKEN_ARBITRUM))
def test_broken_arbitrum_frames_become_dead_letters_with_their_reason(reason: str) -> None:
    items = letters(decode_feed_frame(BROKEN_ARBITRUM[reason], ARBITRUM_ONE, SOURCE, 9)[0])
    assert items
    assert items[0].reason.startswith(reason), items[0].reason
    assert items[0].stage == "source.arbitrum_feed" and items[0].payload


def test_broken_flashblock_frames_become_dead_letters() -> None:
    decoder = FlashblockDecoder(BASE, "fb", max_frame_bytes=64 * 1024)
    bomb = brotli.compress(b"{" + b" " * (10 << 20) + b"}")
    cases = {
        "oversize frame": bomb,
        "garbage frame: not brotli": b"\x8b\x00garbage",
        "garbage frame: not a flashblock": brotli.compress(b'{"index": "zero"}'),
        "block unknown": brotli.compress(b'{"payload_id":"0x1","index":3,"diff":{}}'),
    }
    for reason, frame in cases.items():
        items = letters(decoder.decode(frame, 1)[1])
        assert len(items) == 1, reason
        assert items[0].reason.startswith(reason), (reason, items[0].reason)
    wrong = FlashblockDecoder(10, "fb")  # Base's frame offered as OP Mainnet's: every tx refused
    refused = letters(wrong.decode(brotli.compress(FLASHBLOCK_TXS), 1)[1])
    assert len(refused) == 11 and all(i.reason.startswith("wrong chain id: ") for i in refused)


def test_inclusion_measures_latency_from_the_stage_and_reports_a_preconfirmed_tx_that_never_lands() -> (
    None
):
    decoder = FlashblockDecoder(BASE, "fb")
    _, items = decoder.decode(brotli.compress(FLASHBLOCK_TXS), 10_000)
    tracker = InclusionTracker(BASE, 3_600_000, 1000, 64)
    for item in items:
        seen = sighting(item)
        assert isinstance(seen, PendingSeen)
        assert (seen.stage, seen.promised_block) == ("preconfirmed", 37646058)
        assert tracker.on_sighting(seen) == []
    hashes = [json.loads(i.payload)["hash"] for i in items if isinstance(i, RawItem)]
    landed = tuple(hashes[:-1])  # the last preconfirmed tx is missing from its block
    block = Block(BASE, 37646058, "0x" + "11" * 32, 0, None, None, 10_900, "rpc", tx_hashes=landed,
                  txs=())  # fmt: skip
    block_seen = sighting(block)
    assert block_seen is not None
    found = tracker.on_sighting(block_seen)
    included = [r for r in found if r.status == "included"]
    missing = [r for r in found if r.status == "not_landed"]
    assert len(included) == 10 and {r.latency_ms for r in included} == {900}
    assert {r.stage for r in found} == {"preconfirmed"}
    assert [(r.tx_hash, r.block_number) for r in missing] == [(hashes[-1], 37646058)]


def test_real_flashblock_receipts_are_classified_by_the_log_path() -> None:
    decoder = FlashblockDecoder(BASE, "fb")
    flashblock, items = decoder.decode(brotli.compress(FLASHBLOCK_TXS), 1)
    assert flashblock is not None
    hashes = [i.hash or "" for i in items if isinstance(i, RawItem)]
    receipts = receipts_of(flashblock, {h: n for n, h in enumerate(hashes)})
    block = Block(BASE, 37646058, None, 0, None, None, 1, "fb", receipts=tuple(receipts))
    swaps = analyze_block_logs(block).swaps
    usdc = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
    balancer = [s for s in swaps if s.protocol == "balancer_v2"]
    assert [(s.token_in, s.amount_in, s.amount_out) for s in balancer] == [
        (usdc, 0x4B1BA7B, 0x4B1A44C)
    ]
    assert balancer[0].pool == "0x8f360baf899845441eccdc46525e26bb8860752a"
    assert balancer[0].token_out == "0xd9aaec86b65d86f6a7b5b1b0c42ffa531710b6ca"
    assert balancer[0].tx_position == 1 and balancer[0].tx_hash == hashes[1]
    assert preconfirmed_detections(flashblock, 37646058, hashes, BASE, "fb", 1) == []


def _real_tx_objects() -> list[dict]:
    """Node-served tx objects of every type: execution-apis' (types 0-4) and the chain samples'
    (mainnet, OP Mainnet: types 0, 2, 0x7e)."""
    root = Path(__file__).resolve().parents[1] / "data"
    found = []
    for path in sorted((root / "execution-apis").glob("*.io")):
        reply = next(line for line in path.read_text().splitlines() if line.startswith("<<"))
        found.append(json.loads(reply[2:])["result"])
    samples = json.loads((root / "enrich" / "chain_sample_txs.json").read_text())
    # Otterscan's ots_getBlockTransactions cuts ``input`` to its selector: no envelope to rebuild.
    found += [e["tx"] for e in samples if "ots_getBlockTransactions" not in e["origin"]["path"]]
    return found


def _envelope(tx: dict) -> bytes:
    """The signed envelope of a node's tx object, encoded by the ``rlp`` package (not the code
    under test)."""

    def q(name: str, default: str = "0x0") -> int:
        return int(tx.get(name) or default, 16)

    def b(text: str | None) -> bytes:
        return bytes.fromhex((text or "0x")[2:])

    kind = q("type")
    to = b(tx.get("to"))
    access = [[b(e["address"]), [b(k) for k in e["storageKeys"]]] for e in tx.get("accessList", [])]
    sig = [q("yParity", tx.get("v") or "0x0"), q("r"), q("s")]
    fees = [q("chainId"), q("nonce"), q("maxPriorityFeePerGas"), q("maxFeePerGas"), q("gas"), to]
    body: list = []
    if kind == 0:
        body = [
            q("nonce"),
            q("gasPrice"),
            q("gas"),
            to,
            q("value"),
            b(tx["input"]),
            q("v"),
            q("r"),
            q("s"),
        ]
        return bytes(rlp.encode(body))
    if kind == 1:
        body = [
            q("chainId"),
            q("nonce"),
            q("gasPrice"),
            q("gas"),
            to,
            q("value"),
            b(tx["input"]),
            access,
            *sig,
        ]
    elif kind == 2:
        body = [*fees, q("value"), b(tx["input"]), access, *sig]
    elif kind == 3:
        hashes = [b(h) for h in tx["blobVersionedHashes"]]
        body = [*fees, q("value"), b(tx["input"]), access, q("maxFeePerBlobGas"), hashes, *sig]
    elif kind == 4:
        auths = [
            [int(a["chainId"], 16), b(a["address"]), int(a["nonce"], 16), int(a["yParity"], 16),
             int(a["r"], 16), int(a["s"], 16)]
            for a in tx["authorizationList"]
        ]  # fmt: skip
        body = [*fees, q("value"), b(tx["input"]), access, auths, *sig]
    elif kind == 0x7E:
        body = [b(tx["sourceHash"]), b(tx["from"]), to, q("mint"), q("value"), q("gas"),
                1 if tx.get("isSystemTx") else 0, b(tx["input"])]  # fmt: skip
    return bytes([kind]) + bytes(rlp.encode(body))


@pytest.mark.parametrize("tx", _real_tx_objects(), ids=lambda tx: f"{tx['type']}-{tx['hash'][:10]}")
def test_every_tx_type_decodes_to_the_nodes_hash_and_sender(tx: dict) -> None:
    fields = decode_signed_tx(_envelope(tx))
    assert fields["hash"] == tx["hash"].lower()
    assert fields["from"] == tx["from"].lower()
    assert fields["type"] == hex(int(tx["type"], 16))
    assert fields["input"] == tx["input"].lower() and fields["to"] == (tx.get("to") or None)
    for auth, node in zip(
        fields.get("authorizationList", []), tx.get("authorizationList", []), strict=True
    ):
        assert auth["address"] == node["address"].lower() and auth["authority"] is not None
