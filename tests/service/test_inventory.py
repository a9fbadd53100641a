"""Node objects as NodeSpecs: GPUs from the agent annotation, GFD labels or capacity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snugfit.packing.cluster import GpuSpec, NodeSpec
from snugfit.scheduler.protocol.inventory import (
    GpuDevice,
    InventoryError,
    encode_inventory,
    node_inventory,
)

INV = "snugfit.io/gpu-inventory"
TABLE = {"Tesla-T4": 15360, "NVIDIA-A100-SXM4-40GB": 40960}


def node(
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    allocatable: dict[str, Any] | None = None,
    capacity: dict[str, Any] | None = None,
    name: Any = "n1",
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if allocatable is not None:
        status["allocatable"] = allocatable
    if capacity is not None:
        status["capacity"] = capacity
    return {
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "status": status,
    }


def agent(gpus: Any, version: Any = 1) -> dict[str, str]:
    return {INV: json.dumps({"version": version, "gpus": gpus})}


def test_agent_annotation() -> None:
    gpus = [  # listed out of order; the uuid of GPU 0 is missing
        {"index": 1, "uuid": "GPU-b", "model": "H100", "memoryMiB": 81559},
        {"index": 0, "model": "A100", "memoryMiB": 40960},
    ]
    inv = node_inventory(
        node(annotations=agent(gpus), allocatable={"cpu": "8", "memory": "32Gi"}), TABLE
    )
    assert inv.source == "agent"
    assert inv.devices == (GpuDevice(0, "", "A100", 40960), GpuDevice(1, "GPU-b", "H100", 81559))
    assert inv.spec == NodeSpec("n1", 8000, 32768, (GpuSpec("A100", 40960), GpuSpec("H100", 81559)))


def test_agent_annotation_wins_over_labels_and_capacity() -> None:
    labels = {"nvidia.com/gpu.count": "4", "nvidia.com/gpu.memory": "16384"}
    gpus = [{"index": 0, "uuid": "GPU-a", "model": "A100", "memoryMiB": 40960}]
    inv = node_inventory(
        node(annotations=agent(gpus), labels=labels, allocatable={"nvidia.com/gpu": "8"}),
        TABLE,
    )
    assert (inv.source, len(inv.devices)) == ("agent", 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "snugfit.io/gpu-inventory is not a valid inventory"),
        ("[]", "snugfit.io/gpu-inventory is not a valid inventory"),
        ('"gpus"', "snugfit.io/gpu-inventory is not a valid inventory"),
        (json.dumps({"version": 1}), "snugfit.io/gpu-inventory is not a valid inventory"),
        (json.dumps({"version": 2, "gpus": []}), "unsupported inventory version 2"),
        (json.dumps({"gpus": []}), "unsupported inventory version None"),
        (json.dumps({"version": "1", "gpus": []}), "unsupported inventory version '1'"),
        (json.dumps({"version": 1, "gpus": {}}), "snugfit.io/gpu-inventory: 'gpus' must be a list"),
        # a GPU entry without model, with unreadable memory, or not an object
        (
            json.dumps({"version": 1, "gpus": [{"index": 0, "memoryMiB": 1}]}),
            "is not a valid inventory",
        ),
        (
            json.dumps({"version": 1, "gpus": [{"index": 0, "model": "A", "memoryMiB": "lots"}]}),
            "is not a valid inventory",
        ),
        (json.dumps({"version": 1, "gpus": [7]}), "is not a valid inventory"),
        # indexes must be exactly 0..n-1
        (
            json.dumps({"version": 1, "gpus": [{"index": 1, "model": "A", "memoryMiB": 1}]}),
            "GPU indexes must be 0..n-1",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "gpus": [
                        {"index": 0, "model": "A", "memoryMiB": 1},
                        {"index": 0, "model": "A", "memoryMiB": 1},
                    ],
                }
            ),
            "GPU indexes must be 0..n-1",
        ),
        (
            json.dumps({"version": 1, "gpus": [{"index": -1, "model": "A", "memoryMiB": 1}]}),
            "GPU indexes must be 0..n-1",
        ),
        # memory must be positive
        (
            json.dumps({"version": 1, "gpus": [{"index": 0, "model": "A", "memoryMiB": 0}]}),
            "memoryMiB must be positive",
        ),
        (
            json.dumps({"version": 1, "gpus": [{"index": 0, "model": "A", "memoryMiB": -5}]}),
            "memoryMiB must be positive",
        ),
    ],
)
def test_bad_agent_annotation(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        node_inventory(node(annotations={INV: text}, allocatable={"cpu": "1"}), TABLE)
    assert message in str(caught.value)


def test_empty_agent_annotation_means_no_gpus() -> None:
    inv = node_inventory(node(annotations=agent([]), allocatable={"cpu": "1"}), TABLE)
    assert (inv.source, inv.devices, inv.spec.gpus) == ("agent", (), ())


@pytest.mark.parametrize(
    ("labels", "default_model", "expected_model"),
    [
        (
            {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"},
            "unknown",
            "NVIDIA-A100-SXM4-40GB",
        ),
        ({}, "unknown", "unknown"),
        ({}, "L4", "L4"),
    ],
)
def test_gfd_labels(labels: dict[str, str], default_model: str, expected_model: str) -> None:
    gfd = {"nvidia.com/gpu.count": "4", "nvidia.com/gpu.memory": "40960", **labels}
    inv = node_inventory(node(labels=gfd, allocatable={"cpu": "4"}), TABLE, default_model)
    assert inv.source == "gfd"
    assert inv.devices == tuple(GpuDevice(i, "", expected_model, 40960) for i in range(4))
    assert inv.spec.gpus == (GpuSpec(expected_model, 40960),) * 4


def test_gfd_needs_both_count_and_memory() -> None:
    """A count label alone falls through to the capacity rule."""
    labels = {"nvidia.com/gpu.count": "4", "nvidia.com/gpu.product": "Tesla-T4"}
    inv = node_inventory(node(labels=labels, allocatable={"nvidia.com/gpu": "2"}), TABLE)
    assert inv.source == "capacity"
    assert inv.spec.gpus == (GpuSpec("Tesla-T4", 15360),) * 2


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"nvidia.com/gpu.count": "x", "nvidia.com/gpu.memory": "1"}, "nvidia.com/gpu.count"),
        ({"nvidia.com/gpu.count": "1", "nvidia.com/gpu.memory": "1.5"}, "nvidia.com/gpu.memory"),
    ],
)
def test_bad_gfd_labels(labels: dict[str, str], message: str) -> None:
    with pytest.raises(InventoryError, match=f"node n1: {message}"):
        node_inventory(node(labels=labels, allocatable={}), TABLE)


@pytest.mark.parametrize(
    ("labels", "default_model", "model", "memory"),
    [
        ({"nvidia.com/gpu.product": "Tesla-T4"}, "unknown", "Tesla-T4", 15360),
        # a product not in the table: memory unknown (0), so memory requests never fit
        ({"nvidia.com/gpu.product": "Mystery"}, "unknown", "Mystery", 0),
        ({}, "NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-40GB", 40960),
        ({}, "unknown", "unknown", 0),
    ],
)
def test_capacity_and_model_table(
    labels: dict[str, str], default_model: str, model: str, memory: int
) -> None:
    inv = node_inventory(
        node(labels=labels, allocatable={"cpu": "2", "nvidia.com/gpu": "3"}), TABLE, default_model
    )
    assert inv.source == "capacity"
    assert inv.devices == tuple(GpuDevice(i, "", model, memory) for i in range(3))


@pytest.mark.parametrize(
    "allocatable", [{}, {"cpu": "4"}, {"nvidia.com/gpu": "0"}, {"nvidia.com/gpu": 0}]
)
def test_no_gpus(allocatable: dict[str, Any]) -> None:
    inv = node_inventory(node(allocatable=allocatable), TABLE)
    assert (inv.source, inv.devices, inv.spec.gpus) == ("none", (), ())


@pytest.mark.parametrize(
    ("cpu", "memory", "cpu_milli", "memory_mib"),
    [
        ("3800m", "15Gi", 3800, 15360),
        ("4", "16384000000", 4000, 15625),  # 16384000000 B / 2^20 = 15625 exactly
        ("0.5", "1000000", 500, 1),  # 10^6 B = 0.95Mi -> 1
        (2, 1048576, 2000, 1),  # JSON numbers: cores and bytes
        ("1", "15G", 1000, 14306),  # 15 * 10^9 / 2^20 = 14305.1 -> 14306
        ("1", "512Mi", 1000, 512),
        ("1", "1Ti", 1000, 1048576),
    ],
)
def test_allocatable_cpu_and_memory(cpu: Any, memory: Any, cpu_milli: int, memory_mib: int) -> None:
    inv = node_inventory(node(allocatable={"cpu": cpu, "memory": memory}), TABLE)
    assert (inv.spec.cpu_milli, inv.spec.memory_mib) == (cpu_milli, memory_mib)


def test_capacity_when_allocatable_is_missing() -> None:
    inv = node_inventory(node(capacity={"cpu": "2", "memory": "1Gi"}), TABLE)
    assert (inv.spec.cpu_milli, inv.spec.memory_mib) == (2000, 1024)


@pytest.mark.parametrize(
    ("the_node", "message"),
    [
        (node(name=""), "node has no name"),
        (node(name=None), "node has no name"),
        ({"status": {}}, "node has no name"),
        (node(allocatable={"cpu": "fast"}), "node n1: cpu: cannot read quantity 'fast'"),
        (node(allocatable={"memory": "-1"}), "node n1: memory: cannot read quantity '-1'"),
        (
            node(allocatable={"nvidia.com/gpu": "1.5"}),
            "node n1: nvidia.com/gpu: must be a whole number, got '1.5'",
        ),
    ],
)
def test_unreadable_nodes(the_node: dict[str, Any], message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        node_inventory(the_node, TABLE)
    assert message in str(caught.value)


def test_encode_inventory_round_trip() -> None:
    devices = [
        GpuDevice(0, "GPU-a", "NVIDIA-A100-SXM4-80GB", 81920),
        GpuDevice(1, "GPU-b", "NVIDIA-A100-SXM4-80GB", 81920),
    ]
    text = encode_inventory(devices)
    assert text == (
        '{"version":1,"gpus":['
        '{"index":0,"uuid":"GPU-a","model":"NVIDIA-A100-SXM4-80GB","memoryMiB":81920},'
        '{"index":1,"uuid":"GPU-b","model":"NVIDIA-A100-SXM4-80GB","memoryMiB":81920}]}'
    )
    inv = node_inventory(node(annotations={INV: text}, allocatable={"cpu": "1"}), {})
    assert list(inv.devices) == devices
    assert encode_inventory(list(inv.devices)) == text
