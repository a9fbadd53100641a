"""GPU models kept for the pods that can use nothing else.

Pods that accept any GPU model go wherever the fragmentation measure sends them, including
the few GPUs of a model that other pods require; those pods then find their model full. The
measure cannot see this: taking whole GPUs of a node fragments nothing.

From the learned mix, the share of GPU demand that only some of the cluster's models can take
is spread over those models by capacity: model j's claimed fraction f_j. Until the cluster is
full, about f_j of its free capacity F is expected to arrive for model j, so j has spare
capacity while free_j > f_j F. A pod that may use several models goes to models with spare
capacity first, and to claimed ones only when no node with spare capacity fits it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import fitting_slots
from snugfit.packing.fragmentation import TargetWorkload

F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]


def by_model(state: ClusterState, per_slot: NDArray[np.int64]) -> F64:
    """(models,): ``per_slot`` (nodes, slots) summed over the real GPUs of each model."""
    models = len(state.models)
    index = np.where(state.gpu_real, state.gpu_model, models)
    totals = np.bincount(index.ravel(), weights=per_slot.ravel(), minlength=models + 1)
    result: F64 = totals[:models].astype(np.float64)
    return result


def claimed_fractions(workload: TargetWorkload, capacity: F64) -> F64:
    """(models,): f_j, the share of the workload's GPU demand that only a subset of the
    cluster's models (those with ``capacity`` > 0) can take, spread over it by capacity."""
    present = capacity > 0
    demand = workload.weight * workload.gpu_milli * workload.gpu_count
    total = demand.sum()
    fractions = np.zeros(len(capacity))
    if total <= 0:
        return fractions
    for shape in np.flatnonzero(demand > 0):
        usable = workload.model_allowed[shape, : len(capacity)] & present
        if usable.sum() == present.sum() or not usable.any():
            continue  # any model will do, or none in this cluster
        fractions[usable] += demand[shape] / total * capacity[usable] / capacity[usable].sum()
    return fractions


class ModelReserve:
    """Which fitting GPUs a pod should prefer, for one learned workload."""

    def __init__(self, workload: TargetWorkload) -> None:
        self.workload = workload
        # per cluster (its capacity array, held so that its identity stays valid): capacity
        # by model and the claimed fractions
        self._cluster: tuple[NDArray[np.int64], F64, F64] | None = None

    def capacity_and_fractions(self, state: ClusterState) -> tuple[F64, F64]:
        if self._cluster is None or self._cluster[0] is not state.gpu_capacity:
            capacity = by_model(state, state.gpu_capacity)
            fractions = claimed_fractions(self.workload, capacity)
            self._cluster = (state.gpu_capacity, capacity, fractions)
        return self._cluster[1], self._cluster[2]

    def spare_models(self, state: ClusterState) -> Bool:
        """(models,): models whose free capacity exceeds what the claiming pods will need."""
        capacity, fractions = self.capacity_and_fractions(state)
        free = by_model(state, state.gpu_free)
        result: Bool = (capacity > 0) & (free > fractions * free.sum())
        return result

    def preferred_nodes(
        self, state: ClusterState, demand: PodDemand, nodes: NDArray[np.int64]
    ) -> Bool | None:
        """Which of ``nodes`` (all fitting the pod) can give it GPUs of a model with spare
        capacity; None when that does not narrow the choice (no model claimed, CPU-only pod,
        one usable model, no such node, or every node)."""
        capacity, fractions = self.capacity_and_fractions(state)
        if demand.gpu_count == 0 or not fractions.any():
            return None
        usable = np.array(
            [demand.allowed_models is None or m in demand.allowed_models for m in state.models]
        )
        if (usable & (capacity > 0)).sum() <= 1:
            return None
        spare = np.append(self.spare_models(state) & usable, False)  # padding: never
        models = np.where(state.gpu_real, state.gpu_model, len(state.models))[nodes]
        preferred: Bool = (fitting_slots(state, demand)[nodes] & spare[models]).any(axis=1)
        if not preferred.any() or preferred.all():
            return None
        return preferred
