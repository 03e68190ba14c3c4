"""MEV detection: in mined blocks (from call traces) and in the mempool (from decoded swaps)."""

from operators.mev.block import analyze_block, detect_block

__all__ = ["analyze_block", "detect_block"]
