"""A placement: one pod on one node, with the exact GPU slots and the share taken on each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray


class PodKind(IntEnum):
    """What a pod does with GPUs; clustering policies group pods by it."""

    CPU_ONLY = 0
    SHARING = 1
    WHOLE_GPU = 2


@dataclass(frozen=True)
class Placement:
    node: int
    gpu_slots: tuple[int, ...]
    gpu_milli: tuple[int, ...]
    cpu_milli: int
    memory_mib: int

    def __post_init__(self) -> None:
        if len(self.gpu_slots) != len(self.gpu_milli):
            raise ValueError("gpu_slots and gpu_milli must have the same length")

    def kind(self, slot_capacity: NDArray[np.int64]) -> PodKind:
        """CPU-only, sharing (part of one GPU) or whole-GPU, given the slots' capacities."""
        if not self.gpu_slots:
            return PodKind.CPU_ONLY
        if len(self.gpu_slots) == 1 and self.gpu_milli[0] < int(slot_capacity[0]):
            return PodKind.SHARING
        return PodKind.WHOLE_GPU
