"""Creating and configuring Scorpius's Kafka topics (``scorpius kafka create-topics``).

Idempotent: missing topics are created; existing ones get the configured retention and message
size, and more partitions if they have fewer than configured. Partitions are never removed (Kafka
cannot) and a topic's replication is left as it is (a reassignment is an operator's decision);
both differences are reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str]


@dataclass(frozen=True)
class TopicPlan:
    """The topics Scorpius reads and writes (``streams``) and its compacted rules topic."""

    streams: tuple[str, ...]
    rules: str
    partitions: int
    replication: int
    retention_hours: float
    max_message_bytes: int


def topic_specs(plan: TopicPlan) -> list[TopicSpec]:
    """Every stream topic with the planned partitions and retention, and the rules topic."""
    config = {
        "cleanup.policy": "delete",
        "retention.ms": str(int(plan.retention_hours * 3_600_000)),
        # A block with receipts and traces is often larger than Kafka's 1 MB default.
        "max.message.bytes": str(plan.max_message_bytes),
    }
    if plan.replication >= 3:
        # With acks=all, a write survives the loss of one replica.
        config["min.insync.replicas"] = "2"
    specs = [
        TopicSpec(name, plan.partitions, plan.replication, dict(config)) for name in plan.streams
    ]
    # Rule sets published by the API: one message per rule name, compacted (the newest of each
    # stays for good), one partition so every worker reads them in publishing order.
    rules = {"cleanup.policy": "compact", "max.message.bytes": str(plan.max_message_bytes)}
    specs.append(TopicSpec(plan.rules, 1, plan.replication, rules))
    return specs


def ensure_topics(add_config: dict[str, Any], plan: TopicPlan) -> list[str]:
    """Make the brokers' topics match ``topic_specs(plan)``; returns one line per action taken.
    ``add_config``: librdkafka settings (``bootstrap.servers``, security)."""
    admin = AdminClient(add_config)
    existing = admin.list_topics(timeout=TIMEOUT_S).topics
    specs = topic_specs(plan)
    report: list[str] = []

    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        new = [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication,
                config=s.config,
            )
            for s in missing
        ]
        for name, future in admin.create_topics(new, operation_timeout=TIMEOUT_S).items():
            future.result(timeout=TIMEOUT_S)
            spec = next(s for s in missing if s.name == name)
            report.append(
                f"created {name}: {spec.partitions} partitions, replication {spec.replication}"
            )

    present = [spec for spec in specs if spec.name in existing]
    grow: list[NewPartitions] = []
    for spec in present:
        metadata = existing[spec.name]
        have = len(metadata.partitions)
        if have < spec.partitions:
            grow.append(NewPartitions(spec.name, spec.partitions))
        elif have > spec.partitions:
            report.append(f"{spec.name}: has {have} partitions, more than {spec.partitions}; kept")
        replicas = min((len(p.replicas) for p in metadata.partitions.values()), default=0)
        if replicas != spec.replication:
            report.append(
                f"{spec.name}: replication is {replicas}, configured {spec.replication}; "
                "reassign partitions to change it"
            )
    if grow:
        for name, future in admin.create_partitions(grow, operation_timeout=TIMEOUT_S).items():
            future.result(timeout=TIMEOUT_S)
            report.append(
                f"{name}: partitions raised to {plan.partitions} "
                "(keys now map to other partitions; per-key order holds only for new messages)"
            )

    if present:
        resources = [
            ConfigResource(
                ConfigResource.Type.TOPIC,
                spec.name,
                incremental_configs=[
                    ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                    for key, value in sorted(spec.config.items())
                ],
            )
            for spec in present
        ]
        for resource, future in admin.incremental_alter_configs(resources).items():
            future.result(timeout=TIMEOUT_S)
            report.append(f"configured {resource.name}: retention, message size")
    return report
