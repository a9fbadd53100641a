"""Stock kube-scheduler resource scoring (v1.34), shared by the k8s-* models.

Integer maths as upstream: NodeResourcesFit LeastAllocated / MostAllocated over cpu and memory
with weight 1 each, zero requests (of the pods on the node and of the incoming pod) counted as
100m cpu / 200 MiB for scoring only; NodeResourcesBalancedAllocation on actual requests, skipped for pods that
request neither cpu nor memory. GPUs are extended resources and are not scored by default.
Sources: pkg/scheduler/framework/plugins/noderesources/{least,most}_allocated.go,
balanced_allocation.go, resource_allocation.go; pkg/scheduler/util/pod_resources.go.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import (
    SCORING_DEFAULT_CPU_MILLI,
    SCORING_DEFAULT_MEMORY_MIB,
    ClusterState,
)
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import I64

MAX_NODE_SCORE = 100


def _scoring_requests(
    state: ClusterState, demand: PodDemand, nodes: I64, score_gpus: bool
) -> list[tuple[I64, I64]]:
    """(requested incl. the pod, allocatable) per scored resource.

    The GPU, an extended resource, is scored only when configured and only for pods that
    request it (upstream skips a scalar resource the pod does not request).
    """
    cpu = demand.cpu_milli or SCORING_DEFAULT_CPU_MILLI
    mem = demand.memory_mib or SCORING_DEFAULT_MEMORY_MIB
    pairs = [
        (state.cpu_scored[nodes] + cpu, state.cpu_capacity[nodes]),
        (state.memory_scored[nodes] + mem, state.memory_capacity[nodes]),
    ]
    if score_gpus and demand.gpu_count:
        gpu_used = state.gpu_used[nodes].sum(axis=1) + demand.total_gpu_milli
        pairs.append((gpu_used, state.gpu_capacity[nodes].sum(axis=1)))
    return pairs


def _weighted_floor_mean(per_resource: list[tuple[I64, I64]]) -> I64:
    """Average of per-resource scores (weight 1 each), skipping resources with capacity 0."""
    total = np.zeros_like(per_resource[0][0])
    weights = np.zeros_like(total)
    for score, capacity in per_resource:
        counted = capacity > 0
        total += np.where(counted, score, 0)
        weights += counted
    return np.where(weights > 0, total // np.maximum(weights, 1), 0)


def least_allocated(
    state: ClusterState, demand: PodDemand, nodes: I64, score_gpus: bool = False
) -> I64:
    """floor((cap - req) * 100 / cap) per resource, 0 when req > cap; floor mean."""
    scored = []
    for req, cap in _scoring_requests(state, demand, nodes, score_gpus):
        safe = np.maximum(cap, 1)
        scored.append((np.where(req > cap, 0, (cap - req) * MAX_NODE_SCORE // safe), cap))
    return _weighted_floor_mean(scored)


def most_allocated(
    state: ClusterState, demand: PodDemand, nodes: I64, score_gpus: bool = False
) -> I64:
    """floor(min(req, cap) * 100 / cap) per resource; floor mean."""
    scored = []
    for req, cap in _scoring_requests(state, demand, nodes, score_gpus):
        safe = np.maximum(cap, 1)
        scored.append((np.minimum(req, cap) * MAX_NODE_SCORE // safe, cap))
    return _weighted_floor_mean(scored)


def balanced_allocation(state: ClusterState, demand: PodDemand, nodes: I64) -> I64:
    """int((1 - |f_cpu - f_mem| / 2) * 100) with f = min(requested / allocatable, 1)."""
    if demand.cpu_milli == 0 and demand.memory_mib == 0:
        return np.zeros(len(nodes), dtype=np.int64)
    fractions = []
    counted = []
    for used, cap, req in (
        (state.cpu_used, state.cpu_capacity, demand.cpu_milli),
        (state.memory_used, state.memory_capacity, demand.memory_mib),
    ):
        c = cap[nodes]
        fractions.append(np.minimum((used[nodes] + req) / np.maximum(c, 1), 1.0))
        counted.append(c > 0)
    # resources with no allocatable are skipped; with one resource left the spread is 0
    both = counted[0] & counted[1]
    std = np.where(both, np.abs((fractions[0] - fractions[1]) / 2), 0.0)
    return ((1 - std) * 100.0).astype(np.int64)


def feasible_nodes_to_find(num_nodes: int, percentage: int) -> int:
    """numFeasibleNodesToFind of schedule_one.go (percentage 0 = adaptive)."""
    min_find, min_pct = 100, 5
    if num_nodes < min_find:
        return num_nodes
    pct = percentage
    if pct == 0:
        pct = max(50 - num_nodes // 125, min_pct)
    return max(num_nodes * pct // 100, min_find)


class NodeSampler:
    """kube-scheduler's search for feasible nodes: from a rotating start, stop after
    numFeasibleNodesToFind feasible nodes; the start advances by feasible kept + infeasible seen.

    This is the sequential limit of upstream's parallel search (which keeps roughly, not
    exactly, the same nodes when more than the quota are feasible).
    """

    def __init__(self, percentage: int) -> None:
        if not 0 <= percentage <= 100:
            raise ValueError(f"percentage_of_nodes_to_score must be in 0..100, got {percentage}")
        self.percentage = percentage
        self.next_start = 0

    def sample(self, num_nodes: int, feasible: I64) -> I64:
        quota = feasible_nodes_to_find(num_nodes, self.percentage)
        start = self.next_start
        # feasible node positions in search order, starting at `start`
        order = np.sort((feasible - start) % num_nodes)
        kept = order[:quota]
        examined = int(kept[-1]) + 1 if len(kept) == quota else num_nodes
        self.next_start = (start + examined) % num_nodes
        result: I64 = (kept + start) % num_nodes
        return result
