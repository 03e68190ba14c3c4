"""Sandboxed user rules: ABI v1 encoding, the wasmtime host, the engine and its bytewax step."""

from operators.rules.engine import RuleEngine
from operators.rules.errors import RuleLoadError
from operators.rules.host import Limits, RuleFault

__all__ = ["Limits", "RuleEngine", "RuleFault", "RuleLoadError"]
