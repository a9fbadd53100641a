"""A Node object as the packing core's NodeSpec: allocatable CPU and memory, and its GPUs.

GPUs come from, in order: the node agent's ``snugfit.io/gpu-inventory`` annotation
(``{"version": 1, "gpus": [{"index": 0, "uuid": "GPU-…", "model": "…", "memoryMiB": 81920}]}``);
NVIDIA GPU Feature Discovery labels (``nvidia.com/gpu.count``, ``.memory`` in MiB,
``.product``); else the ``nvidia.com/gpu`` capacity, with the memory looked up by model in a
configured table. A node without any of them has no GPUs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from snugfit.packing.cluster import GpuSpec, NodeSpec
from snugfit.packing.quantity import count, cpu_milli, mebibytes
from snugfit.scheduler.protocol import resources as r

UNKNOWN_MODEL = "unknown"
INVENTORY_SOURCES = ("agent", "gfd", "capacity", "none")
INVENTORY_VERSION = 1


class InventoryError(ValueError):
    """A node's GPU inventory cannot be read; the message says why."""


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as the cluster knows it; ``uuid`` may be empty when only counts are known."""

    index: int
    uuid: str
    model: str
    memory_mib: int


@dataclass(frozen=True)
class NodeInventory:
    spec: NodeSpec
    devices: tuple[GpuDevice, ...]
    source: str  # "agent", "gfd", "capacity" or "none"


def encode_inventory(devices: list[GpuDevice]) -> str:
    """The annotation value the node agent writes."""
    gpus = [
        {"index": d.index, "uuid": d.uuid, "model": d.model, "memoryMiB": d.memory_mib}
        for d in devices
    ]
    return json.dumps({"version": INVENTORY_VERSION, "gpus": gpus}, separators=(",", ":"))


def _from_annotation(text: str) -> list[GpuDevice]:
    try:
        data = json.loads(text)
        gpus = data["gpus"]
        if data.get("version") != INVENTORY_VERSION:
            raise InventoryError(f"unsupported inventory version {data.get('version')!r}")
        if not isinstance(gpus, list):
            raise InventoryError(f"{r.INVENTORY_ANNOTATION}: 'gpus' must be a list")
        devices = [
            GpuDevice(int(g["index"]), str(g.get("uuid", "")), str(g["model"]), int(g["memoryMiB"]))
            for g in gpus
        ]
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, InventoryError):
            raise
        raise InventoryError(f"{r.INVENTORY_ANNOTATION} is not a valid inventory: {exc}") from None
    if sorted(d.index for d in devices) != list(range(len(devices))):
        raise InventoryError(f"{r.INVENTORY_ANNOTATION}: GPU indexes must be 0..n-1")
    if any(d.memory_mib <= 0 for d in devices):
        raise InventoryError(f"{r.INVENTORY_ANNOTATION}: memoryMiB must be positive")
    return sorted(devices, key=lambda d: d.index)


def node_inventory(
    node: Mapping[str, Any], model_memory_mib: Mapping[str, int], default_model: str = UNKNOWN_MODEL
) -> NodeInventory:
    meta = node.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise InventoryError("node has no name")
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    try:
        cpu = cpu_milli(allocatable.get("cpu", 0))
        memory = mebibytes(allocatable.get("memory", 0), bare_unit=Fraction(1))
        if annotations.get(r.INVENTORY_ANNOTATION):
            devices, source = _from_annotation(annotations[r.INVENTORY_ANNOTATION]), "agent"
        elif labels.get(r.GFD_COUNT) and labels.get(r.GFD_MEMORY):
            model = labels.get(r.GFD_PRODUCT, default_model)
            memory_each = count(labels[r.GFD_MEMORY], r.GFD_MEMORY)
            n = count(labels[r.GFD_COUNT], r.GFD_COUNT)
            devices, source = [GpuDevice(i, "", model, memory_each) for i in range(n)], "gfd"
        elif count(allocatable.get(r.NVIDIA_GPU, 0), r.NVIDIA_GPU):
            model = labels.get(r.GFD_PRODUCT, default_model)
            n = count(allocatable[r.NVIDIA_GPU], r.NVIDIA_GPU)
            memory_each = model_memory_mib.get(model, 0)
            devices, source = [GpuDevice(i, "", model, memory_each) for i in range(n)], "capacity"
        else:
            devices, source = [], "none"
    except ValueError as exc:
        if isinstance(exc, InventoryError):
            raise
        raise InventoryError(f"node {name}: {exc}") from None
    gpus = tuple(GpuSpec(d.model, d.memory_mib) for d in devices)
    return NodeInventory(NodeSpec(name, cpu, memory, gpus), tuple(devices), source)
