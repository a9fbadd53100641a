"""The node agent against a stand-in NVML module (no GPU here) and a stand-in API client."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from snugfit.scheduler.agent.nvml_inventory import NvmlUnavailableError, read_gpus
from snugfit.scheduler.agent.report import annotation_patch, capacity_patch
from snugfit.scheduler.agent.run import report_once
from snugfit.scheduler.protocol.inventory import GpuDevice, node_inventory


class FakeNvml:
    """Two GPUs as NVML describes them: names with spaces, memory in bytes, bytes strings."""

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init = fail_init
        self.shutdowns = 0

    def nvmlInit(self) -> None:  # noqa: N802 - NVML's names
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:  # noqa: N802
        return SimpleNamespace(total=81559 * 2**20 + 123)

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, handle: int) -> str:  # noqa: N802
        return f"GPU-{handle:04d}"


DEVICES = [GpuDevice(0, "GPU-0000", "NVIDIA-H100-80GB-HBM3", 81559),
           GpuDevice(1, "GPU-0001", "NVIDIA-H100-80GB-HBM3", 81559)]  # fmt: skip


def test_read_gpus_names_sizes_and_shuts_down() -> None:
    nvml = FakeNvml()
    assert read_gpus(nvml) == DEVICES  # type: ignore[arg-type]
    assert nvml.shutdowns == 1


def test_read_gpus_without_nvml_is_a_clear_error() -> None:
    with pytest.raises(NvmlUnavailableError, match="NVML could not start: NVML Shared Library"):
        read_gpus(FakeNvml(fail_init=True))  # type: ignore[arg-type]


def test_patches_write_what_the_extender_reads_and_nothing_when_unchanged() -> None:
    status = {"capacity": {"cpu": "8"}, "allocatable": {"cpu": "8", "memory": "64Gi"}}
    node: dict[str, Any] = {
        "metadata": {"name": "n1", "annotations": {"other": "x"}},
        "status": status,
    }
    ops = annotation_patch(node, DEVICES)
    assert ops is not None and ops[0]["path"] == "/metadata/annotations/snugfit.io~1gpu-inventory"
    node["metadata"]["annotations"]["snugfit.io/gpu-inventory"] = ops[0]["value"]
    assert annotation_patch(node, DEVICES) is None
    assert capacity_patch(node, DEVICES) == [
        {"op": "add", "path": "/status/capacity/snugfit.io~1gpu-memory", "value": "163118"},
        {"op": "add", "path": "/status/capacity/snugfit.io~1gpu-milli", "value": "2000"},
    ]
    inventory = node_inventory(node, {})
    assert inventory.source == "agent" and inventory.devices == tuple(DEVICES)


class FakeKube:
    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node
        self.patches: list[tuple[str, list[dict[str, Any]]]] = []

    async def get(self, path: str) -> dict[str, Any]:
        return self.node

    async def json_patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        self.patches.append((path, ops))
        return self.node


@pytest.mark.asyncio
async def test_report_once_patches_metadata_then_status() -> None:
    kube = FakeKube({"metadata": {"name": "n1"}, "status": {"capacity": {}}})
    assert await report_once(kube, "n1", FakeNvml())  # type: ignore[arg-type]
    assert [p for p, _ in kube.patches] == ["/api/v1/nodes/n1", "/api/v1/nodes/n1/status"]
    annotation = kube.patches[0][1][0]["value"]["snugfit.io/gpu-inventory"]
    second = {"index": 1, "uuid": "GPU-0001", "model": "NVIDIA-H100-80GB-HBM3", "memoryMiB": 81559}
    assert json.loads(annotation)["gpus"][1] == second
