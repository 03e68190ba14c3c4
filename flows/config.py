"""The flow's one typed configuration, from environment variables and an optional YAML file.

Every setting is a dataclass field with an environment name (``SCORPIUS_<SECTION>_<FIELD>`` unless
``env(...)`` names another, such as the seed's ``ETHEREUM_RPC_URLS``). Precedence: environment, then
the YAML file named by ``SCORPIUS_CONFIG`` (sections as mappings), then the default. The flow reads
the environment here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SAMPLE = PACKAGE_ROOT / "connectors" / "sample" / "mainnet.jsonl.gz"
EXAMPLE_RULES = PACKAGE_ROOT / "rules" / "examples"


class ConfigError(ValueError):
    """A setting is missing or has a value of the wrong form."""


def env(name: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field whose environment variable is ``name`` rather than the derived one."""
    if default is dataclasses.MISSING and "default_factory" not in kwargs:
        return field(metadata={"env": name}, **kwargs)
    return field(default=default, metadata={"env": name}, **kwargs)


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "replay"  # replay | rpc | kafka
    replay_path: str = str(BUNDLED_SAMPLE)
    # 0 replays as fast as possible; 1.0 keeps recorded spacing; 10 is ten times faster.
    replay_speed: float = 0.0
    replay_partitions: int = 4


@dataclass(frozen=True)
class DetectConfig:
    # A replacement is the same (chain, sender, nonce) again inside this much event time.
    replacement_window_s: float = 300.0
    # How long the event clock waits for out-of-order items before a window may close.
    watermark_wait_s: float = 10.0
    # A bump below this fraction of the old fee cap is not a replacement any node accepts (10%).
    min_fee_bump: float = 0.10


@dataclass(frozen=True)
class RulesConfig:
    dir: str = str(EXAMPLE_RULES)
    batch_size: int = 512
    # Sandbox of each rule module (rules/README.md, "Limits").
    memory_mb: int = 64
    fuel_per_call: int = 2_000_000
    fuel_per_tx: int = 200_000
    # Faults (trap, fuel exhausted) before a module is disabled until its file changes.
    max_strikes: int = 3
    # How often the rules directory is checked for changes (between batches).
    reload_interval_s: float = 1.0


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "out"
    # Where the Parquet archive goes: a folder path, file://..., or s3://bucket/prefix.
    archive_url: str = ""
    archive_compression: str = "zstd"
    archive_roll_rows: int = 100_000
    archive_roll_seconds: float = 60.0
    console: bool = True

    @property
    def archive(self) -> str:
        return self.archive_url or str(Path(self.dir) / "archive")


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def _parse(value: Any, typ: Any, name: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None or value == "":
            return None
        return _parse(value, args[0], name)
    if origin in (tuple, list):
        (item_type, *_) = typing.get_args(typ) or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(
            _parse(i.strip() if isinstance(i, str) else i, item_type, name)
            for i in items
            if not (isinstance(i, str) and not i.strip())
        )
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if typ in (int, float, str):
            return typ(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {value!r} as {typ.__name__}") from exc
    return value


def _build(cls: type, prefix: str, environ: Mapping[str, str], doc: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub = doc.get(f.name) or {}
            if not isinstance(sub, Mapping):
                raise ConfigError(f"config file: section {f.name!r} must be a mapping")
            values[f.name] = _build(typ, f"{prefix}{f.name.upper()}_", environ, sub)  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        if name in environ:
            values[f.name] = _parse(environ[name], typ, name)
        elif f.name in doc:
            values[f.name] = _parse(doc[f.name], typ, f"{prefix}{f.name.upper()}")
    return cls(**values)


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build the config from ``environ`` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    doc: Mapping[str, Any] = {}
    path = environ.get("SCORPIUS_CONFIG")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"SCORPIUS_CONFIG={path}: {exc}") from exc
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"SCORPIUS_CONFIG={path}: the top level must be a mapping")
        doc = loaded
    config: Config = _build(Config, "SCORPIUS_", environ, doc)
    return config


def settings_table(cls: type = Config, prefix: str = "SCORPIUS_") -> list[tuple[str, str]]:
    """(environment name, default) of every setting: what README's configuration table lists."""
    rows: list[tuple[str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            rows.extend(settings_table(typ, f"{prefix}{f.name.upper()}_"))  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ""
        rows.append((name, repr(default)))
    return rows
