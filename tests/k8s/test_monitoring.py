"""k8s/monitoring renders: the alert rules as a PrometheusRule, and the Grafana dashboards and data
sources as ConfigMaps that Grafana's sidecar picks up, each the file in the repository."""

from __future__ import annotations

import json

import kubernetes_validate
import yaml

from tests.k8s.test_manifests import K8S, KUBERNETES_VERSION, render_dir

MONITORING = K8S / "monitoring"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
# kubectl apply keeps the whole object in an annotation, limited to 256 KiB.
APPLY_LIMIT_BYTES = 256 * 1024


def test_monitoring_renders_and_validates() -> None:
    docs = render_dir(MONITORING)
    assert sorted(doc["kind"] for doc in docs) == ["ConfigMap"] * 3 + ["PrometheusRule"]
    for doc in docs:
        if doc["kind"] == "PrometheusRule":
            continue  # a CRD: no schema ships with Kubernetes; tests/ops checks it with promtool
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        assert len(json.dumps(doc)) < APPLY_LIMIT_BYTES


def test_every_dashboard_ships_in_a_labelled_config_map() -> None:
    docs = render_dir(MONITORING)
    shipped: dict[str, str] = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["labels"].get("grafana_dashboard") == "1":
            shipped |= doc["data"]
    assert sorted(shipped) == [path.name for path in DASHBOARDS]
    for path in DASHBOARDS:
        assert json.loads(shipped[path.name]) == json.loads(path.read_text())


def test_data_sources_ship_in_a_labelled_config_map() -> None:
    docs = render_dir(MONITORING)
    (datasources,) = [
        doc
        for doc in docs
        if doc["kind"] == "ConfigMap" and doc["metadata"]["labels"].get("grafana_datasource") == "1"
    ]
    (content,) = datasources["data"].values()
    source = MONITORING / "grafana" / "provisioning" / "datasources" / "scorpius.yaml"
    assert yaml.safe_load(content) == yaml.safe_load(source.read_text())


def test_rules_render_unchanged() -> None:
    (rule,) = [doc for doc in render_dir(MONITORING) if doc["kind"] == "PrometheusRule"]
    source = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["spec"] == source["spec"]
    assert rule["metadata"]["labels"]["app.kubernetes.io/name"] == "scorpius"
