"""The metric names Scorpius exports and the PromQL names a query uses, for dashboards and rules.

Names come from prometheus-client's default registry after importing the flow (which imports
every module that defines a metric, bytewax's Kafka source included), so a metric renamed or
removed in code makes every dashboard panel and alert rule still naming it fail its test.
"""

from __future__ import annotations

import re
from functools import cache

import promql_parser
from prometheus_client import REGISTRY

# The sample names each metric type exposes (prometheus-client / OpenMetrics text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "unknown": ("",),
}
# Series Prometheus itself adds to every scrape target; rules may use them, no code exports them.
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# Grafana's interval variables, replaced by a duration so the query parses as PromQL.
GRAFANA_INTERVALS = re.compile(
    r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}"
)


@cache
def exported_names() -> frozenset[str]:
    import connectors.api.metrics  # noqa: F401  (the API's, scorpius serve)
    import flows.mempool  # noqa: F401  (defines or imports every metric of the flow)

    names = {
        family.name + suffix for family in REGISTRY.collect() for suffix in SUFFIXES[family.type]
    }
    return frozenset(names)


def metric_names(promql: str) -> set[str]:
    """Every metric name a PromQL expression selects (by name or by a ``__name__`` matcher)."""
    expr = promql_parser.parse(GRAFANA_INTERVALS.sub("5m", promql))
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            names.update(m.value for m in node.matchers.matchers if m.name == "__name__")

    promql_parser.walk(expr, visit)
    return names


def unknown_metrics(promql: str, allowed: frozenset[str] = frozenset()) -> set[str]:
    return metric_names(promql) - exported_names() - allowed
