"""Clustering (GpuClustering as published): keep sharing pods and whole-GPU pods on separate
nodes.

score = base + 75 if the node hosts only pods of the pod's kind, + 50 if it hosts that kind
among others, + 25 if it hosts no GPU pods, + 0 if only other kinds; base = 25 (G - L) // G in
integers, L the node's free GPU share and G the largest node's. CPU-only pods score 0.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import PodKind
from snugfit.packing.policies.base import F64, I64, Policy


class Clustering(Policy):
    name = "clustering"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        if demand.gpu_count == 0:
            return np.zeros(len(nodes))
        largest = state.largest_gpu
        base = 25 * (largest - state.gpu_free[nodes].sum(axis=1)) // largest
        kind = PodKind.SHARING if demand.is_sharing else PodKind.WHOLE_GPU
        other = PodKind.WHOLE_GPU if kind == PodKind.SHARING else PodKind.SHARING
        same = state.pods_by_kind[nodes, kind] > 0
        others = state.pods_by_kind[nodes, other] > 0
        bonus = np.where(same, np.where(others, 50, 75), np.where(others, 0, 25))
        result: F64 = (base + bonus).astype(np.float64)
        return result
