"""operators/LIMITS.md's table, generated from the code: defaults come from ``Config`` and the
modules' own constants, so the page cannot drift from what runs; the words come from
flows/limits.yaml.

In a row, ``{section.field}`` is that setting's default (bytes in KiB/MiB, seconds with "s"),
``{$section.field}`` its environment name, and ``{NAME}`` one of ``constants()``. The "Config env
var" column lists the settings a row's default names, or its ``note``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from flows.config import Config, setting_name

BEGIN = "<!-- limits table: scorpius config --update operators/LIMITS.md -->"
END = "<!-- end of limits table -->"
_FIELD = re.compile(r"\{(\$?)([A-Za-z_][A-Za-z_0-9]*(?:\.[a-z_0-9]+)?)\}")


class Limit(NamedTuple):
    what: str
    default: str
    over: str
    metric: str
    note: str = ""  # the env var column when the default names no setting


ROWS_FILE = Path(__file__).with_name("limits.yaml")


def rows() -> list[Limit]:
    """The page's rows, in order (flows/limits.yaml)."""
    return [
        Limit(row["limit"], row["default"], row["over"], row["metric"], row.get("note", ""))
        for row in yaml.safe_load(ROWS_FILE.read_text())
    ]


def constants() -> dict[str, Any]:
    """The limits that are module constants rather than settings, read from their modules."""
    from connectors.delta_archive import DeltaArchiveSink
    from connectors.rpc.session import DEAD_LETTER_MAX_CHARS
    from operators.enrich.swaps import MAX_DEPTH
    from operators.replacement import MAX_REPLACED_HASHES

    rows = inspect.signature(DeltaArchiveSink).parameters["max_state_rows"].default
    return {
        "DEAD_LETTER_MAX_CHARS": DEAD_LETTER_MAX_CHARS,
        "MAX_DEPTH": MAX_DEPTH,
        "MAX_REPLACED_HASHES": MAX_REPLACED_HASHES,
        "ARCHIVE_MAX_STATE_ROWS": rows,
    }


def shown(value: Any, name: str) -> str:
    """A default as the page writes it: 64 MiB, 2 000 000, 900 s."""
    if name.endswith("_bytes") or name == "DEAD_LETTER_MAX_CHARS":
        for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size and value % size == 0:
                return f"{value // size} {unit}"
    if name.endswith("_s"):
        return f"{value:g} s"
    if isinstance(value, int) and value >= 10_000:
        return f"{value:,}".replace(",", " ")
    return str(value)


def _default(path: str, cfg: Config, consts: dict[str, Any]) -> Any:
    if "." not in path:
        return consts[path]
    section, name = path.split(".")
    return getattr(getattr(cfg, section), name)


def markdown_table(cfg: Config | None = None) -> str:
    """The table for ``cfg`` (default: the defaults)."""
    cfg, consts = cfg or Config(), constants()
    lines = [
        "| Limit | Default | Config env var | Over it | Metric |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows():

        def filled(match: re.Match[str]) -> str:
            env, path = match.groups()
            if env:
                return setting_name(path)
            return shown(_default(path, cfg, consts), path.rsplit(".", 1)[-1])

        paths = [p for env, p in _FIELD.findall(row.default) if not env]
        settings = ", ".join(f"`{setting_name(p)}`" for p in paths if "." in p)
        consts_used = [p for p in paths if "." not in p and p != "ARCHIVE_MAX_STATE_ROWS"]
        env_column = row.note or settings or f"- (constant `{', '.join(consts_used)}`)"
        what = _FIELD.sub(filled, row.what)
        lines.append(
            f"| {what} | {_FIELD.sub(filled, row.default)} | {env_column} | {row.over} | {row.metric} |"
        )
    return "\n".join(lines)


def with_table(text: str) -> str:
    """``text`` with the current limits table between the markers (unchanged without them)."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{BEGIN}\n{markdown_table()}\n{END}", text)
