"""Packing (GpuPacking as published): fill partly used GPUs first, then free GPUs on partly used
nodes, then idle nodes.

Integer tiers as in the published simulator: an all-idle node scores max(33 - f, f) for its f
free GPUs; a node where the pod needs u > 0 free GPUs scores max(50 - u, 33); a pod that fits
on partly used GPUs scores max(100 - R // 10, 50), R = sum of their free share in percent.
The GPUs considered are the first that fit in order of least free share. CPU-only pods score 0.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.demand import PodDemand, gpu_need, model_mask
from snugfit.packing.policies.base import F64, I64, Policy


class Packing(Policy):
    name = "packing"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        if demand.gpu_count == 0:
            return np.zeros(len(nodes))
        free = state.gpu_free[nodes]
        real = state.gpu_real[nodes]
        idle = real & (free == GPU_MILLI)
        idle_count = idle.sum(axis=1)
        order = np.argsort(free, axis=1, kind="stable")
        sorted_free = np.take_along_axis(free, order, axis=1)
        sorted_need = np.take_along_axis(gpu_need(state, demand)[nodes], order, axis=1)
        allowed = model_mask(state, demand)[nodes]
        fit = np.take_along_axis(allowed, order, axis=1) & (sorted_free >= sorted_need)
        used = fit & (np.cumsum(fit, axis=1) <= demand.gpu_count)
        needs_idle = (used & (sorted_free == GPU_MILLI)).sum(axis=1)
        percent_left = np.where(used, sorted_free * 100 // GPU_MILLI, 0).sum(axis=1)
        scores = np.where(
            idle_count == real.sum(axis=1),
            np.maximum(33 - idle_count, idle_count),
            np.where(
                needs_idle > 0,
                np.maximum(50 - needs_idle, 33),
                np.maximum(100 - percent_left // 10, 50),
            ),
        )
        result: F64 = scores.astype(np.float64)
        return result
