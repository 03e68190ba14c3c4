"""``scorpius worker``: one Bytewax process of a StatefulSet, peers derived from the pod ordinal.

``scorpius worker --plan`` prints the process id and peer addresses it would use, which is what the
manifests test and the rescaling procedure check.
"""

from __future__ import annotations

import argparse
import os
import re
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from connectors.health import HealthServer
from flows.commands import CommandError, add_command
from flows.config import K8sConfig, load_config
from flows.logs import configure_logging
from flows.shutdown import install_stop_handlers
from flows.wiring.memory import start_memory_care


def pod_ordinal(pod_name: str) -> int:
    match = re.search(r"-(\d+)$", pod_name)
    if not match:
        raise CommandError(
            f"POD_NAME {pod_name!r} does not end in a StatefulSet ordinal: set POD_NAME=<name>-<n>"
        )
    return int(match.group(1))


def peer_addresses(k8s: K8sConfig) -> list[str]:
    domain = f"{k8s.service}.{k8s.namespace}.svc" if k8s.namespace else k8s.service
    return [f"{k8s.service}-{i}.{domain}:{k8s.port}" for i in range(k8s.replicas)]


def ensure_recovery_partitions(recovery_dir: str | Path, process_id: int, count: int) -> int:
    """Creates ``count`` empty recovery partitions in process 0's directory when it holds none;
    returns how many it created.

    Bytewax needs the cluster as a whole to reach every partition once, not every process to
    hold them; pod 0 is the one pod no scale-down removes, so keeping all partitions on its
    volume lets the StatefulSet grow and shrink without moving files. Other processes only need
    the directory; creating a second set there would give two files for one partition.
    """
    path = Path(recovery_dir)
    path.mkdir(parents=True, exist_ok=True)
    if process_id != 0 or any(path.glob("part-*.sqlite3")):
        return 0
    init_db_dir(path, count)
    return count


HELP = """run one worker process of the Kubernetes StatefulSet (see k8s/)

Run one Bytewax process of the StatefulSet (the container image's command). The process id is
the pod ordinal of POD_NAME (or HOSTNAME, e.g. scorpius-worker-2); peers, workers per process,
recovery and the health port come from SCORPIUS_K8S_* (docs/deploy.md, k8s/README.md).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "worker", HELP)
    parser.add_argument("--plan", action="store_true", help="print process id and peers, then exit")
    parser.set_defaults(func=worker)


def worker(args: argparse.Namespace) -> int:
    cfg = load_config(os.environ)
    k8s = cfg.k8s
    process_id = pod_ordinal(os.environ.get("POD_NAME", os.environ.get("HOSTNAME", "")))
    if process_id >= k8s.replicas:
        raise CommandError(
            f"pod ordinal {process_id} >= SCORPIUS_K8S_REPLICAS={k8s.replicas}: "
            "raise SCORPIUS_K8S_REPLICAS or use a lower ordinal"
        )
    addresses = peer_addresses(k8s)
    if args.plan:
        print(f"process_id={process_id}")
        print(f"workers_per_process={k8s.workers_per_process}")
        print("addresses=" + ";".join(addresses))
        return 0
    recovery = None
    if k8s.recovery_dir:
        partitions = k8s.recovery_partitions or cfg.kafka.partitions
        if ensure_recovery_partitions(k8s.recovery_dir, process_id, partitions):
            print(f"created {partitions} recovery partitions in {k8s.recovery_dir}", flush=True)
        recovery = RecoveryConfig(k8s.recovery_dir, timedelta(seconds=k8s.backup_interval_s))
    from flows.mempool import build_flow  # only when a worker runs: `scorpius --help` stays fast

    configure_logging()
    flow = build_flow(cfg, install_stop_handlers())
    health = HealthServer(k8s.health_port, k8s.stall_after_s).start()
    memory = start_memory_care(cfg.memory)
    try:
        cli_main(
            flow,
            workers_per_process=k8s.workers_per_process,
            process_id=process_id if k8s.replicas > 1 else None,
            addresses=addresses if k8s.replicas > 1 else None,
            epoch_interval=timedelta(seconds=k8s.snapshot_interval_s),
            recovery_config=recovery,
        )
    finally:
        memory.stop()
        health.stop()
    return 0
