"""The process's malloc settings and trimmer from the ``memory`` section (every long-running
command: run, worker, serve)."""

from __future__ import annotations

from connectors.allocator import MallocTrimmer, fix_mmap_threshold
from flows.config import MemoryConfig


def start_memory_care(cfg: MemoryConfig) -> MallocTrimmer:
    """Fixes the mmap threshold and starts the periodic trim; ``stop()`` the result at exit."""
    fix_mmap_threshold(cfg.mmap_threshold_bytes)
    trimmer = MallocTrimmer(cfg.trim_interval_s)
    trimmer.start()
    return trimmer
