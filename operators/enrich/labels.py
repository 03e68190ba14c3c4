"""Address labels per chain, read from YAML or JSON files users can extend.

A label file maps chain id → address → label. A label is a string, or a mapping with ``label``
and optionally ``category`` (router, token, stablecoin, bridge, ...), ``protocol`` (the
protocol a router's swaps belong to, such as ``sushiswap``; routers that serve several pool
families, like Uniswap's, leave it out), ``decimals`` (a token's ERC-20 decimals, so amounts can be
shown in token units) and ``commands`` (the layout of a router's
``execute(commands, inputs)``: ``uniswap`` for Universal Routers; any other value, such as
``aerodrome``, marks a fork whose commands are not Uniswap's, so they are not read)::

    1:
      "0x7a250d5630b4cf539739df2c5dacb4c659f2488d": {label: "Uniswap V2: Router02", category: router}
      "0xdac17f958d2ee523a2206206994597c13d831ec7": {label: "USDT", category: stablecoin}
    8453:
      "0x4200000000000000000000000000000000000006": WETH

Every ``*.yaml``, ``*.yml`` and ``*.json`` file of a folder is read in name order; a later file
(or a later folder, such as the user's extra labels dir) overrides an address it repeats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LabelFileError(ValueError):
    """A label file that does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class Label:
    label: str
    category: str | None = None
    protocol: str | None = None
    commands: str | None = None
    decimals: int | None = None


Labels = dict[int, dict[str, Label]]


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise LabelFileError(f"{path}: {exc}") from exc


def _label(path: Path, chain: int, address: str, value: Any) -> Label:
    where = f"{path}: chain {chain}, {address}"
    if isinstance(value, str):
        return Label(value)
    if not isinstance(value, Mapping) or not isinstance(value.get("label"), str):
        raise LabelFileError(f"{where}: a label is a string or a mapping with a 'label' string")
    unknown = set(value) - {"label", "category", "protocol", "commands", "decimals"}
    if unknown:
        raise LabelFileError(f"{where}: unknown keys {sorted(unknown)}")
    category, protocol = value.get("category"), value.get("protocol")
    commands = value.get("commands")
    if not all(isinstance(v, str | None) for v in (category, protocol, commands)):
        raise LabelFileError(f"{where}: 'category', 'protocol' and 'commands' must be strings")
    decimals = value.get("decimals")
    if decimals is not None and (
        not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 77
    ):
        raise LabelFileError(f"{where}: 'decimals' must be an integer from 0 to 77")
    return Label(value["label"], category, protocol, commands, decimals)


def _address(key: Any) -> str | None:
    """The lowercase address of a key; YAML reads an unquoted 0x... key as an int, so take that too."""
    if isinstance(key, str) and _ADDRESS.match(key):
        return key.lower()
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < 1 << 160:
        return f"0x{key:040x}"
    return None


def read_label_file(path: Path) -> Labels:
    doc = _read(path)
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise LabelFileError(f"{path}: the top level must map chain ids to address mappings")
    labels: Labels = {}
    for chain_key, entries in doc.items():
        try:
            chain = int(chain_key)
        except (TypeError, ValueError):
            raise LabelFileError(f"{path}: chain id {chain_key!r} is not an integer") from None
        if not isinstance(entries, Mapping):
            raise LabelFileError(f"{path}: chain {chain}: expected a mapping of addresses")
        for key, value in entries.items():
            address = _address(key)
            if address is None:
                raise LabelFileError(f"{path}: chain {chain}: {key!r} is not a 0x address")
            labels.setdefault(chain, {})[address] = _label(path, chain, address, value)
    return labels


def load_labels(dirs: Iterable[Path]) -> Labels:
    """Every label of every file in ``dirs``, merged in order."""
    merged: Labels = {}
    for folder in dirs:
        if not folder.is_dir():
            raise LabelFileError(f"{folder}: labels folder does not exist")
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        for path in files:
            for chain, entries in read_label_file(path).items():
                merged.setdefault(chain, {}).update(entries)
    return merged
