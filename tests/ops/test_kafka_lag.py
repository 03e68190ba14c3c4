"""Kafka consumer lag, which the lag alert and dashboard panel read, is reported for the flow's
``tx_raw`` source: Bytewax's ``bytewax_kafka_consumer_lag`` gauge, filled from librdkafka's
statistics with the settings ``kafka_raw_input`` gives the consumer."""

from __future__ import annotations

import time

import bytewax.operators as op
import msgspec
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from connectors.kafka import raw_message
from flows.config import KafkaConfig
from flows.wiring.kafka import kafka_raw_input
from operators.records import RawItem
from tests.services.kafka import create_topic, unique_topic

MESSAGES = 400
BATCH = 20
# Slow enough that the run spans several of librdkafka's 1 s statistics intervals.
SECONDS_PER_BATCH = 0.1


def produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for n in range(MESSAGES):
        payload = msgspec.json.encode({"hash": f"0x{n:064x}"})
        msg = raw_message(RawItem("tx", 1, "ws:node", 1_763_000_000_000 + n, payload))
        headers: list[tuple[str, str | bytes | None]] = list(msg.headers)
        producer.produce(topic, value=msg.value, key=msg.key, headers=headers)
    assert producer.flush(30) == 0


@pytest.mark.service
@pytest.mark.slow
def test_consumer_lag_is_reported_and_falls_while_the_flow_catches_up(
    kafka_bootstrap: str,
) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx_raw"), partitions=1)
    produce(kafka_bootstrap, topic)
    cfg = KafkaConfig(brokers=(kafka_bootstrap,), topic_raw=topic, tail=False, batch_size=BATCH)

    def lag() -> float | None:
        # The step id label is bytewax's own path of the consume step; the topic is unique.
        return next(
            (
                sample.value
                for family in REGISTRY.collect()
                if family.name == "bytewax_kafka_consumer_lag"
                for sample in family.samples
                if sample.labels["topic"] == topic and sample.labels["partition"] == "0"
            ),
            None,
        )

    seen: list[float] = []

    def slow_batch(batch: list[RawItem]) -> list[RawItem]:
        time.sleep(SECONDS_PER_BATCH)
        value = lag()
        if value is not None:
            seen.append(value)
        return batch

    flow = Dataflow("lag")
    raws, _ = kafka_raw_input("in", flow, cfg)
    out: list[RawItem] = []
    op.output("out", op.flat_map_batch("slow", raws, slow_batch), TestingSink(out))
    run_main(flow)

    assert len(out) == MESSAGES
    behind = [value for value in seen if value > 0]
    assert behind, f"no positive lag reported during the run: {seen}"
    assert max(behind) < MESSAGES
    assert seen[-1] < max(behind), "the lag did not fall as the flow caught up"
