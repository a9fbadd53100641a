"""Scheduling throughput on a real control plane: pods bound per second with 1,000 fake GPU
nodes, by kube-scheduler alone and by kube-scheduler with the snugfit extender.

Uses the end-to-end harness (tests/e2e): etcd, kube-apiserver and kube-scheduler v1.34.4 on
loopback. Each run creates --pods pods asking for one whole GPU (nvidia.com/gpu: 1, which the
extender manages) and times from the first create to the last binding.

    python tests/benchmarks/scheduler_throughput.py [--nodes 1000] [--pods 500]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from controlplane import ControlPlane, ensure_binaries
from extender_harness import (
    NAMESPACE,
    bound_count,
    delete_all_pods,
    extender_and_scheduler,
    gpu_node,
    gpu_pod,
)
from kubeapi import ApiError, KubeApi, poll
from objects import create_ready_node

DEFAULT_CONFIG = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
                  "percentageOfNodesToScore": 100}  # fmt: skip


def create_nodes(api: KubeApi, count: int) -> None:
    manifests = [gpu_node(f"node-{i:04d}", "64", "512Gi", 8, "A100", 81920) for i in range(count)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda m: create_ready_node(api, m), manifests))


def run(api: KubeApi, count: int, scheduler_name: str) -> float:
    """Seconds from the first pod created to the last bound."""
    manifests = [gpu_pod(f"t-{i:04d}", {"nvidia.com/gpu": "1"}, scheduler_name=scheduler_name,
                         cpu="100m", memory="128Mi") for i in range(count)]  # fmt: skip
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda m: api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", m), manifests))
    poll(lambda: True if bound_count(api) == count else None,
         timeout=900, what=f"{count} pods bound", interval=0.5)  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=500)
    args = parser.parse_args()
    with ControlPlane.start(ensure_binaries()) as cp:
        try:
            cp.api.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        except ApiError as err:
            if err.status != 409:
                raise
        t0 = time.monotonic()
        create_nodes(cp.api, args.nodes)
        print(f"{args.nodes} nodes created in {time.monotonic() - t0:.0f} s", flush=True)
        with cp.start_scheduler(DEFAULT_CONFIG, name="plain"):
            plain = run(cp.api, args.pods, "default-scheduler")
        delete_all_pods(cp.api)
        with extender_and_scheduler(cp, "second-scheduler.yaml", "fgd", "scores", "snugfit"):
            extended = run(cp.api, args.pods, "snugfit-scheduler")
        print("| scheduler | pods | nodes | seconds | pods/s |")
        print("|---|---|---|---|---|")
        print(
            f"| kube-scheduler alone | {args.pods} | {args.nodes} | {plain:.1f} | {args.pods / plain:.1f} |"
        )
        print(f"| kube-scheduler + snugfit (scores, fgd) | {args.pods} | {args.nodes} | {extended:.1f} | "
              f"{args.pods / extended:.1f} |")  # fmt: skip
        print(f"throughput ratio (with / without extender): {plain / extended:.2f}")


if __name__ == "__main__":
    main()
