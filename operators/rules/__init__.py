"""Sandboxed user rules: the YAML compiler, ABI v1 encoding, the wasmtime host and the engine.

The rule language users write (examples, SDK, the compiler's WAT prelude) is in ``rules/``; the
bytewax step that runs the engine is ``flows.steps.rules``."""

from operators.rules.engine import RuleEngine
from operators.rules.errors import RuleLoadError
from operators.rules.host import Limits, RuleFault

__all__ = ["Limits", "RuleEngine", "RuleFault", "RuleLoadError"]
