"""The rule engine the flow runs, from the ``rules`` config section.

Wiring (flows/mempool.py)::

    rules = rules_op("rules", etxs, rules_engine_factory(cfg.rules), cfg.rules.batch_size)
    alerts = op.map("to_alert", op.merge("alertable", detections, rules.matches), to_alert)
    dead = op.merge("dead_letters", ..., rules.errs)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flows.config import RulesConfig
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


def rules_engine_factory(config: RulesConfig) -> Callable[[], RuleEngine]:
    """What ``rules_op`` calls once per worker."""
    return functools.partial(engine_for, config)
