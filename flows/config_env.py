"""Reading settings dataclasses from environment variables and a YAML document, and listing them.

A field's environment name is ``<prefix><FIELD>`` (nested dataclasses add ``<FIELD>_``) unless
``env(...)`` names another. Precedence: environment, then the document, then the default.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting is missing or has a value of the wrong form."""


def env(name: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field whose environment variable is ``name`` rather than the derived one."""
    if default is dataclasses.MISSING and "default_factory" not in kwargs:
        return field(metadata={"env": name}, **kwargs)
    return field(default=default, metadata={"env": name}, **kwargs)


def secret(default: str = "", name: str | None = None) -> Any:
    """A field that holds a credential: never printed, listed or put in an error message."""
    metadata: dict[str, Any] = {"secret": True}
    if name:
        metadata["env"] = name
    return field(default=default, repr=False, metadata=metadata)


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
    except (TypeError, ValueError):
        shown = "the value" if "secret" in name else repr(value)
        raise ConfigError(f"{name}: cannot read {shown} as {typ.__name__}") from None
    return value


def build(cls: type, prefix: str, environ: Mapping[str, str], doc: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub = doc.get(f.name) or {}
            if not isinstance(sub, Mapping):
                raise ConfigError(f"config file: section {f.name!r} must be a mapping")
            values[f.name] = build(typ, f"{prefix}{f.name.upper()}_", environ, sub)  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        where = name if not f.metadata.get("secret") else f"{name} (secret, value not shown)"
        if name in environ:
            values[f.name] = _parse(environ[name], typ, where)
        elif f.metadata.get("secret") and f"{name}_FILE" in environ:
            values[f.name] = _read_secret_file(environ[f"{name}_FILE"], f"{name}_FILE")
        elif f.name in doc:
            values[f.name] = _parse(doc[f.name], typ, where)
    return cls(**values)


def _read_secret_file(path: str, name: str) -> str:
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        # The path is not secret, the content is: the message names only the path.
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None


class Setting(typing.NamedTuple):
    """One row of the settings table (docs/settings.md)."""

    name: str
    default: str
    secret: bool
    doc: str


def settings_table(cls: type, prefix: str, root: Path) -> list[Setting]:
    """Every setting: environment name, default, whether it is secret, and the comment above it."""
    rows: list[Setting] = []
    hints = typing.get_type_hints(cls)
    docs = _field_comments(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            rows.extend(settings_table(typ, f"{prefix}{f.name.upper()}_", root))  # type: ignore[arg-type]
            continue
        name = f.metadata.get("env", f"{prefix}{f.name.upper()}")
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ""
        shown = repr(default).replace(str(root) + os.sep, "")
        shown = shown.replace(str(Path.home()), "~")
        rows.append(Setting(name, shown, bool(f.metadata.get("secret")), docs.get(f.name, "")))
    return rows


def _field_comments(cls: type) -> dict[str, str]:
    """The ``#`` comment lines right above each field of a config dataclass: its documentation,
    kept next to the field so that code and docs/settings.md cannot drift apart."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    docs: dict[str, str] = {}
    pending: list[str] = []
    group = False  # fields right below a commented one, without a blank line, share its comment
    for line in lines[1:]:
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("#").strip())
            continue
        head = text.split(":", 1)[0]
        if ":" in text and head.isidentifier():
            if pending:
                docs[head] = " ".join(pending)
                group = True
            elif group:
                docs[head] = "See above."
        else:
            group = False
        pending = []
    return docs


def env_name(cls: type, path: str, prefix: str) -> str:
    """The environment name of the field at dotted ``path`` ("rpc.extra") of dataclass ``cls``."""
    section, _, rest = path.partition(".")
    f = next(f for f in dataclasses.fields(cls) if f.name == section)
    if rest:
        hints = typing.get_type_hints(cls)
        return env_name(hints[section], rest, f"{prefix}{section.upper()}_")
    return str(f.metadata.get("env", f"{prefix}{section.upper()}"))
