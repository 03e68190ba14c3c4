"""The alerting rules load in Prometheus (promtool), fire on synthetic series, and name only
metrics Scorpius exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.exported_metrics import SCRAPE_SERIES, unknown_metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "k8s" / "monitoring" / "prometheusrule.yaml"
UNIT_TESTS = Path(__file__).parent / "data" / "alert_rules_test.yaml"
PROMTOOL = "/usr/bin/promtool"
REQUIRED_ALERTS = {
    "ScorpiusSourceStalled",
    "ScorpiusDeadLetterRateHigh",
    "ScorpiusKafkaConsumerLagHigh",
    "ScorpiusSinkErrors",
    "ScorpiusAlertDeliveryFailed",
    "ScorpiusWorkerDown",
}


def rule_spec() -> dict[str, Any]:
    resource = yaml.safe_load(RULES.read_text())
    assert resource["kind"] == "PrometheusRule"
    spec: dict[str, Any] = resource["spec"]
    return spec


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_spec()["groups"] for rule in group["rules"]]


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.fail(f"{PROMTOOL} is missing: run tests/services/install_prometheus.sh")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def rule_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's spec as a plain rule file, next to the promtool unit tests."""
    (tmp_path / "scorpius-rules.yml").write_text(yaml.safe_dump(rule_spec(), sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    return tmp_path


def test_rules_pass_promtool_check(rule_dir: Path) -> None:
    done = promtool("check", "rules", "scorpius-rules.yml", cwd=rule_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_alerts_fire_on_synthetic_series(rule_dir: Path) -> None:
    done = promtool("test", "rules", UNIT_TESTS.name, cwd=rule_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert tested >= REQUIRED_ALERTS


def test_a_broken_threshold_fails_the_unit_tests(rule_dir: Path) -> None:
    """The unit tests can fail: a dead-letter threshold of 50% no longer fires on 10%."""
    path = rule_dir / "scorpius-rules.yml"
    path.write_text(path.read_text().replace("> 0.05", "> 0.5"))
    done = promtool("test", "rules", UNIT_TESTS.name, cwd=rule_dir)
    assert done.returncode != 0
    assert "ScorpiusDeadLetterRateHigh" in done.stdout + done.stderr


def test_every_required_alert_is_defined() -> None:
    assert {rule["alert"] for rule in rules()} >= REQUIRED_ALERTS


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_rules_name_only_exported_metrics(rule: dict[str, Any]) -> None:
    assert unknown_metrics(rule["expr"], SCRAPE_SERIES) == set()


def test_an_unknown_metric_is_caught() -> None:
    expr = "sum(rate(scorpius_stage_items_total[5m])) / sum(rate(scorpius_not_a_metric_total[5m]))"
    assert unknown_metrics(expr, SCRAPE_SERIES) == {"scorpius_not_a_metric_total"}
