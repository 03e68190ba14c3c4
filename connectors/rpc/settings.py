"""How an RPC or feed session behaves: plain settings (flows/wiring builds them from the config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RpcSettings:
    """Per-connection behaviour shared by node sessions and L2 feed sessions."""

    max_frame_bytes: int
    request_timeout_s: float
    backoff_initial_s: float
    backoff_max_s: float
    wrong_chain_retry_s: float
    head_stall_s: float
    poll_interval_s: float
    pending_tx_objects: bool
    fetch_batch: int
    max_backfill_blocks: int
    # L2 feeds: a frame's senders are recovered on a pool of this many threads per partition
    # (0 or 1: inline, in the partition's thread).
    feed_recovery_threads: int
