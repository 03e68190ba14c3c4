"""The flow's source, chosen by configuration: replay (default), rpc, or kafka."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.kafka import kafka_raw_input
from connectors.replay import ReplaySource
from connectors.rpc import RpcSource, endpoints_from_config
from flows.config import Config, ConfigError
from operators.dedup import dedup_items
from operators.records import DeadLetter, RawItem


def raw_input(step_id: str, flow: Dataflow, cfg: Config) -> Stream[RawItem | DeadLetter]:
    kind = cfg.source.kind
    if kind == "replay":
        source = ReplaySource(
            cfg.source.replay_path, cfg.source.replay_speed, cfg.source.replay_partitions
        )
        return op.input(step_id, flow, source)
    if kind == "rpc":
        return live_input(step_id, flow, cfg)
    if kind == "kafka":
        raws, dead = kafka_raw_input(step_id, flow, cfg.kafka)
        return op.merge(f"{step_id}_all", raws, dead)
    raise ConfigError(f"SCORPIUS_SOURCE_KIND: unknown source {kind!r} (replay, rpc, kafka)")


def live_input(step_id: str, flow: Dataflow, cfg: Config) -> Stream[RawItem | DeadLetter]:
    """Every configured (chain, URL) at once, deduped across URLs and reconnects."""
    endpoints = endpoints_from_config(cfg.rpc)
    if not endpoints:
        raise ConfigError(
            "SCORPIUS_SOURCE_KIND=rpc: no node URLs; set ETHEREUM_RPC_URLS, ARBITRUM_RPC_URLS, "
            "OPTIMISM_RPC_URLS, BASE_RPC_URLS or SCORPIUS_RPC_EXTRA"
        )
    raw = op.input(step_id, flow, RpcSource(endpoints, cfg.rpc))
    return dedup_items(f"{step_id}_dedup", raw, cfg.rpc.dedup_ttl_s, cfg.rpc.dedup_max_per_shard)
