"""One scheduling decision: filter, score, break ties, choose GPUs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, gpu_need
from snugfit.packing.feasibility import Reason, feasibility, summarize
from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.per_node_cache import PerNodeCache
from snugfit.packing.placement import Placement
from snugfit.packing.policies.base import F64, I64, Policy
from snugfit.packing.workload import WorkloadLearner


@dataclass(frozen=True)
class Unschedulable:
    """No node fits: the reason per node and a one-line summary for people."""

    reasons: NDArray[np.int8]

    @property
    def message(self) -> str:
        return summarize(self.reasons)


class NodeScoreCache:
    """Per-pod-shape node scores, recomputed only for nodes that changed since last asked.

    Valid for node-local policies, whose score of a node depends on that node and the pod only.
    """

    def __init__(self, policy: Policy, max_shapes: int = 512) -> None:
        self.policy = policy
        self._scores = PerNodeCache(np.float64, max_shapes)

    def scores(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        if not self.policy.node_local:
            return self.policy.score(state, demand, nodes)
        return self._scores.values(
            state, demand, nodes, lambda stale: self.policy.score(state, demand, stale)
        )


def pick_best(nodes: I64, scores: F64, rng: np.random.Generator, rank: I64 | None) -> int:
    """The highest-scoring node. Equal best scores go to the lowest ``rank`` when one is given,
    else to a uniform draw."""
    best = nodes[scores == scores.max()]
    if len(best) == 1:
        return int(best[0])
    if rank is not None:
        return int(best[np.argmin(rank[best])])
    return int(best[rng.integers(len(best))])


def placement_on(
    state: ClusterState, demand: PodDemand, node: int, slots: tuple[int, ...]
) -> Placement:
    need = gpu_need(state, demand)[node]
    return Placement(
        node=node,
        gpu_slots=slots,
        gpu_milli=tuple(int(need[s]) for s in slots),
        cpu_milli=demand.cpu_milli,
        memory_mib=demand.memory_mib,
    )


class Scheduler:
    """Places pods one at a time with a policy; the same object serves simulator and extender."""

    def __init__(self, policy: Policy, rng: np.random.Generator) -> None:
        self.policy = policy
        self.rng = rng
        self.cache = NodeScoreCache(policy)
        self.learner = WorkloadLearner()
        self._rank: I64 | None = None

    def observe(self, state: ClusterState, demand: PodDemand) -> None:
        """An arriving pod: policies that learn their target workload learn from it."""
        if not self.policy.learns_workload:
            return
        keep = self.policy.keeps_multi_gpu_shapes
        workload = self.learner.observe(demand, state.models, keep_multi_gpu=keep)
        if workload is not None:
            self.retarget(workload)

    def retarget(self, workload: TargetWorkload) -> None:
        """Score against ``workload`` from now on; cached scores are dropped, the node order
        for ties is kept."""
        self.policy.retarget(workload)
        self.cache = NodeScoreCache(self.policy)

    def rank(self, num_nodes: int) -> I64 | None:
        """The run's fixed random node order, drawn on first use (rank tie-break only)."""
        if self.policy.tie_break != "rank":
            return None
        if self._rank is None or len(self._rank) != num_nodes:
            self._rank = self.rng.permutation(num_nodes).astype(np.int64)
        return self._rank

    def scores(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        """The policy's scores for feasible ``nodes``, as the extender reports them."""
        scores = self.policy.rescore(state, demand, nodes, self.cache.scores(state, demand, nodes))
        return self.policy.normalize(scores)

    def decide(self, state: ClusterState, demand: PodDemand) -> Placement | Unschedulable:
        reasons = feasibility(state, demand)
        feasible = np.flatnonzero(reasons == Reason.FITS)
        if len(feasible) == 0:
            return Unschedulable(reasons)
        rank = self.rank(state.num_nodes)
        nodes = self.policy.candidates(state, feasible)
        if len(nodes) == 1:
            node = int(nodes[0])
        else:
            node = pick_best(nodes, self.scores(state, demand, nodes), self.rng, rank)
        return placement_on(state, demand, node, self.policy.choose_gpus(state, demand, node))
