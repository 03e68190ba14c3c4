"""operators/LIMITS.md's table, generated from the code: defaults come from ``Config`` and the
modules' own constants, so the page cannot drift from what runs.

In a row, ``{section.field}`` is that setting's default (bytes in KiB/MiB, seconds with "s"),
``{$section.field}`` its environment name, and ``{NAME}`` one of ``constants()``. The "Config env
var" column lists the settings a row's default names, or its ``note``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, NamedTuple

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


ROWS = (
    Limit("RPC websocket frame / HTTP reply", "{rpc.max_frame_bytes}", "dead letter `oversize frame: ...`, connection re-opened", '`scorpius_source_errors{reason="oversize frame"}`, `scorpius_dead_letters`'),
    Limit("One tx object (RPC JSON, Kafka `tx_raw` value)", "{limits.max_tx_payload_bytes}", "dead letter `payload too large: N bytes > L`", '`scorpius_dead_letters{stage="normalize",reason="payload too large"}`'),
    Limit("One block bundle (body, receipts, traces)", "{limits.max_block_payload_bytes}", "dead letter `payload too large: ...`", "same"),
    Limit("Calldata of one tx (pending, in a block, or a traced call)", "{limits.max_calldata_bytes}", "dead letter `data too large in field 'input': ...` (in a block: `bad tx in block: ...`, the block stays)", "`scorpius_dead_letters{reason=\"data too large in field 'input'\"}`"),
    Limit("First-seen time / block timestamp (docs/robustness.md)", "chain's genesis to now + {limits.max_clock_skew_s}", "dead letter `timestamp out of range: ...` (stage `replay` or `normalize`), the whole item", '`scorpius_dead_letters{reason="timestamp out of range"}`'),
    Limit("Chain id, nonce, gas, block number, tx index", "EIP-2294, EIP-2681, uint64, EIP-1985, 2^32", "dead letter `chain id out of range: ...` / `quantity out of range in field '...'`", "`scorpius_dead_letters`", "- (`operators/bounds.py`)"),
    Limit("Payload kept in a normalize dead letter", "{limits.dead_letter_payload_bytes}", "payload cut, reason ends `(payload cut to K of N bytes)`", "-"),
    Limit("Payload kept in an RPC source dead letter", "{DEAD_LETTER_MAX_CHARS} (chars)", "payload cut, reason says so", "-"),
    Limit("Log data / trace input inside a block", "{limits.max_block_payload_bytes}", "dead letter of that receipt / trace, the block stays", "`scorpius_dead_letters`", "- (the block payload bound)"),
    Limit("Kafka message (topics' `max.message.bytes`, producers' `message.max.bytes`)", "{kafka.max_message_bytes}", "dead letter published with its payload cut (reason says `for Kafka`); any other record is not published to Kafka, logged as an error (its other sinks have it)", '`scorpius_sink_errors{sink="kafka:<topic>"}`'),
    Limit("Rule record fields (u32 chain, u64 nonce / times / block, u256 amounts, 20-byte addresses, hex calldata)", "ABI v1", "dead letter `unencodable: field 'value' = ~2^300 does not fit u256` (stage `rules`); the batch's other txs are evaluated", '`scorpius_dead_letters{stage="rules",reason="unencodable"}`', "-"),
    Limit("Rule sandbox: memory, fuel, strikes", "{rules.memory_mb} MiB, {rules.fuel_per_call} + {rules.fuel_per_tx}/tx, {rules.max_strikes}", "dead letter `rule fuel` / `rule trap` / `rule memory`; module disabled after the strikes (rules/README.md, \"Limits\")", "`scorpius_rule_faults{rule,fault}`"),
    Limit("Replacement window: senders per window (one window per chain and bucket of 64 senders, `operators/buckets.py`); a sender idle for `{$detect.replacement_window_s}` of event time is forgotten first", "{detect.replacement_max_senders}", "least recently active senders forgotten", '`scorpius_state_evictions{stage="replacement",limit="max_senders"}`'),
    Limit("Replacement tracker: pending nonces per (chain, sender)", "{detect.replacement_max_nonces}", "lowest nonces forgotten", '`scorpius_state_evictions{stage="replacement",limit="max_nonces"}`'),
    Limit("Replacement tracker: replaced hashes per nonce", "{MAX_REPLACED_HASHES}", "oldest forgotten (a re-gossiped loser may count again)", "-"),
    Limit("Sandwich-attempt window: pending txs per chain (and reported keys)", "{detect.sandwich_max_pending}", "earliest-arrived txs forgotten (a bracket around a forgotten victim is missed)", '`scorpius_state_evictions{stage="sandwich_attempt",limit="max_pending"\\|"max_reported"}`'),
    Limit("Frontrun-copy window: calldata shapes (by target contract) per window, one window per chain and bucket of 64 (`operators/buckets.py`) (and reported keys)", "{detect.frontrun_max_originals}", "earliest recorded shapes forgotten", '`scorpius_state_evictions{stage="frontrun_copy",limit="max_originals"\\|"max_reported"}`'),
    Limit("Quote stage: pools with cached reserves per chain (emptied by each block)", "{detect.reserves_max_pools}", "earliest-fetched pool forgotten (asked again if needed)", '`scorpius_state_evictions{stage="quote",limit="max_pools"}`'),
    Limit("Prediction linker: victims per chain, per side (alerts, block sandwiches) and reported links", "{detect.prediction_max_victims}", "earliest forgotten (besides the `prediction_horizon_s` ageing, which needs blocks to arrive)", '`scorpius_state_evictions{stage="predicted",limit="max_alert_victims"\\|"max_block_victims"\\|"max_reported"}`'),
    Limit("Source dedup: (chain, hash) per shard (64 shards per chain)", "{rpc.dedup_max_per_shard}, {rpc.dedup_ttl_s}", "oldest forgotten (a later copy of it passes as new)", '`scorpius_state_evictions{stage="dedup",limit="max_per_shard"}`'),
    Limit("Inclusion tracker: pending txs per chain", "{rpc.max_pending}, {rpc.pending_ttl_s}", "earliest reported `expired` early", '`scorpius_state_evictions{stage="inclusion",limit="max_pending"}`, `scorpius_inclusions{status="expired"}`'),
    Limit("Inclusion tracker: recent blocks per chain", "{rpc.reorg_depth}", "older blocks forgotten (a deeper reorg is not reported)", "-"),
    Limit("Alert dedup keys", "{alerts.dedup_max_keys}, {alerts.dedup_window_s}", "oldest key forgotten (a repeat of it is sent again)", '`scorpius_state_evictions{stage="alerts",limit="dedup_max_keys"}`'),
    Limit("Alert deliveries queued per channel", "{alerts.queue_size}", "dead letter (stage `alerts`)", "`scorpius_alerts_failed{channel}`"),
    Limit("ClickHouse rows buffered", "{storage.clickhouse_max_buffer_rows}", "the worker waits (back-pressure, nothing dropped)", "`scorpius_sink_blocked_seconds{sink}`"),
    Limit("Parquet archive rows held per epoch", "{ARCHIVE_MAX_STATE_ROWS}", "file written early", "-", "- (`max_state_rows`)"),
    Limit("Nested router calls decoded (multicall in multicall)", "depth {MAX_DEPTH}", "deeper calls not decoded", "-"),
)  # fmt: skip


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
    for row in ROWS:

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
