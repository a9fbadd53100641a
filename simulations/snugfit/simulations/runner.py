"""Benchmark runs: one (policy, seed) replay each, several in parallel processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, without_sharing
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler
from snugfit.packing.workload import shape_counts, target_workload
from snugfit.simulations.protocol import INFLATION, arrival_sequence
from snugfit.simulations.replay import ArrivalLog, replay_arrivals
from snugfit.simulations.workload_model import Trace


@dataclass(frozen=True)
class RunSpec:
    policy: str
    seed: int
    sharing: bool = True
    inflation: float = INFLATION


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    log: ArrivalLog
    seconds: float  # wall time of the replay alone


def _identity(demand: PodDemand) -> PodDemand:
    return demand


def run_benchmark(trace: Trace, spec: RunSpec) -> RunResult:
    """The published protocol for one policy and seed.

    The seed drives two independent streams: one orders the arrivals (so every policy sees
    the same sequence for a seed), one is the policy's (tie-break order, random choices).
    """
    demand_of = _identity if spec.sharing else without_sharing
    state = ClusterState.from_nodes(trace.nodes)
    workload = target_workload(shape_counts(demand_of(p.demand) for p in trace.pods), state.models)
    arrival_rng, policy_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(2)
    )
    arrivals = arrival_sequence(trace.pods, state.total_gpu_milli(), arrival_rng, spec.inflation)
    scheduler = Scheduler(make_policy(spec.policy, PolicyContext(policy_rng, workload)), policy_rng)
    started = time.perf_counter()
    log = replay_arrivals(state, scheduler, arrivals, demand_of)
    return RunResult(spec, log, time.perf_counter() - started)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def run_all(
    trace: Trace,
    specs: Sequence[RunSpec],
    workers: int,
    on_done: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every spec; results come back in the order of ``specs``."""
    if workers <= 1 or len(specs) <= 1:
        results = []
        for spec in specs:
            results.append(run_benchmark(trace, spec))
            if on_done:
                on_done(results[-1])
        return results
    by_spec: dict[RunSpec, RunResult] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_benchmark, trace, spec) for spec in specs]
        for future in as_completed(futures):
            result = future.result()
            by_spec[result.spec] = result
            if on_done:
                on_done(result)
    return [by_spec[s] for s in specs]
