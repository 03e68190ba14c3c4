"""Kafka in and out: the ``tx_raw`` source, and sinks for every record Scorpius publishes.

Topics, message keys and why (Kafka keeps order per key, within a partition):

- ``tx_raw``: value = the raw JSON-RPC object as the node sent it; key = its ``hash`` (tx hash,
  or block hash for ``kind=block``); headers ``chain_id``, ``seen_ms`` (first-seen unix ms),
  ``source`` and ``kind``. Keying by hash puts every sighting of one tx (several nodes, several
  ingest replicas) on one partition, in the order the broker took them, so one worker sees them
  all and in that order.
- ``tx_enriched``: ``EnrichedTx`` keyed by tx hash: every version of a tx (pending, mined) on one
  partition. The pending one comes from ``tx_raw``'s tx and the mined one from its block, possibly
  through another worker, so their order is not guaranteed: a consumer upserts by key and lets a
  mined record (``tx.block_number`` set) win over a pending one.
- ``mev_bundles``: ``Detection`` keyed by ``Detection.key``, the detector's natural key: the same
  finding re-emitted after a restart has the same key, so consumers de-duplicate by key.
- ``alerts``: ``Alert`` / ``RuleMatch`` keyed by their ``key`` (natural too), same reasoning.
- dead letters: ``DeadLetter`` keyed by a digest of (stage, reason, payload): a letter re-sent
  after a restart has the same key, so it is recognisable as a repeat.
- ``alert_deliveries``: the alert dispatcher's delivery outcome records (JSON objects) keyed by
  alert key, one alert's outcomes in order (connectors/alerts/delivery_topic.py).

Delivery is at least once. Bytewax recovery snapshots the consumed offset of each ``tx_raw``
partition at the end of every epoch; sinks wait for the broker's acknowledgement of each batch
before the epoch can complete (and raise, ending the run for a restart from recovery, if the
broker refuses one after librdkafka's own retries), so a restart never loses a message but may
write the last epoch's output again. Producers are idempotent (``enable.idempotence``: no
duplicates or reordering from librdkafka's retries); the repeats of a restart are removed
downstream by key, as above. Every header value is UTF-8 text; every value is JSON from
``records.encode_json`` (integers exact however large).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec
from bytewax.connectors.kafka import (
    KafkaError,
    KafkaSinkMessage,
    KafkaSource,
    KafkaSourceMessage,
)
from bytewax.inputs import FixedPartitionedSource
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Producer
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import Message as ConfluentMessage

from connectors.stoppable import StoppableSource
from operators.bounds import chain_id_reason
from operators.clock import now_ms as _now_ms
from operators.metrics import SINK_ERRORS, SINK_WRITES, SOURCE_MESSAGES
from operators.records import (
    Alert,
    DeadLetter,
    Detection,
    EnrichedTx,
    RawItem,
    RuleMatch,
    encode_json,
)

log = logging.getLogger(__name__)

STAGE = "kafka_source"
# Room in message.max.bytes for the record's framing (batch header, lengths, headers).
FRAMING_BYTES = 1024
HEADER_CHAIN_ID = "chain_id"
HEADER_SEEN_MS = "seen_ms"
HEADER_SOURCE = "source"
HEADER_KIND = "kind"

RawMessage = KafkaSourceMessage[bytes | None, bytes | None]
# Digits a chain id or unix-ms header may have (2**64 has 20).
MAX_DIGITS = 20
SinkMessage = KafkaSinkMessage[bytes | None, bytes]
Publishable = RawItem | EnrichedTx | Detection | Alert | RuleMatch | DeadLetter

# Idempotent producer: acks from all in-sync replicas, retries that cannot duplicate or reorder.
PRODUCER_SETTINGS = {
    "enable.idempotence": "true",
    "acks": "all",
    "linger.ms": "5",
    "compression.type": "lz4",
}


# --- tx_raw: RawItem <-> message --------------------------------------------------------------


class _Hashed(msgspec.Struct):
    hash: str | None = None


_decode_hash = msgspec.json.Decoder(_Hashed).decode


def raw_key(item: RawItem) -> bytes | None:
    """The payload's ``hash`` field (tx or block hash), or None when it has none to read.

    A payload that is not a JSON object with a string ``hash`` still goes to ``tx_raw`` (without a
    key, so to any partition): whether it is usable is the normalizer's call, not the ingest's.
    """
    try:
        tx_hash = _decode_hash(item.payload).hash
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return tx_hash.lower().encode() if tx_hash else None


def raw_message(item: RawItem) -> SinkMessage:
    """The ``tx_raw`` message of a RawItem: payload untouched, provenance in headers."""
    return KafkaSinkMessage(
        key=raw_key(item),
        value=item.payload,
        headers=[
            (HEADER_CHAIN_ID, str(item.chain_id).encode()),
            (HEADER_SEEN_MS, str(item.seen_ms).encode()),
            (HEADER_SOURCE, item.source.encode()),
            (HEADER_KIND, item.kind.encode()),
        ],
    )


def _where(msg: RawMessage) -> str:
    return f"kafka:{msg.topic}/{msg.partition}@{msg.offset}"


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "backslashreplace")


def decode_raw(msg: RawMessage) -> RawItem | DeadLetter:
    """A ``tx_raw`` message as a RawItem, or a dead letter saying what is wrong with it.

    Only the envelope is checked here (value present, headers well formed); the payload's JSON
    is read once, by the normalizer, which dead-letters what it cannot use. A missing
    ``seen_ms`` falls back to the message timestamp (when the producer wrote it), a missing
    ``kind`` to "tx" and a missing ``source`` to "kafka"; ``chain_id`` is required.
    """
    try:
        headers = {key: value.decode() for key, value in msg.headers if value is not None}
    except UnicodeDecodeError as exc:
        return _source_letter(msg, f"bad header: not UTF-8 ({exc})")
    if not msg.value:
        return _source_letter(msg, "empty value: a tx_raw message must carry the RPC JSON")
    chain = headers.get(HEADER_CHAIN_ID)
    if chain is None:
        return _source_letter(msg, f"missing header: {HEADER_CHAIN_ID}")
    # Bounded before int(): Python refuses to convert strings of thousands of digits.
    if not (chain.isdecimal() and len(chain) <= MAX_DIGITS) or chain_id_reason(int(chain)):
        return _source_letter(
            msg, f"bad header: {HEADER_CHAIN_ID}={chain[:40]!r} is not a chain id"
        )
    chain_id = int(chain)
    seen = headers.get(HEADER_SEEN_MS)
    if seen is None:
        seen_ms = _message_time_ms(msg)
        if seen_ms is None:
            reason = f"missing header: {HEADER_SEEN_MS} (and the message has no timestamp)"
            return _source_letter(msg, reason, chain_id)
    elif seen.isdecimal() and len(seen) <= MAX_DIGITS:
        seen_ms = int(seen)  # its range is the normalizer's check, as for every source
    else:
        return _source_letter(
            msg, f"bad header: {HEADER_SEEN_MS}={seen[:40]!r} is not unix ms", chain_id
        )
    kind = headers.get(HEADER_KIND, "tx")
    source = headers.get(HEADER_SOURCE, "kafka")
    return RawItem(kind=kind, chain_id=chain_id, source=source, seen_ms=seen_ms, payload=msg.value)


def _message_time_ms(msg: RawMessage) -> int | None:
    if msg.timestamp is not None and msg.timestamp[1] > 0:
        return msg.timestamp[1]
    return None


def _source_letter(msg: RawMessage, reason: str, chain_id: int | None = None) -> DeadLetter:
    return DeadLetter(
        stage=STAGE,
        reason=f"{reason} ({_where(msg)})",
        payload=_text(msg.value),
        source=_where(msg),
        chain_id=chain_id,
        at_ms=_now_ms(),
    )


def consume_error_letter(error: KafkaError[bytes | None, bytes | None]) -> DeadLetter:
    """A consumer error as a dead letter (librdkafka recovers by itself; this keeps it visible)."""
    return _source_letter(error.msg, f"consume error: {error.err.str()}")


# --- outputs: record -> message ---------------------------------------------------------------


def _letter_key(letter: DeadLetter) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for part in (letter.stage, letter.reason, letter.payload):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest().encode()


def record_key(record: Publishable) -> bytes | None:
    """The message key of a record, as the module docstring lays out."""
    if isinstance(record, RawItem):
        return raw_key(record)
    if isinstance(record, EnrichedTx):
        return record.tx.hash.encode()
    if isinstance(record, Detection | Alert | RuleMatch):
        return record.key.encode()
    if isinstance(record, DeadLetter):
        return _letter_key(record)
    raise TypeError(f"no Kafka encoding for {type(record).__name__}")


def _chain_of(record: Publishable) -> int | None:
    if isinstance(record, EnrichedTx):
        return record.tx.chain_id
    return record.chain_id


def to_message(record: Publishable) -> SinkMessage:
    """The message for one record: ``tx_raw`` framing for RawItem, keyed JSON for the rest."""
    if isinstance(record, RawItem):
        return raw_message(record)
    chain_id = _chain_of(record)
    headers = [] if chain_id is None else [(HEADER_CHAIN_ID, str(chain_id).encode())]
    return KafkaSinkMessage(key=record_key(record), value=encode_json(record), headers=headers)


def _size(msg: SinkMessage) -> int:
    headers = sum(len(k) + len(v or b"") for k, v in msg.headers)
    return len(msg.value) + len(msg.key or b"") + headers + FRAMING_BYTES


def fitted_message(record: Publishable, max_bytes: int, topic: str) -> SinkMessage | None:
    """``to_message(record)`` within the topic's ``max_bytes`` (the producer would refuse it,
    and a refused produce stops the flow). A dead letter too large keeps a shorter payload and
    says so in its reason; any other record too large is not published, and is logged and
    counted in ``scorpius_sink_errors`` (its other sinks still have it)."""
    msg = to_message(record)
    size = _size(msg)
    if size <= max_bytes:
        return msg
    if isinstance(record, DeadLetter):
        payload = record.payload
        keep = max(0, len(payload) - (size - max_bytes))
        while True:
            shorter = msgspec.structs.replace(
                record,
                reason=f"{record.reason} (payload cut to {keep} of {len(payload)} chars for Kafka)",
                payload=payload[:keep],
            )
            msg = to_message(shorter)
            if _size(msg) <= max_bytes or keep == 0:
                return msg
            keep //= 2  # JSON escapes made it longer than its characters
    log.error(
        "not published to %s: %s of %d bytes is over max_message_bytes=%d",
        topic,
        type(record).__name__,
        size,
        max_bytes,
    )
    SINK_ERRORS.labels(f"kafka:{topic}").inc()
    return None


# --- bytewax source ---------------------------------------------------------------------------

RawConsumed = RawMessage | KafkaError[bytes | None, bytes | None]


# Where a source with no recovered offset begins.
STARTING_OFFSETS = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}


@dataclass(frozen=True)
class RawTopic:
    """Where ``kafka_raw_input`` reads: bytewax's ``KafkaSource`` arguments, plainly.

    ``add_config`` holds the librdkafka settings (security, ``group.id``); ``starting_offset``
    is one of ``STARTING_OFFSETS``' values; ``tail`` false ends the input at the topic's end.
    """

    brokers: tuple[str, ...]
    topic: str
    add_config: dict[str, str]
    starting_offset: int
    tail: bool
    batch_size: int


def raw_source(
    where: RawTopic, stop: threading.Event | None = None
) -> FixedPartitionedSource[RawConsumed, Any]:
    """``tx_raw`` as bytewax's ``KafkaSource``: one partition per Kafka partition, consumer errors
    as items (``raise_on_errors=False``); every partition ends once ``stop`` is set."""
    source: FixedPartitionedSource[RawConsumed, Any] = KafkaSource(
        list(where.brokers),
        [where.topic],
        tail=where.tail,
        starting_offset=where.starting_offset,
        add_config=where.add_config,
        batch_size=where.batch_size,
        raise_on_errors=False,
    )
    return source if stop is None else StoppableSource(source, stop)


def decode_batch(batch: list[RawMessage]) -> list[RawItem | DeadLetter]:
    """Messages as RawItems (or dead letters), per batch rather than per message: one Python call,
    and one metric update per chain."""
    items = [decode_raw(msg) for msg in batch]
    per_chain = Counter(item.chain_id for item in items if isinstance(item, RawItem))
    for chain_id, n in per_chain.items():
        SOURCE_MESSAGES.labels("kafka", str(chain_id)).inc(n)
    return items


# --- bytewax sink -----------------------------------------------------------------------------


class DeliveryFailed(RuntimeError):
    """The broker did not take messages even after librdkafka's retries (delivery.timeout.ms)."""


class _TopicPartition(StatelessSinkPartition[SinkMessage]):
    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._failures: list[str] = []
        label = f"kafka:{topic}"
        self._written = SINK_WRITES.labels(label)
        self._errors = SINK_ERRORS.labels(label)

    def _on_delivery(self, err: ConfluentError | None, msg: ConfluentMessage) -> None:
        if err is not None:
            self._failures.append(err.str())

    def write_batch(self, items: list[SinkMessage]) -> None:
        produce = self._producer.produce
        for msg in items:
            headers: list[tuple[str, str | bytes | None]] = list(msg.headers)
            while True:
                try:
                    produce(
                        self._topic,
                        value=msg.value,
                        key=msg.key,
                        headers=headers,
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    # The local queue is full: let deliveries drain it, then try again.
                    self._producer.poll(0.05)
        # The epoch may only complete once the broker holds the batch (at least once).
        self._producer.flush()
        self._written.inc(len(items) - len(self._failures))
        if self._failures:
            failures, self._failures = self._failures, []
            self._errors.inc(len(failures))
            raise DeliveryFailed(
                f"{len(failures)} messages to {self._topic} not delivered: {failures[0]}"
            )

    def close(self) -> None:
        self._producer.flush()


class KafkaRecordSink(DynamicSink[SinkMessage]):
    """One idempotent producer per worker, writing to one topic and checking every delivery."""

    def __init__(self, add_config: dict[str, str], topic: str, max_message_bytes: int) -> None:
        self._settings = {
            **add_config,
            **PRODUCER_SETTINGS,
            "message.max.bytes": str(max_message_bytes),
        }
        self._topic = topic

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TopicPartition:
        return _TopicPartition(Producer(self._settings), self._topic)
