"""Hand-written Node and Pod objects for the service tests, and a state snapshot helper."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.scheduler.protocol import resources as r
from snugfit.scheduler.protocol.inventory import GpuDevice, encode_inventory

A100 = "NVIDIA-A100-SXM4-80GB"
A100_MIB = 81920

JsonObject = dict[str, Any]


def gpu_node(
    name: str,
    gpus: int = 0,
    *,
    cpu: str = "16",
    memory: str = "64Gi",
    model: str = A100,
    memory_mib: int = A100_MIB,
    extra: Mapping[str, str] | None = None,
) -> JsonObject:
    """A Node whose GPUs (if any) come from the node agent's inventory annotation; GPU i has the
    UUID ``GPU-<name>-<i>``."""
    annotations: dict[str, str] = {}
    if gpus:
        devices = [GpuDevice(i, f"GPU-{name}-{i}", model, memory_mib) for i in range(gpus)]
        annotations[r.INVENTORY_ANNOTATION] = encode_inventory(devices)
    allocatable = {"cpu": cpu, "memory": memory, **(extra or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": annotations, "resourceVersion": "1"},
        "status": {"capacity": dict(allocatable), "allocatable": allocatable},
    }


def assignment(node: str, slots: Sequence[int], milli: Sequence[int]) -> dict[str, str]:
    """The annotation the extender writes at bind."""
    gpus = [
        {"index": s, "uuid": f"GPU-{node}-{s}", "milli": m}
        for s, m in zip(slots, milli, strict=True)
    ]
    return {r.ASSIGNMENT_ANNOTATION: json.dumps({"node": node, "gpus": gpus})}


def pod(
    name: str,
    requests: Mapping[str, str] | None = None,
    *,
    uid: str | None = None,
    node: str | None = None,
    annotations: Mapping[str, str] | None = None,
    phase: str | None = None,
    namespace: str = "default",
) -> JsonObject:
    """A one-container Pod; bound (Running) when ``node`` is given, else Pending."""
    spec: JsonObject = {
        "containers": [{"name": "main", "resources": {"requests": dict(requests or {})}}]
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{name}",
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
        "status": {"phase": phase or ("Running" if node else "Pending")},
    }


STATE_ARRAYS = (
    "cpu_used",
    "memory_used",
    "gpu_used",
    "pods_by_kind",
    "cpu_free",
    "memory_free",
    "gpu_free",
)


def snapshot(state: ClusterState) -> dict[str, Any]:
    """Copies of the usage arrays (not ``version``, which counts every change)."""
    return {
        "node_names": state.node_names,
        **{name: getattr(state, name).copy() for name in STATE_ARRAYS},
    }


def assert_same_state(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    assert before["node_names"] == after["node_names"]
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def gpu_used(state: ClusterState, node: str) -> list[int]:
    """GPU share in use per real GPU slot of ``node``."""
    i = state.node_names.index(node)
    return [int(u) for u, real in zip(state.gpu_used[i], state.gpu_real[i], strict=True) if real]
