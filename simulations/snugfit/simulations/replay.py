"""Replay a sequence of arrivals through a scheduler, one pod at a time, no departures.

After every arrival it logs the GPU share allocated and the GPU share requested so far
(failed pods included), as the published benchmark does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.schedule import Scheduler, Unschedulable
from snugfit.simulations.workload_model import TracePod


@dataclass(frozen=True)
class ArrivalLog:
    """Per arrival: GPU milli allocated after it, GPU milli requested so far, placed or not."""

    allocated: NDArray[np.int64]
    arrived: NDArray[np.int64]
    placed: NDArray[np.bool_]
    capacity: int
    fragmentation: NDArray[np.float64] | None = None


def replay_arrivals(
    state: ClusterState,
    scheduler: Scheduler,
    arrivals: Sequence[TracePod],
    demand_of: Callable[[PodDemand], PodDemand] = lambda d: d,
    on_progress: Callable[[int], None] | None = None,
) -> ArrivalLog:
    """Replay every arrival and log the allocation after each."""
    n = len(arrivals)
    allocated = np.zeros(n, dtype=np.int64)
    arrived = np.zeros(n, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    total_allocated = state.allocated_gpu_milli()
    total_arrived = 0
    for i, pod in enumerate(arrivals):
        total_arrived += pod.demand.total_gpu_milli
        demand = demand_of(pod.demand)
        scheduler.observe(state, demand)
        decision = scheduler.decide(state, demand)
        if not isinstance(decision, Unschedulable):
            state.apply(decision)
            total_allocated += sum(decision.gpu_milli)
            placed[i] = True
        allocated[i] = total_allocated
        arrived[i] = total_arrived
        if on_progress is not None and i % 256 == 255:
            on_progress(256)
    return ArrivalLog(allocated, arrived, placed, state.total_gpu_milli())
