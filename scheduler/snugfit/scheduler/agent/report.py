"""What the agent writes on its Node: the inventory annotation, and extended-resource
capacities for the share conventions (total GPU memory in MiB, total milli-GPU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from snugfit.packing.cluster import GPU_MILLI
from snugfit.scheduler.protocol import resources as r
from snugfit.scheduler.protocol.inventory import GpuDevice, encode_inventory


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def capacities(devices: Sequence[GpuDevice]) -> dict[str, str]:
    return {
        r.SNUGFIT_GPU_MEMORY: str(sum(d.memory_mib for d in devices)),
        r.SNUGFIT_GPU_MILLI: str(GPU_MILLI * len(devices)),
    }


def annotation_patch(
    node: dict[str, Any], devices: Sequence[GpuDevice]
) -> list[dict[str, Any]] | None:
    """JSON patch for the node's metadata, or None when it already says the same."""
    value = encode_inventory(list(devices))
    annotations = (node.get("metadata") or {}).get("annotations")
    if annotations and annotations.get(r.INVENTORY_ANNOTATION) == value:
        return None
    if annotations:
        path = f"/metadata/annotations/{_escape(r.INVENTORY_ANNOTATION)}"
        return [{"op": "add", "path": path, "value": value}]
    return [
        {"op": "add", "path": "/metadata/annotations", "value": {r.INVENTORY_ANNOTATION: value}}
    ]


def capacity_patch(
    node: dict[str, Any], devices: Sequence[GpuDevice]
) -> list[dict[str, Any]] | None:
    """JSON patch for the node's status capacity, or None when nothing changes."""
    capacity = (node.get("status") or {}).get("capacity") or {}
    wanted = capacities(devices)
    ops = [
        {"op": "add", "path": f"/status/capacity/{_escape(k)}", "value": v}
        for k, v in wanted.items()
        if capacity.get(k) != v
    ]
    return ops or None
