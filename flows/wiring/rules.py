"""The rule engine the flow runs, from the ``rules`` config section.

Wiring (flows/mempool.py)::

    rules = rules_op("rules", etxs, rules_engine_factory(cfg.rules, cfg.kafka), batch_size)
    alerts = op.map("to_alert", op.merge("alertable", detections, rules.oks), to_alert)
    dead = op.merge("dead_letters", ..., rules.errs)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from flows.config import KafkaConfig, RulesConfig
from operators.rules import Limits, RuleEngine


def engine_for(config: RulesConfig, directory: str | None = None) -> RuleEngine:
    """A new engine over ``config.dir`` (or ``directory``) with the configured sandbox limits."""
    return RuleEngine.from_dir(
        directory or config.dir,
        limits=Limits(
            memory_bytes=config.memory_mb << 20,
            fuel_per_call=config.fuel_per_call,
            fuel_per_tx=config.fuel_per_tx,
        ),
        max_strikes=config.max_strikes,
        reload_interval_s=config.reload_interval_s,
        cache_dir=config.cache_dir or None,
    )


def _following(config: RulesConfig, kafka: KafkaConfig, routes_path: Path | None) -> RuleEngine:
    from connectors.rule_sets import RuleTopicFollower

    # The thread lives as long as the worker's process; its writes are atomic renames, so the
    # engine (and any other worker's follower writing the same folder) never sees half a file.
    # The alert routes published on the same topic go to the routes file the alert sink follows.
    RuleTopicFollower(kafka.client_settings(), kafka.topic_rules, config.dir, routes_path).start()
    return engine_for(config)


def rules_engine_factory(
    config: RulesConfig, kafka: KafkaConfig | None = None, routes_path: Path | None = None
) -> Callable[[], RuleEngine]:
    """What ``flows.steps.rules.rules_op`` calls once per worker (following the rules topic, and
    the alert routes on it into ``routes_path``, when configured)."""
    if config.follow_topic and kafka is not None:
        return functools.partial(_following, config, kafka, routes_path)
    return functools.partial(engine_for, config)
