"""glibc malloc settings (connectors/allocator.py): each case runs in its own interpreter, since
mallopt changes the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from connectors.allocator import MallocTrimmer, _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="needs glibc")

# Frees a 16 MiB block, then allocates a 4 MiB one: does glibc give it its own mapping (counted
# in mallinfo2's hblkhd) or carve it from the heap, where its hole would outlive it?
_PROBE = textwrap.dedent(
    """
    import sys
    from connectors.allocator import fix_mmap_threshold, malloc_stats
    if sys.argv[1] == "fixed":
        assert fix_mmap_threshold(1 << 20)
    big = bytearray(16 << 20)
    del big
    before = malloc_stats().hblkhd
    block = bytearray(4 << 20)
    print(malloc_stats().hblkhd - before >= 4 << 20)
    """
)


def _own_mapping(mode: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


def test_a_fixed_threshold_keeps_large_blocks_in_their_own_mappings() -> None:
    # glibc's default raises its threshold to the size of the last large block freed, so the
    # next large block comes from the heap; a fixed one maps it (and unmaps it when freed).
    assert _own_mapping("dynamic") is False
    assert _own_mapping("fixed") is True


def test_the_trimmer_trims_on_its_interval_and_stops() -> None:
    trimmer = MallocTrimmer(0.01)
    trimmer.start()
    assert trimmer._thread.is_alive()
    trimmer.stop()
    assert not trimmer._thread.is_alive()
    idle = MallocTrimmer(0)  # interval 0: never started, and stops cleanly
    idle.start()
    idle.stop()


def test_arrow_moves_to_the_system_pool_and_an_unknown_pool_is_refused() -> None:
    probe = textwrap.dedent(
        """
        import pyarrow
        from connectors.allocator import use_arrow_pool
        print(use_arrow_pool("system"), pyarrow.array(range(1000)).buffers()[1].size > 0)
        try:
            use_arrow_pool("tcmalloc")
        except ValueError as exc:
            print(exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "system True"
    assert "unknown Arrow memory pool 'tcmalloc'" in out[1]
