"""`snugfit plan --kubeconfig` reads a live cluster read-only: the real API server's nodes and
pods become the workload, with the extender's own reading of GPU requests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ControlPlane
from objects import create_ready_node, node, pod

from snugfit.scheduler.snapshot import read_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

NAMESPACE = "default"
PODS = {
    "plan-whole": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"},
    "plan-share": {"cpu": "1", "memory": "1Gi", "snugfit.io/gpu-milli": "300"},
    "plan-cpu": {"cpu": "4", "memory": "2Gi"},
}


@pytest.fixture(scope="module")
def snapshot_cluster(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "nvidia.com/gpu": "4"}
    create_ready_node(control_plane.api, node("plan-node-0", capacity))
    for name, requests in PODS.items():
        control_plane.api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", pod(name, requests))
    yield control_plane
    for name in PODS:
        control_plane.api.delete(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
    control_plane.api.delete("/api/v1/nodes/plan-node-0")


def test_snapshot_reads_nodes_and_pod_demands(snapshot_cluster: ControlPlane) -> None:
    nodes, pods = read_snapshot(snapshot_cluster.kubeconfig)
    spec = next(n for n in nodes if n.name == "plan-node-0")
    assert (spec.cpu_milli, len(spec.gpus)) == (32000, 4)
    demands = {p.name: p.demand for p in pods if p.name.startswith(f"{NAMESPACE}/plan-")}
    assert demands[f"{NAMESPACE}/plan-whole"].gpu_count == 1
    assert demands[f"{NAMESPACE}/plan-whole"].gpu_milli == 1000
    assert demands[f"{NAMESPACE}/plan-share"].gpu_milli == 300
    assert demands[f"{NAMESPACE}/plan-cpu"].cpu_milli == 4000
    assert demands[f"{NAMESPACE}/plan-cpu"].gpu_count == 0


def test_plan_command_on_a_live_cluster(snapshot_cluster: ControlPlane, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    done = subprocess.run(
        [sys.executable, "-m", "snugfit.cli", "plan", "--kubeconfig",
         str(snapshot_cluster.kubeconfig), "--workers", "1", "--output-dir", str(out)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["workload"].startswith("snapshot of ")
    assert summary["pods"] >= len(PODS)
    assert summary["policies"]["snugfit"]["met"]
    assert (out / "report.html").read_text().startswith("<!doctype html>")
