"""The order in which a real kube-scheduler sends its nodes to an extender's filter, pod by pod,
and how long it takes between the filter reply and its prioritize call.

Uses the end-to-end harness (tests/e2e): etcd, kube-apiserver and kube-scheduler v1.34.4 on
loopback, with the shipped second-scheduler configuration (percentageOfNodesToScore: 100)
pointed at a recording extender in this process that passes every node and binds nothing
(kube-scheduler binds). Creates --nodes fake 8-GPU nodes named in order, then --pods one-GPU
pods one after another, and prints for each filter call how many nodes it carried and in how
many runs of consecutive names, how many of the orders differ, and the time from the filter
reply written to the prioritize request read (kube-scheduler's own scoring in between: the
time an extender has to work out its prioritize reply in advance).

    python tests/benchmarks/scheduler_node_order.py [--nodes 300] [--pods 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import yaml
from controlplane import ControlPlane, ensure_binaries, free_ports
from extender_harness import DEPLOY_CONFIGS, NAMESPACE, gpu_node, gpu_pod
from kubeapi import poll
from objects import create_ready_node

ORDERS: list[list[str]] = []  # NodeNames of each filter call, as sent
GAPS: list[float] = []  # seconds from each filter reply written to the next prioritize read
FILTER_REPLIED: list[float] = []


class RecordingExtender(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/prioritize") and FILTER_REPLIED:
            GAPS.append(time.perf_counter() - FILTER_REPLIED.pop())
        names = body.get("NodeNames") or []
        reply: Any = [{"Host": n, "Score": 1} for n in names]
        if self.path.endswith("/filter"):
            ORDERS.append(list(names))
            reply = {"NodeNames": names, "FailedNodes": {}, "Error": ""}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if self.path.endswith("/filter"):
            FILTER_REPLIED[:] = [time.perf_counter()]

    def log_message(self, *args: Any) -> None:
        pass


def runs(names: list[str], position: dict[str, int]) -> int:
    """Runs of names that follow each other in the order the nodes were created."""
    return 1 + sum(position[b] != position[a] + 1 for a, b in pairwise(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--pods", type=int, default=8)
    args = parser.parse_args()
    (port,) = free_ports(1)
    server = ThreadingHTTPServer(("127.0.0.1", port), RecordingExtender)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    names = [f"gpu-{i:05d}" for i in range(args.nodes)]
    position = {n: i for i, n in enumerate(names)}
    with ControlPlane.start(ensure_binaries()) as cp:
        cp.api.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        for name in names:
            create_ready_node(cp.api, gpu_node(name, "64", "256Gi", 8, "A100", 81920))
        config = yaml.safe_load((DEPLOY_CONFIGS / "second-scheduler.yaml").read_text())
        extender = config["extenders"][0]
        extender["urlPrefix"] = f"http://127.0.0.1:{port}"
        del extender["bindVerb"]  # kube-scheduler binds; the recorder only listens
        with cp.start_scheduler(config, name="order-probe-scheduler"):
            for k in range(args.pods):
                pod = gpu_pod(f"order-{k}", {"nvidia.com/gpu": "1"})
                cp.api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", pod)
                poll(lambda k=k: True if len(ORDERS) > k else None, timeout=60,
                     what=f"filter call for pod {k}")  # fmt: skip
    server.shutdown()
    print("| filter call | nodes sent | runs of consecutive names | first names |")
    print("|---|---|---|---|")
    for i, order in enumerate(ORDERS):
        print(f"| {i} | {len(order)} | {runs(order, position)} | {', '.join(order[:4])} |")
    print(f"distinct orders: {len({tuple(o) for o in ORDERS})} of {len(ORDERS)}")
    gaps = sorted(1000 * g for g in GAPS)
    print(
        f"filter reply to prioritize, ms ({len(gaps)} pods): " + ", ".join(f"{g:.1f}" for g in gaps)
    )


if __name__ == "__main__":
    main()
