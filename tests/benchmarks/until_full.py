"""A policy's run of the published protocol up to 100 % arrived, for the benchmarks that look
at the cluster at that point: the final state and every decision."""

from __future__ import annotations

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.schedule import Unschedulable
from snugfit.simulations.protocol import arrival_sequence
from snugfit.simulations.runner import RunSpec, setup_run
from snugfit.simulations.workload_model import Trace

Decision = tuple[PodDemand, Placement | Unschedulable]


def run_until_full(trace: Trace, policy: str, seed: int) -> tuple[ClusterState, list[Decision]]:
    """Pods arrive (and are placed, or dropped) until their GPU request would pass 100 % of
    the cluster's GPU capacity."""
    state, scheduler, arrival_rng, demand_of = setup_run(trace, RunSpec(policy, seed))
    capacity = state.total_gpu_milli()
    arrived, decisions = 0, []
    for pod in arrival_sequence(trace.pods, capacity, arrival_rng):
        arrived += pod.demand.total_gpu_milli
        if arrived > capacity:
            break
        demand = demand_of(pod.demand)
        scheduler.observe(state, demand)
        decision = scheduler.decide(state, demand)
        if isinstance(decision, Placement):
            state.apply(decision)
        decisions.append((demand, decision))
    return state, decisions
