"""DotProd: the node whose free vector has the smallest dot product with the pod's demand.

Vectors are [cpu, total GPU], each divided by the largest node's; as published the score is
int(100 (1 - dot / 2)), so higher wins.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import F64, I64, Policy
from snugfit.packing.policies.bestfit import demand_vector, free_vectors


class DotProd(Policy):
    name = "dotprod"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        cpu, gpu = free_vectors(state, nodes)
        want_cpu, want_gpu = demand_vector(state, demand)
        result: F64 = np.trunc(100 * (1 - (cpu * want_cpu + gpu * want_gpu) / 2))
        return result
