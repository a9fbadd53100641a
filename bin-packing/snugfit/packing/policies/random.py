"""Random: any feasible node, uniformly; a sharing pod's GPU at random among those that fit."""

from __future__ import annotations

import numpy as np

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import F64, I64, Policy


class RandomPolicy(Policy):
    name = "random"
    tie_break = "uniform"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        return np.zeros(len(nodes))

    def choose_gpus(self, state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
        """A random fitting GPU for a sharing pod; the first free GPUs for whole-GPU pods, as
        the published simulator gives every policy."""
        if not demand.is_sharing:
            return gpu_choice.first_fit(state, demand, node)
        return gpu_choice.random_fit(state, demand, node, self.context.rng)
