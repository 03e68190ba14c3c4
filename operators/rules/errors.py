"""Errors of loading rules (a load error refuses one rule file; it never stops the flow)."""

from __future__ import annotations


class RuleLoadError(ValueError):
    """A rule file cannot be loaded: bad syntax, forbidden import, wrong ABI, over a limit."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
