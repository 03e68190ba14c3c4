"""A generated ``tx_raw`` workload and a processing flow over it, with known right answers.

Used by the multi-process Kafka tests and by ``bench/bench_kafka.py``. The flow is the processing
flow's front half with the real stages: tx_raw → decode (connectors.kafka) → normalize → enrich
→ key by chain:sender → keyed state that spots replacements (same sender and nonce, another hash)
→ ``tx_enriched`` + ``mev_bundles`` + dead letters. The replacement step here is not the flow's
windowed detector: its finding keys do not depend on arrival order (which differs between runs
with several workers), so the right answer is known in advance. ``python -m bytewax.run tests.connectors.kafka_workload:flow`` reads its Kafka
settings from ``SCORPIUS_KAFKA_*``.

Every generated message has an identity that its output carries back: a good tx its hash (the
``tx_enriched`` key), a message the source rejects its ``topic/partition@offset`` (the dead
letter's ``source``), a message the normalizer rejects its payload text (unique by construction).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from confluent_kafka import KafkaError, Message, Producer

from connectors.kafka import (
    HEADER_CHAIN_ID,
    HEADER_SEEN_MS,
    raw_message,
)
from flows import stages
from flows.config import EnrichConfig, KafkaConfig, load_config
from flows.wiring.kafka import kafka_output, kafka_raw_input
from operators.records import Detection, EnrichedTx, RawItem
from tests.services.kafka import producer_headers

CHAINS = (1, 42161, 10, 8453)

# --- keyed state: replacements per (chain, sender) ---------------------------------------------


def replacement_key(chain_id: int, sender: str, nonce: int, nth: int) -> str:
    """The nth distinct hash for one (chain, sender, nonce): the same whatever order they came in,
    so a finding replayed after a restart has the key it had the first time."""
    return f"replacement:{chain_id}:{sender}:{nonce}:{nth}"


def track(
    seen: dict[int, set[str]] | None, etx: EnrichedTx
) -> tuple[dict[int, set[str]], list[EnrichedTx | Detection]]:
    seen = {} if seen is None else seen
    tx = etx.tx
    if tx.nonce is None:  # a call recovered from a trace: no nonce to be replaced
        return seen, [etx]
    hashes = seen.setdefault(tx.nonce, set())
    out: list[EnrichedTx | Detection] = [etx]
    if tx.hash not in hashes:
        hashes.add(tx.hash)
        if len(hashes) > 1:
            out.append(
                Detection(
                    key=replacement_key(tx.chain_id, tx.sender, tx.nonce, len(hashes)),
                    kind="replacement",
                    chain_id=tx.chain_id,
                    tx_hashes=tuple(sorted(hashes)),
                    first_seen_ms=tx.first_seen_ms,
                    detected_ms=int(time.time() * 1000),
                )
            )
    return seen, out


def build_flow(cfg: KafkaConfig) -> Dataflow:
    flow = Dataflow("kafka_workload")
    raws, source_letters = kafka_raw_input("tx_raw", flow, cfg)
    norm = stages.normalize_stage("normalize", raws)
    etxs = stages.enrich_stage("enrich", norm.txs, EnrichConfig())
    keyed = op.key_on("by_sender", etxs, lambda etx: f"{etx.tx.chain_id}:{etx.tx.sender}")
    tracked = op.flat_map("unkey", op.stateful_map("track", keyed, track), lambda kv: kv[1])
    kinds = op.branch("is_enriched", tracked, lambda item: isinstance(item, EnrichedTx))
    dead = op.merge("dead", source_letters, norm.errs)
    kafka_output("tx_enriched", kinds.trues, cfg, cfg.topic_enriched)
    kafka_output("mev_bundles", kinds.falses, cfg, cfg.topic_bundles)
    kafka_output("dead_letters", dead, cfg, cfg.topic_dead_letters)
    return flow


def __getattr__(name: str) -> Dataflow:
    if name == "flow":
        return build_flow(load_config().kafka)
    raise AttributeError(name)


# --- the workload --------------------------------------------------------------------------------

Headers = list[tuple[str, bytes]]


@dataclass
class Outgoing:
    key: bytes | None
    value: bytes | None
    headers: Headers
    # What the flow must produce for it: "tx" (tx_enriched), "source" or "normalize" (dead letters).
    expect: str
    identity: str


@dataclass
class Workload:
    messages: list[Outgoing]
    detection_keys: set[str]


def _tx_json(
    chain_id: int, tx_hash: str, sender: str, nonce: int, fee: int, rng: random.Random
) -> bytes:
    return msgspec.json.encode(
        {
            "hash": tx_hash,
            "from": sender,
            "to": f"0x{rng.getrandbits(160):040x}",
            "nonce": hex(nonce),
            # Amounts beyond 64 bits must survive untouched.
            "value": hex(rng.getrandbits(80)),
            "gas": hex(21_000 + rng.randrange(500_000)),
            "maxFeePerGas": hex(fee),
            "maxPriorityFeePerGas": hex(fee // 10),
            "input": "0xa9059cbb" + "00" * 64,
            "type": "0x2",
            "chainId": hex(chain_id),
        }
    )


def _malformed(i: int, variant: int, chain_id: int, seen_ms: int) -> Outgoing:
    """One of five ways a tx_raw message can be wrong; each names the output that must hold it."""
    good = [(HEADER_CHAIN_ID, str(chain_id).encode()), (HEADER_SEEN_MS, str(seen_ms).encode())]
    if variant == 0:
        text = f'{{"hash": "0xbroken{i}", "from": '.encode()
        return Outgoing(None, text, good, "normalize", text.decode())
    if variant == 1:
        text = (
            f'{{"hash":"0x{i:064x}","from":"0x{i:040x}","nonce":"0xzz","value":"0x0",'
            f'"gas":"0x5208","input":"0x"}}'
        ).encode()
        return Outgoing(f"0x{i:064x}".encode(), text, good, "normalize", text.decode())
    if variant == 2:
        value = f'{{"no_chain_header": {i}}}'.encode()
        return Outgoing(None, value, [(HEADER_SEEN_MS, b"1")], "source", "")
    if variant == 3:
        headers = [(HEADER_CHAIN_ID, b"1"), (HEADER_SEEN_MS, f"yesterday-{i}".encode())]
        return Outgoing(None, b"{}", headers, "source", "")
    return Outgoing(None, None, good, "source", "")


def make_workload(count: int, seed: int = 7, bad_every: int = 50) -> Workload:
    """``count`` tx_raw messages: one in ``bad_every`` malformed, about 3% of the good ones
    replacements (same chain, sender and nonce as an earlier tx, a new hash and a higher fee)."""
    rng = random.Random(seed)
    senders = [f"0x{rng.getrandbits(160):040x}" for _ in range(max(1, count // 20))]
    next_nonce: dict[tuple[int, str], int] = {}
    sent: list[tuple[int, str, int, int]] = []  # (chain, sender, nonce, fee) of good txs
    groups: dict[tuple[int, str, int], int] = {}
    start_ms = 1_763_000_000_000
    messages: list[Outgoing] = []
    for i in range(count):
        seen_ms = start_ms + i * 3
        chain_id = CHAINS[i % len(CHAINS)]
        if i % bad_every == bad_every - 1:
            messages.append(_malformed(i, (i // bad_every) % 5, chain_id, seen_ms))
            continue
        if sent and rng.random() < 0.03:
            chain_id, sender, nonce, fee = rng.choice(sent)
            fee = fee * 11 // 10 + 1
        else:
            sender = rng.choice(senders)
            nonce = next_nonce.get((chain_id, sender), 0)
            next_nonce[(chain_id, sender)] = nonce + 1
            fee = 10**9 + rng.randrange(10**11)
        sent.append((chain_id, sender, nonce, fee))
        groups[(chain_id, sender, nonce)] = groups.get((chain_id, sender, nonce), 0) + 1
        tx_hash = f"0x{rng.getrandbits(256):064x}"
        item = RawItem(
            "tx",
            chain_id,
            f"ws:node{i % 3}",
            seen_ms,
            _tx_json(chain_id, tx_hash, sender, nonce, fee, rng),
        )
        msg = raw_message(item)
        messages.append(Outgoing(msg.key, msg.value, list(msg.headers), "tx", tx_hash))
    detections = {
        replacement_key(chain_id, sender, nonce, nth)
        for (chain_id, sender, nonce), n in groups.items()
        for nth in range(2, n + 1)
    }
    return Workload(messages, detections)


def produce(bootstrap: str, topic: str, messages: Iterable[Outgoing]) -> None:
    """Write ``messages`` to ``topic``; a message the source will reject gets its
    ``topic/partition@offset`` as identity (only known once the broker has placed it)."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures: list[str] = []

    def placed(out: Outgoing) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                failures.append(str(err))
            elif out.expect == "source":
                out.identity = f"kafka:{msg.topic()}/{msg.partition()}@{msg.offset()}"

        return on_delivery

    for out in messages:
        while True:
            try:
                producer.produce(
                    topic,
                    value=out.value,
                    key=out.key,
                    headers=producer_headers(out.headers),
                    on_delivery=placed(out),
                )
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush()
    if failures:
        raise RuntimeError(f"{len(failures)} workload messages not delivered: {failures[0]}")


def expected_identities(messages: Iterable[Outgoing]) -> Counter[str]:
    return Counter(out.identity for out in messages)
