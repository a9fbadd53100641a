"""Benchmark runs: one (policy, seed) replay each, several in parallel processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, without_sharing
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler
from snugfit.packing.workload import shape_counts, shape_memory, target_workload
from snugfit.simulations.executors import LocalPool
from snugfit.simulations.protocol import INFLATION, arrival_sequence
from snugfit.simulations.replay import ArrivalLog, replay_arrivals
from snugfit.simulations.timed import TimedLog, replay_timed
from snugfit.simulations.workload_model import Trace


@dataclass(frozen=True)
class RunSpec:
    """One replay. mode "arrivals" is the published protocol; "timed" uses the trace's clock."""

    policy: str
    seed: int
    sharing: bool = True
    inflation: float = INFLATION
    mode: str = "arrivals"
    pending_limit: float | None = None  # timed mode: seconds a pod may wait
    speedup: float = 1.0  # timed mode: arrival-time compression


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    log: ArrivalLog
    seconds: float  # wall time of the replay alone


@dataclass(frozen=True)
class TimedResult:
    spec: RunSpec
    log: TimedLog
    seconds: float


def _identity(demand: PodDemand) -> PodDemand:
    return demand


def seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """A run's two independent random streams: the arrival order's and the policy's."""
    arrivals, policy = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(arrivals), np.random.default_rng(policy)


def setup_run(
    trace: Trace, spec: RunSpec
) -> tuple[ClusterState, Scheduler, np.random.Generator, Callable[[PodDemand], PodDemand]]:
    """Empty cluster, scheduler and arrival stream for a run.

    The seed drives two independent streams: one orders the arrivals (so every policy sees
    the same sequence for a seed), one is the policy's (tie-break order, random choices).
    The target workload of fragmentation-aware policies is the trace's task mix.
    """
    demand_of = _identity if spec.sharing else without_sharing
    state = ClusterState.from_nodes(trace.nodes)
    demands = [demand_of(p.demand) for p in trace.pods]
    workload = target_workload(shape_counts(demands), state.models, memory=shape_memory(demands))
    arrival_rng, policy_rng = seed_streams(spec.seed)
    scheduler = Scheduler(make_policy(spec.policy, PolicyContext(policy_rng, workload)), policy_rng)
    return state, scheduler, arrival_rng, demand_of


def run_benchmark(trace: Trace, spec: RunSpec) -> RunResult:
    """The published protocol for one policy and seed."""
    state, scheduler, arrival_rng, demand_of = setup_run(trace, spec)
    arrivals = arrival_sequence(trace.pods, state.total_gpu_milli(), arrival_rng, spec.inflation)
    started = time.perf_counter()
    log = replay_arrivals(state, scheduler, arrivals, demand_of)
    return RunResult(spec, log, time.perf_counter() - started)


def run_timed(trace: Trace, spec: RunSpec) -> TimedResult:
    """The trace on its own clock, with departures and a waiting queue."""
    state, scheduler, _, demand_of = setup_run(trace, spec)
    started = time.perf_counter()
    log = replay_timed(state, scheduler, trace.pods, demand_of, spec.pending_limit, spec.speedup)
    return TimedResult(spec, log, time.perf_counter() - started)


def run_one(trace: Trace, spec: RunSpec) -> RunResult | TimedResult:
    return run_timed(trace, spec) if spec.mode == "timed" else run_benchmark(trace, spec)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def run_all(
    trace: Trace,
    specs: Sequence[RunSpec],
    workers: int,
    on_done: Callable[[RunResult | TimedResult], None] | None = None,
) -> list[RunResult | TimedResult]:
    """Run every spec; results come back in the order of ``specs``."""
    return LocalPool(workers).map(partial(run_one, trace), specs, on_done)
