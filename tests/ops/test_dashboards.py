"""The Grafana dashboards are valid dashboards of Grafana's model, and every query in them names
only what Scorpius really has: Prometheus metrics it exports, ClickHouse tables and columns of
its schema.

Grafana's model is the one its schema generates (grafana-foundation-sdk, Grafana 11.6): a
dashboard must decode into it and encode back with nothing lost, so a key Grafana does not know
(a typo anywhere: panel, panel options, field config, Prometheus query) is dropped and reported;
the decoded values are then checked against the model's type hints (enums, numbers, strings).
"""

from __future__ import annotations

import copy
import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from tests.ops.exported_metrics import SCRAPE_SERIES, unknown_metrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "k8s" / "monitoring" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "scorpius.yaml"
SCHEMA_SQL = ROOT / "connectors" / "clickhouse" / "schema.sql"
PROMETHEUS = "prometheus"
CLICKHOUSE = "grafana-clickhouse-datasource"
GRID_COLUMNS = 24

plugins.register_default_plugins()


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def queries(kind: str) -> list[tuple[str, str]]:
    """``(panel title, query text)`` of every target of a ``kind`` data source, all dashboards."""
    found = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel.get("datasource") or {}
                if ds.get("type") == kind:
                    text = target["expr"] if kind == PROMETHEUS else target["rawSql"]
                    found.append((f"{path.stem}: {panel['title']} {target['refId']}", text))
    return found


# --- Grafana's model ----------------------------------------------------------------------------


def lost_keys(given: Any, encoded: Any, path: str = "") -> list[str]:
    """Paths of everything in ``given`` that did not come back in ``encoded``, unchanged."""
    if isinstance(given, dict):
        if not isinstance(encoded, dict):
            return [f"{path}: became {type(encoded).__name__}"]
        lost = []
        for key, value in given.items():
            if key not in encoded:
                lost.append(f"{path}/{key}: unknown to Grafana's model")
            else:
                lost += lost_keys(value, encoded[key], f"{path}/{key}")
        return lost
    if isinstance(given, list):
        if not isinstance(encoded, list) or len(encoded) != len(given):
            return [f"{path}: list changed"]
        return [
            lost
            for i, (item, back) in enumerate(zip(given, encoded, strict=True))
            for lost in lost_keys(item, back, f"{path}[{i}]")
        ]
    return [] if given == encoded else [f"{path}: {given!r} became {encoded!r}"]


def type_errors(value: Any, hint: Any, path: str) -> list[str]:
    """Where a decoded value does not have the type Grafana's model declares for it."""
    if value is None:
        return []
    if hint in (Any, object):  # plugin-typed parts: panel options, custom field config
        return model_type_errors(value, path) if is_model(value) else []
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        classes = [o for o in options if isinstance(o, type) and isinstance(value, o)]
        results = [type_errors(value, option, path) for option in classes or options]
        return [] if any(not errors for errors in results) else results[0]
    if origin is typing.Literal:
        return (
            []
            if value in typing.get_args(hint)
            else [f"{path}: {value!r} not one of {typing.get_args(hint)}"]
        )
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = typing.get_args(hint) or (Any,)
        return [e for i, v in enumerate(value) for e in type_errors(v, item, f"{path}[{i}]")]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{path}: {value!r} is not an object"]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [member.value for member in hint]
        return [] if value in allowed else [f"{path}: {value!r} not one of {allowed}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if hint in (int, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (hint is float or isinstance(value, int))
        return [] if ok else [f"{path}: {value!r} is not {hint.__name__}"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{path}: {value!r} is not {hint.__name__}"]
        if is_model(value):
            return model_type_errors(value, path)
    return []


def is_model(value: Any) -> bool:
    return callable(getattr(value, "to_json", None))


def model_type_errors(model: Any, path: str = "") -> list[str]:
    hints = typing.get_type_hints(type(model))
    return [
        error
        for name, hint in hints.items()
        for error in type_errors(getattr(model, name, None), hint, f"{path}/{name}")
    ]


def model_problems(dashboard: dict[str, Any]) -> list[str]:
    decoded = Dashboard.from_json(copy.deepcopy(dashboard))
    encoded = json.loads(json.dumps(decoded, cls=JSONEncoder))
    return lost_keys(dashboard, encoded) + model_type_errors(decoded)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_valid_in_grafanas_model(path: Path) -> None:
    assert model_problems(load(path)) == []


def test_the_model_check_catches_typos_and_wrong_types() -> None:
    dashboard = load(GRAFANA / "dashboards" / "scorpius-pipeline.json")
    panel = next(p for p in dashboard["panels"] if p["type"] == "timeseries")
    panel["options"]["legend"]["displayMod"] = "table"
    panel["options"]["tooltip"]["mode"] = "several"
    panel["targets"][0]["legend_format"] = "{{chain}}"
    panel["gridPos"]["h"] = "8"
    problems = "\n".join(model_problems(dashboard))
    assert "legend/displayMod: unknown" in problems
    assert "/targets[0]/legend_format: unknown" in problems
    assert "'several' not one of" in problems
    assert "'8' is not int" in problems


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_have_unique_ids_and_fit_the_grid(path: Path) -> None:
    dashboard = load(path)
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
    assert re.fullmatch(r"[a-z0-9-]{8,40}", dashboard["uid"])


def test_every_data_source_a_panel_uses_is_provisioned() -> None:
    provisioned = {
        ds["uid"]: ds["type"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]
    }
    assert set(provisioned.values()) == {PROMETHEUS, CLICKHOUSE}
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for ref in [
                panel.get("datasource"),
                *(t.get("datasource") for t in panel.get("targets", [])),
            ]:
                if ref is not None and panel["type"] != "row":
                    assert provisioned.get(ref["uid"]) == ref["type"], (path.stem, panel["title"])


# --- Prometheus queries -------------------------------------------------------------------------

PROMQL = queries(PROMETHEUS)


@pytest.mark.parametrize(("panel", "promql"), PROMQL, ids=[p for p, _ in PROMQL])
def test_promql_names_only_exported_metrics(panel: str, promql: str) -> None:
    assert unknown_metrics(promql, SCRAPE_SERIES) == set()


def test_an_unknown_metric_in_a_panel_is_caught() -> None:
    _, promql = PROMQL[0]
    renamed = re.sub(r"scorpius_(\w+)_total", r"scorpius_\1_count_total", promql)
    assert renamed != promql
    assert unknown_metrics(renamed, SCRAPE_SERIES)


def test_pipeline_dashboard_covers_what_operators_watch() -> None:
    used = " ".join(promql for _, promql in PROMQL)
    for metric in (
        "scorpius_source_messages_total",
        "scorpius_stage_items_total",
        "scorpius_end_to_end_seconds_bucket",
        "scorpius_dead_letters_total",
        "scorpius_detections_total",
        "scorpius_rule_evaluations_total",
        "scorpius_rule_matches_total",
        "scorpius_rule_batch_seconds_bucket",
        "scorpius_sink_writes_total",
        "scorpius_sink_errors_total",
        "scorpius_sink_buffered",
        "scorpius_alerts_sent_total",
        "scorpius_alerts_failed_total",
        "scorpius_source_reconnects_total",
        "bytewax_kafka_consumer_lag",
    ):
        assert metric in used


# --- ClickHouse queries -------------------------------------------------------------------------

# The plugin's macros (grafana-clickhouse-datasource README, "Macros"), expanded the way it does.
MACROS = {
    "timeFilter": lambda col: (
        f"{col} >= toDateTime(1700000000) AND {col} <= toDateTime(1700003600)"
    ),
    "dateFilter": lambda col: f"{col} >= toDate('2023-11-14') AND {col} <= toDate('2023-11-14')",
    "timeInterval": lambda col: f"toStartOfInterval(toDateTime({col}), INTERVAL 60 second)",
}
MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")


def expand_macros(sql: str) -> str:
    def expand(match: re.Match[str]) -> str:
        name, arg = match.groups()
        if name not in MACROS:
            raise ValueError(f"macro $__{name} is not expanded by this test")
        return MACROS[name](arg.strip())

    expanded = MACRO.sub(expand, sql)
    if "$" in expanded:
        raise ValueError(f"unexpanded variable or macro in: {expanded}")
    return expanded


def clickhouse_schema() -> dict[str, dict[str, str]]:
    schema = {}
    for statement in sqlglot.parse(SCHEMA_SQL.read_text(), dialect="clickhouse"):
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            table = statement.this
            schema[table.this.name] = {
                column.name: column.args["kind"].sql("clickhouse")
                for column in table.expressions
                if isinstance(column, exp.ColumnDef)
            }
    return schema


def sql_problems(sql: str) -> list[str]:
    schema = clickhouse_schema()
    tables: dict[str, object] = dict(schema)
    tree = sqlglot.parse_one(expand_macros(sql), dialect="clickhouse")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    unknown = {t.name for t in tree.find_all(exp.Table)} - set(schema) - ctes
    if unknown:
        return [f"unknown tables {sorted(unknown)}"]
    try:
        qualify(
            tree,
            schema=tables,
            dialect="clickhouse",
            validate_qualify_columns=True,
        )
    except sqlglot.errors.OptimizeError as error:
        return [str(error)]
    return []


SQL = queries(CLICKHOUSE)


def test_schema_parses_into_the_tables_the_sink_writes() -> None:
    schema = clickhouse_schema()
    assert {"mev_events", "rule_matches", "alerts", "dead_letters"} <= set(schema)
    assert schema["mev_events"]["first_seen"] == "DateTime"


@pytest.mark.parametrize(("panel", "sql"), SQL, ids=[p for p, _ in SQL])
def test_sql_names_only_schema_tables_and_columns(panel: str, sql: str) -> None:
    assert sql_problems(sql) == []


def test_unknown_tables_columns_and_macros_are_caught() -> None:
    assert sql_problems("SELECT kind FROM mev_event") == ["unknown tables ['mev_event']"]
    problems = sql_problems("SELECT profit FROM mev_events WHERE $__timeFilter(first_seen)")
    assert problems and "profit" in problems[0]
    with pytest.raises(ValueError, match="timeFilter_ms"):
        expand_macros("SELECT 1 FROM mev_events WHERE $__timeFilter_ms(first_seen_ms)")


def test_mev_dashboard_covers_events_rules_and_bots() -> None:
    tables = {
        table.name
        for _, sql in SQL
        for table in sqlglot.parse_one(expand_macros(sql), dialect="clickhouse").find_all(exp.Table)
    }
    assert {"mev_events", "rule_matches"} <= tables
    assert any("sandwicher" in sql and "profit_amount" in sql for _, sql in SQL)
