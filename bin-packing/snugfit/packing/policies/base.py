"""The one small interface every packing policy implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may know besides the cluster: its random source and the target workload."""

    rng: np.random.Generator
    workload: TargetWorkload | None = None


class Policy(ABC):
    """Scores feasible nodes (higher wins; equal best scores are broken at random) and picks
    the GPU slots inside the chosen node.

    ``node_local`` policies score a node from that node's state and the pod alone, so scores
    may be cached per node until the node changes; ``normalize`` may then rescale the scores
    of one decision together.

    ``learns_workload`` policies ignore the context's target workload and are given one learned
    from the pods seen so far through ``retarget``.

    ``tie_break`` says how equal best scores are broken: "rank" picks the node earliest in one
    seeded random order fixed for the run (as the published benchmark simulator does);
    "uniform" draws among them for every pod (as kube-scheduler's selectHost does).
    """

    name: ClassVar[str]
    node_local: ClassVar[bool] = True
    tie_break: ClassVar[Literal["rank", "uniform"]] = "rank"
    learns_workload: ClassVar[bool] = False
    keeps_multi_gpu_shapes: ClassVar[bool] = True  # in a learned target, however rare

    def __init__(self, context: PolicyContext) -> None:
        self.context = context

    def candidates(self, state: ClusterState, feasible: I64) -> I64:
        """The feasible nodes this policy scores (all of them unless it samples)."""
        return feasible

    @abstractmethod
    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        """One score per node in ``nodes`` (all feasible for the pod)."""

    def rescore(self, state: ClusterState, demand: PodDemand, nodes: I64, scores: F64) -> F64:
        """``scores`` of ``nodes`` adjusted by what no single node shows (the cluster as a
        whole); applied after per-node caching. Identity unless the policy has such a term."""
        del state, demand, nodes
        return scores

    def normalize(self, scores: F64) -> F64:
        """Rescale one decision's scores together (identity unless the policy normalises)."""
        return scores

    def retarget(self, workload: TargetWorkload) -> None:
        """Score against a new target workload from now on (ignored by policies without one)."""
        del workload

    def choose_gpus(self, state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
        """GPU slots for the pod on ``node``: best fit unless the policy says otherwise."""
        return gpu_choice.best_fit(state, demand, node)
