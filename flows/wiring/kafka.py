"""Kafka from the ``kafka`` config section: the ``tx_raw`` input, topic outputs, topic creation.

Same names as the connector functions they call, with the config section in place of the
plain parameters.
"""

from __future__ import annotations

from connectors import kafka_topics
from connectors.kafka import STARTING_OFFSETS, KafkaRecordSink, RawTopic
from connectors.kafka_topics import TopicPlan
from flows.config import ConfigError, KafkaConfig, setting_name


def raw_topic(cfg: KafkaConfig) -> RawTopic:
    """Where the processing flow consumes ``tx_raw``."""
    if cfg.start_at not in STARTING_OFFSETS:
        raise ConfigError(
            f"{setting_name('kafka.start_at')}: {cfg.start_at!r} is not earliest or latest"
        )
    return RawTopic(
        brokers=cfg.brokers,
        topic=cfg.topic_raw,
        add_config={**cfg.client_settings(), "group.id": cfg.group_id},
        starting_offset=STARTING_OFFSETS[cfg.start_at],
        tail=cfg.tail,
        batch_size=cfg.batch_size,
    )


def record_sink(cfg: KafkaConfig, topic: str) -> KafkaRecordSink:
    return KafkaRecordSink(cfg.client_settings(), topic, cfg.max_message_bytes)


def topic_plan(cfg: KafkaConfig) -> TopicPlan:
    return TopicPlan(
        streams=(
            cfg.topic_raw,
            cfg.topic_enriched,
            cfg.topic_bundles,
            cfg.topic_alerts,
            cfg.topic_dead_letters,
            cfg.topic_alert_deliveries,
        ),
        rules=cfg.topic_rules,
        partitions=cfg.partitions,
        replication=cfg.replication,
        retention_hours=cfg.retention_hours,
        max_message_bytes=cfg.max_message_bytes,
    )


def ensure_topics(cfg: KafkaConfig) -> list[str]:
    return kafka_topics.ensure_topics(cfg.client_settings(), topic_plan(cfg))
