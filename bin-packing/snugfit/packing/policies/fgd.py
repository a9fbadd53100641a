"""FGD: place the pod where the cluster's fragmentation grows least (Weng et al., ATC '23).

For a sharing pod every fitting GPU of the node is tried; a pod that takes whole GPUs gets the
first fully free ones. As published, the growth dF (milli-GPU) is scored as
int(100 * sigmoid(-dF / 1000)), so growths within a few dozen milli-GPU tie; the sharing pod's
GPU is the first with the best integer score.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, gpu_need
from snugfit.packing.feasibility import fitting_slots
from snugfit.packing.fragmentation import TargetWorkload, node_fragmentation
from snugfit.packing.per_node_cache import PerNodeCache
from snugfit.packing.policies.base import F64, I64, Policy, PolicyContext


def fragmentation_with(
    state: ClusterState,
    nodes: I64,
    gpu_free: I64,
    cpu_free: I64,
    workload: TargetWorkload,
    cpu_capped: bool = False,
) -> F64:
    """(nodes,): the fragmentation of ``nodes`` (their GPU models and memories) with these free
    GPU shares (nodes, slots) and free CPU (nodes,): as they are, or as a pod would leave them."""
    memory = state.gpu_memory_mib[nodes]
    return node_fragmentation(
        gpu_free, state.gpu_model[nodes], cpu_free, workload, memory, cpu_capped
    )


def fragmentation_now(
    state: ClusterState, nodes: I64, workload: TargetWorkload, cpu_capped: bool = False
) -> F64:
    """(nodes,): each node's fragmentation as it is now."""
    free, cpu = state.gpu_free[nodes], state.cpu_free[nodes]
    return fragmentation_with(state, nodes, free, cpu, workload, cpu_capped)


def growth_per_slot(
    state: ClusterState,
    demand: PodDemand,
    nodes: I64,
    workload: TargetWorkload,
    cpu_capped: bool = False,
    before: F64 | None = None,
) -> F64:
    """(nodes, slots): fragmentation growth if the one-GPU pod goes to that slot; +inf where it
    does not fit. ``before``: the nodes' fragmentation as they are, where already known."""
    fits = fitting_slots(state, demand)[nodes]
    if before is None:
        before = fragmentation_now(state, nodes, workload, cpu_capped)
    rows, slots = np.nonzero(fits)
    after_free = state.gpu_free[nodes[rows]]
    after_free[np.arange(len(rows)), slots] -= gpu_need(state, demand)[nodes][rows, slots]
    cpu_after = state.cpu_free[nodes[rows]] - demand.cpu_milli
    after = fragmentation_with(state, nodes[rows], after_free, cpu_after, workload, cpu_capped)
    growth = np.full(fits.shape, np.inf)
    growth[rows, slots] = after - before[rows]
    return growth


def first_fit_after(state: ClusterState, demand: PodDemand, nodes: I64) -> I64:
    """(nodes, slots): free GPU share of each node after the pod takes its first fitting GPUs
    (as many as it asks for; none for a CPU-only pod)."""
    after: I64 = state.gpu_free[nodes].copy()
    if demand.gpu_count:
        fits = fitting_slots(state, demand)[nodes]
        taken = fits & (np.cumsum(fits, axis=1) <= demand.gpu_count)
        after -= np.where(taken, gpu_need(state, demand)[nodes], 0)
    return after


def whole_growth(
    state: ClusterState,
    demand: PodDemand,
    nodes: I64,
    workload: TargetWorkload,
    cpu_capped: bool = False,
    before: F64 | None = None,
) -> F64:
    """Fragmentation growth when the pod takes the first fitting GPUs (or none) of each node.
    ``before``: the nodes' fragmentation as they are, where already known."""
    if before is None:
        before = fragmentation_now(state, nodes, workload, cpu_capped)
    after_free = first_fit_after(state, demand, nodes)
    cpu_after = state.cpu_free[nodes] - demand.cpu_milli
    after = fragmentation_with(state, nodes, after_free, cpu_after, workload, cpu_capped)
    result: F64 = after - before
    return result


def published_score(growth: F64) -> F64:
    """int64(sigmoid(-growth / 1000) * 100); -1 where the pod does not fit."""
    with np.errstate(over="ignore"):
        score = np.trunc(100.0 / (1.0 + np.exp(growth / 1000.0)))
    result: F64 = np.where(np.isfinite(growth), score, -1.0)
    return result


class Fgd(Policy):
    name = "fgd"

    def __init__(self, context: PolicyContext) -> None:
        super().__init__(context)
        if context.workload is None:
            raise ValueError("fgd needs a target workload")
        self.workload: TargetWorkload = context.workload
        self.best_slots = PerNodeCache(np.int64)  # a sharing pod's GPU on each node
        self.fragmentation = PerNodeCache(np.float64, max_shapes=2)  # per measure (capped?)

    def retarget(self, workload: TargetWorkload) -> None:
        self.workload = workload
        self.best_slots = PerNodeCache(np.int64)
        self.fragmentation = PerNodeCache(np.float64, max_shapes=2)

    def cpu_capped(self, demand: PodDemand) -> bool:
        """Whether this pod is scored with the CPU-capped measure (never, as published)."""
        return False

    def fragmentation_now(self, state: ClusterState, nodes: I64, cpu_capped: bool) -> F64:
        """(nodes,): each node's fragmentation as it is now, under the policy's target (the
        same for every pod scored with that measure, so kept until the node changes)."""

        def measure(stale: I64) -> F64:
            return fragmentation_now(state, stale, self.workload, cpu_capped)

        return self.fragmentation.values(state, cpu_capped, nodes, measure)

    def slot_scores(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        """(nodes, slots): a sharing pod's score on each GPU, -1 where it does not fit."""
        capped = self.cpu_capped(demand)
        before = self.fragmentation_now(state, nodes, capped)
        growth = growth_per_slot(state, demand, nodes, self.workload, capped, before)
        return published_score(growth)

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        if demand.is_sharing:
            slot_scores = self.slot_scores(state, demand, nodes)
            self.best_slots.keep(state, demand, nodes, np.argmax(slot_scores, axis=1))
            result: F64 = slot_scores.max(axis=1)
            return result
        capped = self.cpu_capped(demand)
        before = self.fragmentation_now(state, nodes, capped)
        return published_score(whole_growth(state, demand, nodes, self.workload, capped, before))

    def sharing_slots(self, state: ClusterState, demand: PodDemand, nodes: I64) -> I64:
        """(nodes,): the GPU a sharing pod takes on each node, the first with the best score
        (kept from scoring the node as it is now, or found now)."""

        def choose(stale: I64) -> I64:
            result: I64 = np.argmax(self.slot_scores(state, demand, stale), axis=1)
            return result

        return self.best_slots.values(state, demand, nodes, choose)

    def choose_gpus(self, state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
        if not demand.is_sharing:
            return gpu_choice.first_fit(state, demand, node)
        return (int(self.sharing_slots(state, demand, np.array([node]))[0]),)
