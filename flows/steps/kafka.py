"""Kafka in and out as steps: ``tx_raw`` as RawItems, and records published to a topic
(message framing, keys and delivery: connectors/kafka.py)."""

from __future__ import annotations

import threading
from typing import TypeGuard

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from bytewax.dataflow import Dataflow, Stream, operator
from bytewax.operators import BranchOut

from connectors.kafka import (
    Publishable,
    RawConsumed,
    RawMessage,
    consume_error_letter,
    decode_batch,
    fitted_message,
    raw_source,
)
from flows.config import KafkaConfig
from flows.steps.checked import Checked, split, split_errors
from flows.wiring.kafka import raw_topic, record_sink
from operators.records import RawItem


def _is_message(item: RawConsumed) -> TypeGuard[RawMessage]:
    return isinstance(item, KafkaSourceMessage)


@operator
def _consume(
    step_id: str, flow: Dataflow, cfg: KafkaConfig, stop: threading.Event | None
) -> Checked[RawMessage]:
    # bytewax's kafka input operator (same step ids, so recovery state carries over), with a
    # source that ends on ``stop``.
    consumed = op.input("kafka_input", flow, raw_source(raw_topic(cfg), stop))
    kinds: BranchOut[RawMessage, KafkaError[bytes | None, bytes | None]] = split(
        "split_err", consumed, _is_message
    )
    return Checked(kinds.trues, op.map("consume_errors", kinds.falses, consume_error_letter))


@operator
def kafka_raw_input(
    step_id: str, flow: Dataflow, cfg: KafkaConfig, stop: threading.Event | None = None
) -> Checked[RawItem]:
    """``tx_raw`` as RawItems: one bytewax source partition per Kafka partition.

    Offsets are the source's recovery state (resume with ``-r``); with ``cfg.tail`` false the
    input ends once every partition has been read to its end, and every partition ends once
    ``stop`` is set (a graceful stop). Malformed messages and consumer errors become
    ``DeadLetter(stage="kafka_source")``; nothing in a message can stop the flow.
    """
    consumed = _consume("consume", flow, cfg, stop)
    decoded: Checked[RawItem] = split_errors(
        "is_raw", op.flat_map_batch("decode", consumed.oks, decode_batch)
    )
    return Checked(decoded.oks, op.merge("dead_letters", decoded.errs, consumed.errs))


@operator
def kafka_output(step_id: str, up: Stream[Publishable], cfg: KafkaConfig, topic: str) -> None:
    """Publish records to ``topic``: RawItem as ``tx_raw`` framing, the rest as keyed JSON."""
    limit = cfg.max_message_bytes
    messages = op.filter_map("encode", up, lambda record: fitted_message(record, limit, topic))
    op.output("produce", messages, record_sink(cfg, topic))
