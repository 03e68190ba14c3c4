"""The load of ``bench/bench_e2e.py``: the bundled sample's pending txs as ``tx_raw`` messages.

Messages are framed by ``connectors.kafka.raw_message``, as the ingest job frames them (key = tx
hash; ``chain_id``, ``seen_ms``, ``source`` and ``kind`` headers), and sent with the ingest's
idempotent producer settings. ``seen_ms`` is the wall time of the send. The sample is played in
laps: message ``seq`` is sample tx ``seq % n`` with a hash that names ``seq`` (so every message is
a transaction of its own and an alert's txs can be traced back to their send times) and, from the
second lap on, a sender of its lap (``lap_sender``: the lap number over the address's first 4
bytes), so a lap looks like new users doing the same things: the same calldata, fees and nonces,
no replacement of an earlier lap's tx (another sender) and no frontrun copy of one (equal tips),
and, as in a real mempool, most senders have one pending tx rather than one per lap.

``python -m bench.e2e_workload BOOTSTRAP TOPIC TAG FIRST_SEQ RATE SECONDS SEEN_FILE`` is the
paced producer process: it prints ``{"start": unix s, "end": unix s}`` and writes the ``seen_ms``
of every message it sent to ``SEEN_FILE`` (int64, native order).
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from connectors.kafka import PRODUCER_SETTINGS, SinkMessage, raw_message
from connectors.replay import read_items
from flows.config import BUNDLED_SAMPLE
from operators.records import RawItem

SOURCE = "bench:e2e"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class SampleTx:
    chain_id: int
    fields: dict[str, Any]


def lap_sender(sender: str, lap: int) -> str:
    """Lap 0 keeps the recorded sender; lap n writes n over the address's first 4 bytes."""
    return sender if lap == 0 else f"0x{lap:08x}{sender[10:]}"


def load_sample(path: Path = BUNDLED_SAMPLE) -> list[SampleTx]:
    """The recorded pending transactions of the bundled sample (blocks and traces left out)."""
    txs = []
    for item in read_items(path):
        if isinstance(item, RawItem) and item.kind == "tx":
            txs.append(SampleTx(item.chain_id, orjson.loads(item.payload)))
    return txs


class Workload:
    """Message ``seq`` is sample tx ``seq % n`` in lap ``seq // n``, with a hash naming ``seq``."""

    def __init__(self, txs: Sequence[SampleTx], tag: int) -> None:
        self._txs = txs
        self._tag = f"{tag:08x}"

    def tx_hash(self, seq: int) -> str:
        return f"0x{self._tag}{seq:056x}"

    def seq_of(self, tx_hash: str) -> int | None:
        """The ``seq`` a hash of this workload names, or None for any other hash."""
        if len(tx_hash) != 66 or tx_hash[2:10] != self._tag:
            return None
        return int(tx_hash[10:], 16)

    def message(self, seq: int, seen_ms: int) -> SinkMessage:
        lap, index = divmod(seq, len(self._txs))
        base = self._txs[index]
        fields = {
            **base.fields,
            "hash": self.tx_hash(seq),
            "from": lap_sender(base.fields["from"], lap),
        }
        item = RawItem("tx", base.chain_id, SOURCE, seen_ms, orjson.dumps(fields))
        return raw_message(item)


def _producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, **PRODUCER_SETTINGS})


def _send(producer: Producer, topic: str, msg: SinkMessage) -> None:
    headers: list[tuple[str, str | bytes | None]] = list(msg.headers)
    while True:
        try:
            producer.produce(topic, value=msg.value, key=msg.key, headers=headers)
            return
        except BufferError:
            producer.poll(0.05)


def _flush(producer: Producer, topic: str) -> None:
    if producer.flush(60) != 0:
        raise RuntimeError(f"{topic}: the broker did not take every message")


def produce_now(bootstrap: str, topic: str, workload: Workload, seqs: Iterable[int]) -> list[int]:
    """Sends ``seqs`` unpaced; their ``seen_ms``, in order."""
    producer = _producer(bootstrap)
    seen = []
    for seq in seqs:
        seen_ms = now_ms()
        _send(producer, topic, workload.message(seq, seen_ms))
        seen.append(seen_ms)
    _flush(producer, topic)
    return seen


def produce_paced(
    bootstrap: str, topic: str, workload: Workload, first_seq: int, rate: float, seconds: float
) -> tuple[float, float, array[int]]:
    """``rate`` messages per second for ``seconds``, each stamped with the time it is sent; when
    it falls behind it sends as fast as it can (its count then says so).
    Returns (start unix s, end unix s, seen_ms of every message)."""
    producer = _producer(bootstrap)
    seen = array("q")
    # At most 1 ms worth per burst, so the clock is looked at between bursts.
    burst = max(1, int(rate / 1000))
    started, start_wall = time.monotonic(), time.time()
    seq = first_seq
    while (elapsed := time.monotonic() - started) < seconds:
        due = first_seq + int(elapsed * rate)
        for _ in range(min(due - seq, burst)):
            seen_ms = now_ms()
            _send(producer, topic, workload.message(seq, seen_ms))
            seen.append(seen_ms)
            seq += 1
        producer.poll(0)
        if seq >= due:
            time.sleep(min(0.001, max(0.0, seconds - elapsed)))
    end_wall = time.time()
    _flush(producer, topic)
    return start_wall, end_wall, seen


def main(argv: Sequence[str]) -> None:
    bootstrap, topic, tag, first_seq, rate, seconds, seen_file = argv
    workload = Workload(load_sample(), int(tag))
    start, end, seen = produce_paced(
        bootstrap, topic, workload, int(first_seq), float(rate), float(seconds)
    )
    with Path(seen_file).open("wb") as out:
        seen.tofile(out)
    print(json.dumps({"start": start, "end": end}))


if __name__ == "__main__":
    main(sys.argv[1:])
