"""glibc malloc settings and a periodic ``malloc_trim`` for long-running processes.

A worker's state is flat after warm-up, yet its RSS crept up (docs/robustness.md, the soak):
the growth was memory glibc had freed but kept. Two glibc behaviours cause it in a Python
process that pickles large states every epoch:

- The mmap threshold is dynamic: after a large block (a pickled snapshot, a big dict's table)
  is freed, glibc raises the threshold to its size (up to 32 MiB), so later blocks of that size
  come from the heap, whose free holes are rarely given back. A fixed threshold keeps large
  blocks in their own mappings, returned to the kernel when freed.
- Freed heap memory below the top of a heap is only returned by ``malloc_trim``, which also
  releases whole free pages inside each arena (glibc >= 2.8). Dask's workers trim periodically
  for the same reason.

On a libc without these calls (musl, macOS) both are no-ops.

Arrow (the archive's buffers) has its own allocator: pyarrow's default, mimalloc, kept the pages
it had freed (its region grew about 3 MB a minute in the soak while Arrow's live bytes stayed
flat). ``use_arrow_pool("system")`` puts Arrow on glibc malloc, which the trimmer trims.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

from connectors.background import BackgroundThread

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None
    return libc


def fix_mmap_threshold(size_bytes: int) -> bool:
    """Blocks of at least ``size_bytes`` get their own mapping from now on (the threshold no
    longer rises); False without glibc or when ``size_bytes`` is 0."""
    libc = _glibc()
    if libc is None or size_bytes <= 0:
        return False
    if not libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(size_bytes)):
        log.warning("glibc refused an mmap threshold of %d bytes", size_bytes)
        return False
    return True


def use_arrow_pool(backend: str) -> str:
    """Makes ``backend`` (system, mimalloc, jemalloc; "" leaves pyarrow's default) Arrow's
    default memory pool; returns the backend in use. Call it before Arrow allocates."""
    import pyarrow

    if backend:
        pools = {
            "system": pyarrow.system_memory_pool,
            "mimalloc": pyarrow.mimalloc_memory_pool,
            "jemalloc": pyarrow.jemalloc_memory_pool,
        }
        if backend not in pools:
            raise ValueError(f"unknown Arrow memory pool {backend!r}: one of {sorted(pools)}")
        pyarrow.set_memory_pool(pools[backend]())
    name: str = pyarrow.default_memory_pool().backend_name
    return name


class Mallinfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc >= 2.33)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_stats() -> Mallinfo2 | None:
    """glibc's allocation counters summed over its arenas; None without ``mallinfo2``."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = Mallinfo2
    stats: Mallinfo2 = libc.mallinfo2()
    return stats


class MallocTrimmer(BackgroundThread):
    """Calls ``malloc_trim(0)`` every ``interval_s`` on a daemon thread."""

    def __init__(self, interval_s: float) -> None:
        super().__init__("malloc-trim", join_timeout_s=5)
        self._interval_s = interval_s
        self._libc = _glibc()

    def start(self) -> None:
        if self._libc is not None and self._interval_s > 0:
            super().start()

    def stop(self) -> None:
        if self._thread.is_alive():
            super().stop()

    def _run(self) -> None:
        assert self._libc is not None
        while not self._stopping.wait(self._interval_s):
            self._libc.malloc_trim(0)
