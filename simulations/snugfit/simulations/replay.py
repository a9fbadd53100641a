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


@dataclass(frozen=True)
class FailureBudget:
    """How many pods, and how much GPU request, may fail before a replay is pointless."""

    pods: int
    gpu_milli: int


def replay_arrivals(
    state: ClusterState,
    scheduler: Scheduler,
    arrivals: Sequence[TracePod],
    demand_of: Callable[[PodDemand], PodDemand] = lambda d: d,
    on_progress: Callable[[int], None] | None = None,
    give_up: FailureBudget | None = None,
) -> ArrivalLog:
    """Replay every arrival; with ``give_up``, stop (and return the log so far) as soon as more
    pods or more GPU request have failed than the budget allows."""
    n = len(arrivals)
    failed_pods = failed_milli = 0
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
        else:
            failed_pods += 1
            failed_milli += pod.demand.total_gpu_milli
        allocated[i] = total_allocated
        arrived[i] = total_arrived
        if give_up is not None and (failed_pods > give_up.pods or failed_milli > give_up.gpu_milli):
            end = i + 1
            return ArrivalLog(allocated[:end], arrived[:end], placed[:end], state.total_gpu_milli())
        if on_progress is not None and i % 256 == 255:
            on_progress(256)
    return ArrivalLog(allocated, arrived, placed, state.total_gpu_milli())
