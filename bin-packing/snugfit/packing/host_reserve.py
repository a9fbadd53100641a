"""Nodes kept for the multi-GPU pods that few nodes can host.

A pod taking all GPUs of a node and most of its CPU (an 8-GPU pod asking for 120 cores) fits
only the few idle nodes with that much CPU. The CPU-capped measure sends CPU-heavy one-GPU
pods to exactly those nodes, where CPU per GPU is plentiful, and the fragmentation measure
values a room that only a rare shape uses at almost nothing (the shape's frequency is tiny),
so such nodes were opened one by one and the big pods then failed while most of the cluster
was still free.

For each shape m of the learned mix that takes two or more whole GPUs (k_m GPUs, c_m CPU):
its host slots H_m are the pods of m the nodes could take now (per node, its idle GPUs of a
model m accepts, divided by k_m, at most its free CPU divided by c_m). Until the cluster is
full, m's share f_m of the mix's GPU demand is expected of the free GPU share F, that is
E_m = f_m F / (1000 k_m) pods of m. m's hosts are claimed while H_m <= E_m + 2 sqrt(E_m)
(the expected arrivals and two standard deviations of their Poisson spread). A pod goes first
to nodes where it takes no slot of a claimed shape, and to the others only when no such node
fits it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
SPREAD = 2.0  # standard deviations of the expected arrivals kept on top of them


def multi_gpu_shapes(workload: TargetWorkload) -> I64:
    """Indices of the shapes taking two or more whole GPUs."""
    result: I64 = np.flatnonzero((workload.gpu_count >= 2) & (workload.gpu_milli >= GPU_MILLI))
    return result


def host_slots(
    workload: TargetWorkload,
    shapes: I64,
    gpu_free: I64,
    gpu_capacity: I64,
    gpu_model: I64,
    cpu_free: I64,
) -> I64:
    """(rows, shapes): pods of each shape each node row could take now: its idle GPUs of a
    model the shape accepts, divided by the shape's GPU count, at most its free CPU divided by
    the shape's CPU. Padding slots (capacity 0) are never idle."""
    idle = (gpu_free == gpu_capacity) & (gpu_capacity > 0)
    if workload.model_allowed[shapes, :-1].all():  # any model: every idle GPU counts
        gpus = np.broadcast_to(idle.sum(axis=1)[:, None], (len(gpu_free), len(shapes)))
    else:  # padding's model (NO_MODEL) indexes the last column, which is never allowed
        accepted = workload.model_allowed[shapes][:, gpu_model]  # (shapes, rows, slots)
        gpus = (idle[None, :, :] & accepted).sum(axis=2).T
    cpu = workload.cpu_milli[shapes]
    by_cpu = np.maximum(cpu_free, 0)[:, None] // np.maximum(cpu, 1)[None, :]
    by_gpus = gpus // workload.gpu_count[shapes][None, :]
    result: I64 = np.where(cpu[None, :] > 0, np.minimum(by_gpus, by_cpu), by_gpus)
    return result


class HostReserve:
    """Which fitting nodes a pod should prefer so that the hosts of rare multi-GPU shapes
    stay free for them, for one learned workload. Host slots are kept per node, with their
    totals, and refreshed for the nodes whose version moved (one cluster state at a time)."""

    def __init__(self, workload: TargetWorkload) -> None:
        self.workload = workload
        self.shapes = multi_gpu_shapes(workload)
        demand = workload.weight * workload.gpu_milli * workload.gpu_count
        total = float(demand.sum())
        self.fraction: F64 = demand[self.shapes] / total if total > 0 else np.zeros(0)
        self._state: ClusterState | None = None
        self._versions: I64 = np.zeros(0, dtype=np.int64)
        self._slots: I64 = np.zeros((0, len(self.shapes)), dtype=np.int64)
        self._totals: I64 = np.zeros(len(self.shapes), dtype=np.int64)

    def slots(self, state: ClusterState) -> I64:
        """(nodes, shapes): ``host_slots`` of every node of ``state``."""
        if state is not self._state or len(self._versions) != state.num_nodes:
            self._state = state
            self._versions = np.full(state.num_nodes, -1, dtype=np.int64)
            self._slots = np.zeros((state.num_nodes, len(self.shapes)), dtype=np.int64)
            self._totals = np.zeros(len(self.shapes), dtype=np.int64)
        stale = np.flatnonzero(self._versions != state.version)
        if len(stale):
            self._totals -= self._slots[stale].sum(axis=0)
            self._slots[stale] = host_slots(
                self.workload,
                self.shapes,
                state.gpu_free[stale],
                state.gpu_capacity[stale],
                state.gpu_model[stale],
                state.cpu_free[stale],
            )
            self._versions[stale] = state.version[stale]
            self._totals += self._slots[stale].sum(axis=0)
        return self._slots

    def claimed(self, state: ClusterState) -> Bool:
        """(shapes,): shapes whose host slots are no more than their expected arrivals until
        the cluster is full, plus two standard deviations."""
        self.slots(state)
        return self._claims(state)

    def _claims(self, state: ClusterState) -> Bool:
        """``claimed``, from the slot totals as ``slots`` last left them."""
        free = float(state.gpu_free.sum())  # padding slots have none
        expected = self.fraction * free / (GPU_MILLI * self.workload.gpu_count[self.shapes])
        result: Bool = self._totals <= expected + SPREAD * np.sqrt(expected)
        return result

    def preferred_nodes(
        self,
        state: ClusterState,
        demand: PodDemand,
        nodes: I64,
        free_after: Callable[[I64], I64],
    ) -> Bool | None:
        """Which of ``nodes`` (all fitting the pod) the pod would leave every slot of a claimed
        shape on; ``free_after(nodes)`` gives their GPUs' free share after the pod. None when
        that does not narrow the choice (no shape claimed, or no node or every node)."""
        if not len(self.shapes) or (demand.gpu_count == 0 and demand.cpu_milli <= 0):
            return None
        slots = self.slots(state)
        claimed = self._claims(state)
        if not claimed.any():
            return None
        before = slots[nodes][:, claimed]
        hosting = np.flatnonzero(before.any(axis=1))  # only these can lose a slot
        if not len(hosting):
            return None
        on = nodes[hosting]
        after = host_slots(
            self.workload,
            self.shapes[claimed],
            free_after(on),
            state.gpu_capacity[on],
            state.gpu_model[on],
            state.cpu_free[on] - demand.cpu_milli,
        )
        preferred = np.ones(len(nodes), dtype=bool)
        preferred[hosting] = ~(after < before[hosting]).any(axis=1)
        if preferred.all() or not preferred.any():
            return None
        return preferred
