"""The one place that builds components from ``Config``: every source, sink, engine and channel.

Connectors take plain parameters or small settings dataclasses of their own; each module here
turns a config section into them, translating a connector's own error into ``ConfigError`` with
the setting's environment name. Submodules are imported when a flow or command selects them, so
a connector's heavy dependencies load only when it is used.

- ``sources``: the flow's input by ``source.kind`` (replay, rpc, kafka, archive, dumpster)
- ``rpc``: node and L2 feed endpoints, session settings, the RPC source
- ``kafka``: the ``tx_raw`` input, topic outputs, topic creation
- ``storage``: Delta archive and ClickHouse sinks
- ``rules``: the WASM rule engine (and its Kafka rules-topic follower)
- ``alerts``: channels, router, delivery policy and the alert sink
- ``api``: ``scorpius serve``'s plain settings, feed, rule sink and app
- ``operators``: size limits, the enricher, pool factories; ``local``: the console sink
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

_T = TypeVar("_T")


def settings_of(cls: type[_T], section: object, **overrides: Any) -> _T:
    """A connector's plain settings dataclass ``cls`` filled from the config ``section``'s
    same-named fields (and ``overrides``): the connector states no defaults of its own."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in overrides]  # type: ignore[arg-type]
    return cls(**{name: getattr(section, name) for name in names}, **overrides)
