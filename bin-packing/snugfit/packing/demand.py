"""What one pod asks for, and the share it needs on each GPU slot of each node."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import GPU_MILLI, ClusterState

# A share no GPU can give: used where a slot cannot be sized (unknown memory, padding).
UNREACHABLE = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class PodDemand:
    """A pod's request.

    ``gpu_count`` GPUs, each giving ``gpu_milli`` of its share (1000 = the whole GPU), or,
    when ``gpu_memory_mib`` is set, that much GPU memory on each (converted per GPU, since GPU
    sizes differ). ``allowed_models`` restricts the GPU models; None allows any.
    """

    cpu_milli: int
    memory_mib: int
    gpu_count: int = 0
    gpu_milli: int = 0
    gpu_memory_mib: int = 0
    allowed_models: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("cpu_milli", "memory_mib", "gpu_count", "gpu_milli", "gpu_memory_mib"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not 0 <= self.gpu_milli <= GPU_MILLI:
            raise ValueError(f"gpu_milli must be within 0..{GPU_MILLI}, got {self.gpu_milli}")
        if self.gpu_count and not (self.gpu_milli or self.gpu_memory_mib):
            raise ValueError("a GPU pod needs gpu_milli or gpu_memory_mib")
        if self.gpu_count > 1 and self.gpu_milli and self.gpu_milli < GPU_MILLI:
            raise ValueError("a fractional share is only allowed with gpu_count == 1")

    @property
    def is_sharing(self) -> bool:
        """True for a pod that takes part of one GPU."""
        if self.gpu_count != 1:
            return False
        return self.gpu_memory_mib > 0 or self.gpu_milli < GPU_MILLI

    @property
    def total_gpu_milli(self) -> int:
        """GPU request in milli-GPU as the benchmark counts it (count x share)."""
        return self.gpu_count * self.gpu_milli


def without_sharing(demand: PodDemand) -> PodDemand:
    """The same pod on a cluster without GPU sharing: each GPU it touches is taken whole."""
    if demand.gpu_count == 0:
        return demand
    return replace(demand, gpu_milli=GPU_MILLI, gpu_memory_mib=0)


def model_mask(state: ClusterState, demand: PodDemand) -> NDArray[np.bool_]:
    """(nodes, slots): real GPUs whose model the pod accepts."""
    if demand.allowed_models is None:
        return state.gpu_real
    allowed = [i for i, m in enumerate(state.models) if m in demand.allowed_models]
    return state.gpu_real & np.isin(state.gpu_model, allowed)


def gpu_need(state: ClusterState, demand: PodDemand) -> NDArray[np.int64]:
    """(nodes, slots): the milli-share the pod would take on each slot (a read-only broadcast
    when the pod asks for a share rather than memory)."""
    if demand.gpu_memory_mib == 0:
        return np.broadcast_to(np.int64(demand.gpu_milli), state.gpu_capacity.shape)
    mem = state.gpu_memory_mib
    sized = mem > 0
    need = -(-demand.gpu_memory_mib * GPU_MILLI // np.where(sized, mem, 1))
    return np.where(sized & (need <= GPU_MILLI), need, UNREACHABLE).astype(np.int64)
