"""BestFit: the node with the least CPU and GPU left after the pod, half weight each.

raw = int(100 (1 - [0.5 (cpu_free - cpu) / max_cpu + 0.5 (gpu_free - gpu) / max_gpu])), with
the maxima of the cluster's largest node (128 cores, 8 GPUs on the published trace), then, as
published, min-max normalised to 0..100 in integers over the decision's feasible nodes.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import F64, I64, Policy


def free_vectors(state: ClusterState, nodes: I64) -> tuple[F64, F64]:
    """Free CPU and free GPU share per node, as fractions of the largest node."""
    cpu = state.cpu_free[nodes] / state.largest_cpu
    gpu = state.gpu_free[nodes].sum(axis=1) / state.largest_gpu
    return cpu.astype(np.float64), gpu.astype(np.float64)


def demand_vector(state: ClusterState, demand: PodDemand) -> tuple[float, float]:
    return demand.cpu_milli / state.largest_cpu, demand.total_gpu_milli / state.largest_gpu


class BestFit(Policy):
    name = "bestfit"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        cpu, gpu = free_vectors(state, nodes)
        want_cpu, want_gpu = demand_vector(state, demand)
        left = 0.5 * (cpu - want_cpu) + 0.5 * (gpu - want_gpu)
        result: F64 = np.trunc((1 - left) * 100)
        return result

    def normalize(self, scores: F64) -> F64:
        lo, hi = scores.min(), scores.max()
        if hi == lo:
            return np.zeros_like(scores)
        result: F64 = (scores - lo) * 100 // (hi - lo)
        return result
