"""Replay with the trace's own clock: pods arrive at their creation time, run for their
recorded duration, and leave; a pod that does not fit waits in a FIFO queue and is retried
whenever a pod leaves, until it fits or waits longer than the pending limit.

Events are ordered by (time, kind, sequence): departures, then expiries of waiting pods, then
arrivals at equal times; the wall clock is never read. ``speedup`` divides arrival times
(durations are kept), which multiplies the offered load.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.schedule import Scheduler, Unschedulable
from snugfit.simulations.workload_model import TracePod

DEPART, EXPIRE, ARRIVE = 0, 1, 2


@dataclass(frozen=True)
class TimedLog:
    """Time series after every event, and the fate of every pod."""

    times: NDArray[np.float64]
    allocated: NDArray[np.int64]  # GPU milli allocated
    pending_gpu: NDArray[np.int64]  # GPU milli requested by waiting pods
    waits: NDArray[np.float64]  # per placed pod: seconds between arrival and placement
    failed: int  # pods that never got a node (expired or still waiting at the end)
    skipped: int  # pods without a creation time
    capacity: int

    @property
    def placed(self) -> int:
        return len(self.waits)


@dataclass
class _Waiting:
    index: int
    arrived: float


def _durations(pods: Sequence[TracePod]) -> list[float | None]:
    return [
        None if p.deleted is None or p.created is None else max(p.deleted - p.created, 0.0)
        for p in pods
    ]


def replay_timed(
    state: ClusterState,
    scheduler: Scheduler,
    pods: Sequence[TracePod],
    demand_of: Callable[[PodDemand], PodDemand] = lambda d: d,
    pending_limit: float | None = None,
    speedup: float = 1.0,
) -> TimedLog:
    if speedup <= 0:
        raise ValueError("speedup must be positive")
    durations = _durations(pods)
    events: list[tuple[float, int, int]] = []
    for i, pod in enumerate(pods):
        if pod.created is not None:
            events.append((pod.created / speedup, ARRIVE, i))
    heapq.heapify(events)
    skipped = len(pods) - len(events)
    demands = [demand_of(p.demand) for p in pods]
    placements: dict[int, Placement] = {}
    queue: deque[_Waiting] = deque()
    times: list[float] = []
    allocated: list[int] = []
    pending_gpu: list[int] = []
    waits: list[float] = []
    failed = 0
    in_use = state.allocated_gpu_milli()
    waiting_gpu = 0

    def try_place(i: int, now: float) -> bool:
        nonlocal in_use
        decision = scheduler.decide(state, demands[i])
        if isinstance(decision, Unschedulable):
            return False
        state.apply(decision)
        placements[i] = decision
        in_use += sum(decision.gpu_milli)
        duration = durations[i]
        if duration is not None:
            heapq.heappush(events, (now + duration, DEPART, i))
        return True

    def retry_waiting(now: float) -> None:
        nonlocal waiting_gpu
        still: deque[_Waiting] = deque()
        failed_shapes: set[PodDemand] = set()
        for w in queue:
            demand = demands[w.index]
            if demand in failed_shapes or not try_place(w.index, now):
                failed_shapes.add(demand)
                still.append(w)
            else:
                waits.append(now - w.arrived)
                waiting_gpu -= demand.total_gpu_milli
        queue.clear()
        queue.extend(still)

    def expire(i: int) -> bool:
        """Give up on pod i if it is still waiting."""
        nonlocal failed, waiting_gpu
        for w in queue:
            if w.index == i:
                queue.remove(w)
                failed += 1
                waiting_gpu -= demands[i].total_gpu_milli
                return True
        return False

    while events:
        now, kind, i = heapq.heappop(events)
        if kind == DEPART:
            placement = placements.pop(i)
            state.remove(placement)
            in_use -= sum(placement.gpu_milli)
            retry_waiting(now)
        elif kind == EXPIRE:
            if not expire(i):
                continue  # it was placed in time: nothing changed
        else:
            scheduler.observe(state, demands[i])
            if try_place(i, now):
                waits.append(0.0)
            else:
                queue.append(_Waiting(i, now))
                waiting_gpu += demands[i].total_gpu_milli
                if pending_limit is not None:
                    heapq.heappush(events, (now + pending_limit, EXPIRE, i))
        times.append(now)
        allocated.append(in_use)
        pending_gpu.append(waiting_gpu)
    failed += len(queue)
    return TimedLog(
        times=np.array(times),
        allocated=np.array(allocated, dtype=np.int64),
        pending_gpu=np.array(pending_gpu, dtype=np.int64),
        waits=np.array(waits),
        failed=failed,
        skipped=skipped,
        capacity=state.total_gpu_milli(),
    )


def time_weighted_mean(times: NDArray[np.float64], values: NDArray[np.int64]) -> float:
    """Mean of a step function (value holds from one event to the next)."""
    if len(times) < 2 or times[-1] == times[0]:
        return float(values[-1]) if len(values) else 0.0
    spans = np.diff(times)
    return float((values[:-1] * spans).sum() / spans.sum())


def stranded_gpu_hours(log: TimedLog) -> float:
    """GPU-hours left unallocated while GPU work was waiting: capacity the packing stranded."""
    if len(log.times) < 2:
        return 0.0
    spans = np.diff(log.times)
    waiting = log.pending_gpu[:-1] > 0
    idle_milli = log.capacity - log.allocated[:-1]
    return float((idle_milli * spans * waiting).sum() / 1000 / 3600)
