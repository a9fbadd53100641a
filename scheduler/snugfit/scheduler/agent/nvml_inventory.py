"""The GPUs of this machine, read through NVML (NVIDIA's `nvidia-ml-py`, imported as pynvml).

The NVML module is passed in so that tests can give a fake; production passes `pynvml`.
"""

from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any

from snugfit.scheduler.protocol.inventory import GpuDevice


class NvmlUnavailableError(RuntimeError):
    """NVML cannot be used here (no driver, no GPU, or no library); the message says why."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_gpus(nvml: ModuleType) -> list[GpuDevice]:
    """Every GPU NVML sees, by index: UUID, product name (spaces as dashes, as GPU Feature
    Discovery labels them) and total memory in MiB."""
    try:
        nvml.nvmlInit()
    except Exception as exc:
        raise NvmlUnavailableError(f"NVML could not start: {exc}") from None
    try:
        devices = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            name = _text(nvml.nvmlDeviceGetName(handle)).strip().replace(" ", "-")
            devices.append(
                GpuDevice(
                    index, _text(nvml.nvmlDeviceGetUUID(handle)), name, int(memory.total) // 2**20
                )
            )
        return devices
    except Exception as exc:
        raise NvmlUnavailableError(f"NVML query failed: {exc}") from None
    finally:
        with contextlib.suppress(Exception):  # a failed shutdown changes nothing we report
            nvml.nvmlShutdown()


def load_nvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:
        raise NvmlUnavailableError(f"the nvidia-ml-py package is not installed: {exc}") from None
    module: ModuleType = pynvml
    return module
