"""The manifests render with kustomize and validate against Kubernetes schemas, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from flows.commands.k8s import Plan, plan
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
    return render_dir(K8S / "overlays" / overlay)


def render_dir(path: Path) -> list[dict]:
    out = subprocess.run(
        [kustomize(), "build", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str) -> None:
    docs = render(overlay)
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodMonitor",
        "Service",
        "Service",
        "StatefulSet",
    ]
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # a CRD: no schema ships with Kubernetes
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def sizing(docs: list[dict]) -> tuple[dict, dict[str, str]]:
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "SCORPIUS_SOURCE_KIND" in d["data"]
    )
    return sts, config["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_times_workers_matches_partitions_and_addresses(overlay: str) -> None:
    docs = render(overlay)
    sts, data = sizing(docs)
    replicas = sts["spec"]["replicas"]
    assert int(data["SCORPIUS_K8S_REPLICAS"]) == replicas
    workers = int(data["SCORPIUS_K8S_WORKERS_PER_PROCESS"])
    partitions = int(data["SCORPIUS_KAFKA_PARTITIONS"])
    assert replicas * workers == partitions, "one bytewax worker per tx_raw partition"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["SCORPIUS_K8S_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.namespace"
    )

    namespace = sts["metadata"]["namespace"]
    cfg = load_config(
        {k: v for k, v in data.items() if k.startswith("SCORPIUS_K8S")}
        | {"SCORPIUS_K8S_NAMESPACE": namespace}
    )
    addresses = peer_addresses(cfg.k8s)
    assert plan(partitions, workers, cfg.k8s) == Plan(partitions, workers, replicas, addresses)
    assert len(addresses) == replicas
    service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] != "scorpius-api"
    )
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "bytewax")
    for i, address in enumerate(addresses):
        pod = f"{sts['metadata']['name']}-{i}"
        assert pod_ordinal(pod) == i
        assert address == f"{pod}.{service['metadata']['name']}.{namespace}.svc:{port}"


@pytest.mark.parametrize(("partitions", "workers"), [(12, 3), (16, 1)])
def test_plan_patch_applied_to_an_overlay_rescales_it(
    tmp_path: Path, partitions: int, workers: int
) -> None:
    """What `scorpius k8s plan` prints, put in an overlay, renders a consistent cluster."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    sized = plan(partitions, workers, load_config({}).k8s)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "scorpius",
        "resources": [os.path.relpath(K8S / "overlays" / "prod", overlay)],
    } | sized.kustomization()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    sts, data = sizing(render_dir(overlay))
    assert sts["spec"]["replicas"] == sized.replicas == partitions // workers
    assert int(data["SCORPIUS_K8S_REPLICAS"]) == sized.replicas
    assert int(data["SCORPIUS_K8S_WORKERS_PER_PROCESS"]) == workers
    assert int(data["SCORPIUS_KAFKA_PARTITIONS"]) == partitions


def test_plan_refuses_uneven_sharing() -> None:
    with pytest.raises(ValueError, match=r"workers per process that fit: \[1, 2, 5, 10\]"):
        plan(10, 3, load_config({}).k8s)
