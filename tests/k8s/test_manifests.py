"""The manifests render with kustomize and validate against Kubernetes schemas, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from flows.commands.worker import peer_addresses, pod_ordinal
from flows.config import load_config

K8S = Path(__file__).resolve().parents[2] / "k8s"
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = ["dev", "prod"]


def kustomize() -> str:
    found = str(Path.home() / ".cache" / "scorpius" / "bin" / "kustomize")
    if not os.path.exists(found):
        found = shutil.which("kustomize") or found
    if not os.path.exists(found):
        pytest.fail("kustomize is not installed: run tests/services/install.sh")
    return found


def render(overlay: str) -> list[dict]:
    out = subprocess.run(
        [kustomize(), "build", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str) -> None:
    docs = render(overlay)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["ConfigMap", "ConfigMap", "PodMonitor", "Service", "StatefulSet"]
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # a CRD: no schema ships with Kubernetes
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_times_workers_matches_partitions_and_addresses(overlay: str) -> None:
    docs = render(overlay)
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "SCORPIUS_SOURCE_KIND" in d["data"]
    )
    container = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    replicas = sts["spec"]["replicas"]
    assert int(env["SCORPIUS_K8S_REPLICAS"]) == replicas
    workers = int(config["data"]["SCORPIUS_K8S_WORKERS_PER_PROCESS"])
    partitions = int(config["data"]["SCORPIUS_KAFKA_PARTITIONS"])
    assert partitions % (replicas * workers) == 0, "partitions must be a multiple of the workers"

    cfg = load_config(
        {k: v for k, v in config["data"].items() if k.startswith("SCORPIUS_K8S")}
        | {
            "SCORPIUS_K8S_REPLICAS": str(replicas),
            "SCORPIUS_K8S_NAMESPACE": sts["metadata"].get("namespace", ""),
        }
    )
    addresses = peer_addresses(cfg.k8s)
    assert len(addresses) == replicas
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "bytewax")
    for i, address in enumerate(addresses):
        pod = f"{sts['metadata']['name']}-{i}"
        assert pod_ordinal(pod) == i
        assert (
            address
            == f"{pod}.{service['metadata']['name']}.{sts['metadata']['namespace']}.svc:{port}"
        )
