"""Cluster state as numpy arrays: nodes x GPU slots, padded.

Units: CPU in milli-cores, host memory in MiB, GPU share in milli-GPU (1000 = one whole GPU).
Each GPU slot also carries its model (an index into ``models``) and its memory in MiB, so nodes
with GPUs of different models or sizes are representable. Padding slots have capacity 0 and
model -1: they never fit anything and never count as free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.placement import Placement

GPU_MILLI = 1000
NO_MODEL = -1
# kube-scheduler scores a pod that requests no cpu / memory as if it asked for this much
# (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest)
SCORING_DEFAULT_CPU_MILLI = 100
SCORING_DEFAULT_MEMORY_MIB = 200

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class GpuSpec:
    """One physical GPU of a node."""

    model: str
    memory_mib: int = 0


@dataclass(frozen=True)
class NodeSpec:
    """What a node offers to pods: allocatable CPU and memory, and its GPUs in slot order."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpus: tuple[GpuSpec, ...] = ()


class OverCommitError(ValueError):
    """Raised when a placement would exceed a capacity or remove more than was placed."""


@dataclass
class ClusterState:
    """Capacities and usage of every node and GPU slot.

    ``version`` counts changes per node so that scorers can cache per-node results safely.
    """

    node_names: tuple[str, ...]
    models: tuple[str, ...]
    cpu_capacity: I64
    memory_capacity: I64
    gpu_capacity: I64  # (nodes, slots) milli, 0 on padding
    gpu_model: I64  # (nodes, slots) index into models, NO_MODEL on padding
    gpu_memory_mib: I64  # (nodes, slots)
    cpu_used: I64 = field(init=False)
    memory_used: I64 = field(init=False)
    gpu_used: I64 = field(init=False)
    pods_by_kind: I64 = field(init=False)  # (nodes, 3): cpu-only, sharing, whole-GPU pods
    # requests as kube-scheduler's resource scoring counts them (zero requests at defaults)
    cpu_scored: I64 = field(init=False)
    memory_scored: I64 = field(init=False)
    version: I64 = field(init=False)
    changes: int = field(init=False)
    # kept in step with the used arrays, since every decision reads them
    cpu_free: I64 = field(init=False)
    memory_free: I64 = field(init=False)
    gpu_free: I64 = field(init=False)
    # fixed by the capacities
    gpu_real: NDArray[np.bool_] = field(init=False)  # (nodes, slots): not padding
    gpu_count: I64 = field(init=False)  # real GPUs per node
    largest_cpu: int = field(init=False)  # milli-cores of the largest node
    largest_gpu: int = field(init=False)  # GPU milli of the node with most GPUs

    def __post_init__(self) -> None:
        n = len(self.node_names)
        self.cpu_used = np.zeros(n, dtype=np.int64)
        self.memory_used = np.zeros(n, dtype=np.int64)
        self.gpu_used = np.zeros_like(self.gpu_capacity)
        self.pods_by_kind = np.zeros((n, 3), dtype=np.int64)
        self.cpu_scored = np.zeros(n, dtype=np.int64)
        self.memory_scored = np.zeros(n, dtype=np.int64)
        self.version = np.zeros(n, dtype=np.int64)
        self.changes = 0  # placements applied or removed so far
        self.cpu_free = self.cpu_capacity.copy()
        self.memory_free = self.memory_capacity.copy()
        self.gpu_free = self.gpu_capacity.copy()
        self.gpu_real = self.gpu_capacity > 0
        self.gpu_count = self.gpu_real.sum(axis=1).astype(np.int64)
        self.largest_cpu = max(int(self.cpu_capacity.max(initial=0)), 1)
        self.largest_gpu = max(int(self.gpu_capacity.sum(axis=1).max(initial=0)), 1)

    @classmethod
    def from_nodes(cls, nodes: Sequence[NodeSpec]) -> ClusterState:
        """Build an empty cluster; models are numbered in order of first appearance."""
        models: dict[str, int] = {}
        slots = max((len(n.gpus) for n in nodes), default=0)
        shape = (len(nodes), max(slots, 1))
        gpu_capacity = np.zeros(shape, dtype=np.int64)
        gpu_model = np.full(shape, NO_MODEL, dtype=np.int64)
        gpu_memory = np.zeros(shape, dtype=np.int64)
        for i, node in enumerate(nodes):
            for g, gpu in enumerate(node.gpus):
                gpu_capacity[i, g] = GPU_MILLI
                gpu_model[i, g] = models.setdefault(gpu.model, len(models))
                gpu_memory[i, g] = gpu.memory_mib
        return cls(
            node_names=tuple(n.name for n in nodes),
            models=tuple(models),
            cpu_capacity=np.array([n.cpu_milli for n in nodes], dtype=np.int64),
            memory_capacity=np.array([n.memory_mib for n in nodes], dtype=np.int64),
            gpu_capacity=gpu_capacity,
            gpu_model=gpu_model,
            gpu_memory_mib=gpu_memory,
        )

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    def total_gpu_milli(self) -> int:
        return int(self.gpu_capacity.sum())

    def allocated_gpu_milli(self) -> int:
        return int(self.gpu_used.sum())

    def copy(self) -> ClusterState:
        clone = ClusterState(
            node_names=self.node_names,
            models=self.models,
            cpu_capacity=self.cpu_capacity,
            memory_capacity=self.memory_capacity,
            gpu_capacity=self.gpu_capacity,
            gpu_model=self.gpu_model,
            gpu_memory_mib=self.gpu_memory_mib,
        )
        for name in (
            "cpu_scored",
            "memory_scored",
            "cpu_used",
            "memory_used",
            "gpu_used",
            "pods_by_kind",
            "version",
            "cpu_free",
            "memory_free",
            "gpu_free",
        ):
            setattr(clone, name, getattr(self, name).copy())
        clone.changes = self.changes
        return clone

    def apply(self, placement: Placement) -> None:
        """Add a placement; raise OverCommitError (changing nothing) if any capacity would break."""
        self._change(placement, sign=1)

    def remove(self, placement: Placement) -> None:
        """Take a placement back; raise OverCommitError if it was not there."""
        self._change(placement, sign=-1)

    def _change(self, p: Placement, sign: int) -> None:
        n = p.node
        slots = list(p.gpu_slots)
        if len(set(slots)) != len(slots):
            raise OverCommitError(f"placement names a GPU slot twice: {p.gpu_slots}")
        cpu = int(self.cpu_used[n]) + sign * p.cpu_milli
        mem = int(self.memory_used[n]) + sign * p.memory_mib
        gpu = self.gpu_used[n, slots] + sign * np.asarray(p.gpu_milli, dtype=np.int64)
        if not 0 <= cpu <= self.cpu_capacity[n]:
            raise OverCommitError(f"cpu on {self.node_names[n]} would be {cpu}m")
        if not 0 <= mem <= self.memory_capacity[n]:
            raise OverCommitError(f"memory on {self.node_names[n]} would be {mem}Mi")
        if np.any(gpu < 0) or np.any(gpu > self.gpu_capacity[n, slots]):
            raise OverCommitError(f"GPU share on {self.node_names[n]} slots {slots} would be {gpu}")
        kind = p.kind(self.gpu_capacity[n, slots])
        if self.pods_by_kind[n, kind] + sign < 0:
            raise OverCommitError(f"no such pod on {self.node_names[n]} to remove")
        self.pods_by_kind[n, kind] += sign
        self.cpu_scored[n] += sign * (p.cpu_milli or SCORING_DEFAULT_CPU_MILLI)
        self.memory_scored[n] += sign * (p.memory_mib or SCORING_DEFAULT_MEMORY_MIB)
        self.cpu_used[n] = cpu
        self.memory_used[n] = mem
        self.gpu_used[n, slots] = gpu
        self.cpu_free[n] = self.cpu_capacity[n] - cpu
        self.memory_free[n] = self.memory_capacity[n] - mem
        self.gpu_free[n, slots] = self.gpu_capacity[n, slots] - gpu
        self.version[n] += 1
        self.changes += 1
