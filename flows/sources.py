"""The flow's source, chosen by configuration: replay (default), rpc, or kafka."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.replay import ReplaySource
from flows.config import Config, ConfigError
from operators.records import DeadLetter, RawItem


def raw_input(step_id: str, flow: Dataflow, cfg: Config) -> Stream[RawItem | DeadLetter]:
    kind = cfg.source.kind
    if kind == "replay":
        source = ReplaySource(
            cfg.source.replay_path, cfg.source.replay_speed, cfg.source.replay_partitions
        )
        return op.input(step_id, flow, source)
    raise ConfigError(f"SCORPIUS_SOURCE_KIND: unknown source {kind!r} (replay, rpc, kafka)")
