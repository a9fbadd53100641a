"""GPU models kept for the pods that require them: claimed fractions by hand, spare models,
and the decision FGD leaves to chance."""

from __future__ import annotations

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.model_reserve import ModelReserve, by_model, claimed_fractions
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler
from snugfit.packing.workload import shape_counts, target_workload

ANY = PodDemand(cpu_milli=4000, memory_mib=0, gpu_count=1, gpu_milli=1000)
ONLY_B = PodDemand(
    cpu_milli=4000, memory_mib=0, gpu_count=1, gpu_milli=1000, allowed_models=frozenset({"B"})
)
B_OR_C = PodDemand(
    cpu_milli=2000, memory_mib=0, gpu_count=1, gpu_milli=500, allowed_models=frozenset({"B", "C"})
)
CPU_ONLY = PodDemand(cpu_milli=4000, memory_mib=0)


def cluster() -> ClusterState:
    """An 8-GPU node of model A and a 2-GPU node of model B (model C is named, not present)."""
    return ClusterState.from_nodes(
        [
            NodeSpec("a", 64000, 1 << 20, (GpuSpec("A"),) * 8),
            NodeSpec("b", 64000, 1 << 20, (GpuSpec("B"),) * 2),
            NodeSpec("c", 64000, 1 << 20, ()),
        ]
    )


def test_claimed_fractions_by_hand() -> None:
    state = cluster()
    # models are listed as the cluster knows them; C has no GPU here
    models = state.models
    workload = target_workload(shape_counts([ANY, ANY, ONLY_B, B_OR_C, CPU_ONLY]), models)
    capacity = by_model(state, state.gpu_capacity)
    assert dict(zip(models, capacity.tolist(), strict=True))["A"] == 8000
    fractions = dict(zip(models, claimed_fractions(workload, capacity).tolist(), strict=True))
    # GPU demand per pod: ANY 1000 x 2, ONLY_B 1000, B_OR_C 500 (only B present): 3500 in all
    assert fractions["A"] == 0
    assert fractions["B"] == pytest.approx(1500 / 3500)


def test_a_model_is_spare_while_its_free_capacity_exceeds_the_claim() -> None:
    state = cluster()
    workload = target_workload(shape_counts([ANY, ONLY_B]), state.models)  # f_B = 1/2
    reserve = ModelReserve(workload)
    spare = dict(zip(state.models, reserve.spare_models(state).tolist(), strict=True))
    assert spare["A"] and not spare["B"]  # B: 2000 free, claims 1/2 of 10000
    state.apply(Placement(0, tuple(range(8)), (1000,) * 8, 0, 0))  # A full: F = 2000
    spare = dict(zip(state.models, reserve.spare_models(state).tolist(), strict=True))
    assert not spare["A"] and spare["B"]  # B: 2000 free > 1/2 of 2000


def test_preferred_nodes_only_where_it_narrows_the_choice() -> None:
    state = cluster()
    reserve = ModelReserve(target_workload(shape_counts([ANY, ONLY_B]), state.models))
    both = np.array([0, 1])
    preferred = reserve.preferred_nodes(state, ANY, both)
    assert preferred is not None and preferred.tolist() == [True, False]
    assert reserve.preferred_nodes(state, ONLY_B, np.array([1])) is None  # one usable model
    assert reserve.preferred_nodes(state, CPU_ONLY, np.array([0, 1, 2])) is None
    assert reserve.preferred_nodes(state, ANY, np.array([0])) is None  # every node


ANY_HALF = PodDemand(cpu_milli=2000, memory_mib=0, gpu_count=1, gpu_milli=500)


def decide(name: str, seed: int) -> Placement:
    """Half a GPU of any model, where the B node already has half a GPU used."""
    state = cluster()
    state.apply(Placement(1, (0,), (500,), 2000, 0))
    rng = np.random.default_rng(seed)
    trace_mix = target_workload(shape_counts([ANY_HALF, ONLY_B] * 4), state.models)
    sched = Scheduler(make_policy(name, PolicyContext(rng, trace_mix)), rng)
    for pod in [ANY_HALF, ONLY_B] * 4:
        sched.observe(state, pod)
    decision = sched.decide(state, ANY_HALF)
    assert isinstance(decision, Placement)
    return decision


def test_a_pod_of_any_model_leaves_the_claimed_model_to_the_pods_that_need_it() -> None:
    """FGD's measure drops as much either way (the half-used B GPU filled, or half an A GPU
    taken that B-only pods cannot use anyway), so FGD leaves it to the node order. Pods that
    can only use B claim more than B has free: snugfit always opens a GPU of model A."""
    assert {decide("fgd", seed).node for seed in range(8)} == {0, 1}
    assert {decide("snugfit", seed).node for seed in range(8)} == {0}
