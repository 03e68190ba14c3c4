"""The process's malloc settings and trimmer from the ``memory`` section (every long-running
command: run, worker, serve)."""

from __future__ import annotations

from connectors.allocator import MallocTrimmer, fix_mmap_threshold, use_arrow_pool
from flows.config import ConfigError, MemoryConfig, setting_name


def start_memory_care(cfg: MemoryConfig) -> MallocTrimmer:
    """Fixes the mmap threshold and starts the periodic trim; ``stop()`` the result at exit."""
    try:
        use_arrow_pool(cfg.arrow_pool)
    except ValueError as exc:
        raise ConfigError(f"{setting_name('memory.arrow_pool')}: {exc}") from None
    fix_mmap_threshold(cfg.mmap_threshold_bytes)
    trimmer = MallocTrimmer(cfg.trim_interval_s)
    trimmer.start()
    return trimmer
