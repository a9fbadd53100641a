"""How GPU slots are chosen inside the chosen node."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import fitting_slots


def _fits(state: ClusterState, demand: PodDemand, node: int) -> NDArray[np.int64]:
    slots = np.flatnonzero(fitting_slots(state, demand)[node])
    if len(slots) < demand.gpu_count:
        raise ValueError(f"node {state.node_names[node]} cannot host the pod's GPUs")
    return slots


def first_fit(state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
    """The lowest-numbered GPUs that fit."""
    if demand.gpu_count == 0:
        return ()
    return tuple(int(s) for s in _fits(state, demand, node)[: demand.gpu_count])


def best_fit(state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
    """The fitting GPUs with the least free share (lowest slot first among equals)."""
    if demand.gpu_count == 0:
        return ()
    slots = _fits(state, demand, node)
    order = np.argsort(state.gpu_free[node, slots], kind="stable")
    return tuple(sorted(int(s) for s in slots[order[: demand.gpu_count]]))


def random_fit(
    state: ClusterState, demand: PodDemand, node: int, rng: np.random.Generator
) -> tuple[int, ...]:
    """Fitting GPUs drawn uniformly at random."""
    if demand.gpu_count == 0:
        return ()
    slots = _fits(state, demand, node)
    return tuple(sorted(int(s) for s in rng.choice(slots, demand.gpu_count, replace=False)))
