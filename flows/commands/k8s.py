"""``scorpius k8s plan``: the StatefulSet size and kustomize patch for a Kafka partition count.

Each Kafka partition of ``tx_raw`` is read by one bytewax worker, so the cluster runs exactly
``partitions`` workers: ``replicas = partitions / workers_per_process`` pods. The plan prints the
replicas, the peer addresses every process will use, and the overlay lines to apply
(k8s/README.md, "Rescaling").
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass

import yaml

from flows.commands import CommandError
from flows.commands.worker import peer_addresses
from flows.config import K8sConfig, load_config

STATEFULSET = "scorpius-worker"
CONFIGMAP = "scorpius-config"


@dataclass(frozen=True)
class Plan:
    partitions: int
    workers_per_process: int
    replicas: int
    addresses: list[str]

    def kustomization(self) -> dict[str, object]:
        """The lines of an overlay's kustomization.yaml that size the cluster."""
        return {
            "replicas": [{"name": STATEFULSET, "count": self.replicas}],
            "configMapGenerator": [
                {
                    "name": CONFIGMAP,
                    "behavior": "merge",
                    "literals": [
                        f"SCORPIUS_KAFKA_PARTITIONS={self.partitions}",
                        f"SCORPIUS_K8S_REPLICAS={self.replicas}",
                        f"SCORPIUS_K8S_WORKERS_PER_PROCESS={self.workers_per_process}",
                    ],
                }
            ],
        }


def plan(partitions: int, workers_per_process: int, k8s: K8sConfig) -> Plan:
    if partitions < 1 or workers_per_process < 1:
        raise ValueError("partitions and workers per process must be at least 1")
    if partitions % workers_per_process:
        fits = [w for w in range(1, partitions + 1) if partitions % w == 0]
        raise ValueError(
            f"{partitions} partitions cannot be shared evenly by processes of "
            f"{workers_per_process} workers; workers per process that fit: {fits}"
        )
    replicas = partitions // workers_per_process
    addresses = peer_addresses(dataclasses.replace(k8s, replicas=replicas))
    return Plan(partitions, workers_per_process, replicas, addresses)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("k8s", help="Kubernetes helpers (see k8s/README.md)")
    sub = parser.add_subparsers(dest="k8s_command", required=True)
    plan_parser = sub.add_parser(
        "plan", help="replicas, peer addresses and the kustomize patch for a partition count"
    )
    plan_parser.add_argument("--partitions", type=int, required=True, help="tx_raw partitions")
    plan_parser.add_argument("--workers-per-process", type=int, default=1)
    plan_parser.add_argument(
        "--namespace", help="namespace of the StatefulSet (default: SCORPIUS_K8S_NAMESPACE)"
    )
    plan_parser.set_defaults(func=print_plan)


def print_plan(args: argparse.Namespace) -> int:
    k8s = load_config(os.environ).k8s
    if args.namespace is not None:
        k8s = dataclasses.replace(k8s, namespace=args.namespace)
    try:
        result = plan(args.partitions, args.workers_per_process, k8s)
    except ValueError as exc:
        raise CommandError(f"plan: {exc}") from None
    print(f"partitions={result.partitions}")
    print(f"workers_per_process={result.workers_per_process}")
    print(f"replicas={result.replicas}")
    print("addresses=" + ";".join(result.addresses))
    print("# kustomize: put these in the overlay's kustomization.yaml, then follow k8s/README.md")
    print(yaml.safe_dump(result.kustomization(), sort_keys=False), end="")
    return 0
