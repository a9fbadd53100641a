"""Nodes kept for rare multi-GPU shapes that few nodes host: slots by hand, when the hosts
are claimed, and the nodes the policy lifts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.host_reserve import I64, HostReserve, host_slots, multi_gpu_shapes
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.policies.snugfit import MODEL_LIFT, Snugfit
from snugfit.packing.workload import shape_counts, target_workload

BIG = PodDemand(cpu_milli=120000, memory_mib=0, gpu_count=8, gpu_milli=1000)  # 128-core nodes
ONE = PodDemand(cpu_milli=12000, memory_mib=0, gpu_count=1, gpu_milli=1000)
HALF = PodDemand(cpu_milli=2000, memory_mib=0, gpu_count=1, gpu_milli=500)
CPU_ONLY = PodDemand(cpu_milli=16000, memory_mib=0)


def cluster(big_nodes: int = 1) -> ClusterState:
    """``big_nodes`` 8-GPU nodes of 128 cores, then two 8-GPU nodes of 96 cores."""
    big = [NodeSpec(f"big{i}", 128000, 1 << 20, (GpuSpec("A"),) * 8) for i in range(big_nodes)]
    std = [NodeSpec(f"std{i}", 96000, 1 << 20, (GpuSpec("A"),) * 8) for i in range(2)]
    return ClusterState.from_nodes(big + std)


def mix(state: ClusterState, big: int = 1, one: int = 9) -> HostReserve:
    return HostReserve(
        target_workload(shape_counts([BIG] * big + [ONE] * one), state.models, keep_multi_gpu=True)
    )


def test_host_slots_by_hand() -> None:
    state = cluster()
    workload = target_workload(shape_counts([BIG, ONE]), state.models)
    shapes = multi_gpu_shapes(workload)
    assert workload.gpu_count[shapes].tolist() == [8]  # ONE takes one GPU: not kept for
    args = (state.gpu_free, state.gpu_capacity, state.gpu_model, state.cpu_free)
    assert host_slots(workload, shapes, *args)[:, 0].tolist() == [1, 0, 0]  # 96 cores < 120
    state.apply(Placement(0, (), (), 16000, 0))  # CPU only: 112 cores left
    assert host_slots(workload, shapes, *args)[:, 0].tolist() == [0, 0, 0]


def test_hosts_are_claimed_while_no_more_than_the_expected_arrivals_and_their_spread() -> None:
    # one BIG in ten pods: 8 of 17 GPUs asked for; F = 24 GPUs free, so E = 8/17 * 24 / 8 =
    # 1.41 pods, and one host slot is below E + 2 sqrt(E)
    state = cluster()
    assert mix(state).claimed(state).tolist() == [True]
    # three big nodes: 3 slots against E = 8/17 * 40 / 8 = 2.35 + 2 x 1.53
    wide = cluster(big_nodes=3)
    assert mix(wide).claimed(wide).tolist() == [True]
    # one BIG in a hundred pods: E = 8/107 * 40 / 8 = 0.37, 0.37 + 1.22 < 3 slots
    assert mix(wide, big=1, one=99).claimed(wide).tolist() == [False]


def first_fit(state: ClusterState, demand: PodDemand) -> Callable[[I64], I64]:
    """The policy's own free share after the pod, as snugfit hands it to the reserve."""
    policy = make_policy("snugfit", PolicyContext(np.random.default_rng(0)))
    assert isinstance(policy, Snugfit)
    return lambda nodes: policy.free_after(state, demand, nodes)


def test_pods_go_first_where_they_take_no_claimed_slot() -> None:
    state = cluster()
    reserve = mix(state)
    nodes = np.array([0, 1, 2])
    for pod in (ONE, HALF, CPU_ONLY):
        preferred = reserve.preferred_nodes(state, pod, nodes, first_fit(state, pod))
        assert preferred is not None and preferred.tolist() == [False, True, True], pod
    # a pod that the host would keep its slot with (4 cores: 124 left) is not steered
    small = PodDemand(cpu_milli=4000, memory_mib=0)
    assert reserve.preferred_nodes(state, small, nodes, first_fit(state, small)) is None
    # the big pod itself fits only its host: nothing to narrow
    assert reserve.preferred_nodes(state, BIG, np.array([0]), first_fit(state, BIG)) is None
    # hosts not claimed: nothing to narrow
    wide = cluster(big_nodes=3)
    relaxed = mix(wide, big=1, one=99)
    everywhere = np.arange(5)
    assert relaxed.preferred_nodes(wide, ONE, everywhere, first_fit(wide, ONE)) is None


def lifted(reserves_hosts: bool) -> list[float]:
    """snugfit's adjusted scores of the three nodes, all scored alike, for ONE."""
    state = cluster()
    workload = target_workload(shape_counts([BIG] + [ONE] * 9), state.models)
    policy = make_policy("snugfit", PolicyContext(np.random.default_rng(0)))
    assert isinstance(policy, Snugfit)
    policy.retarget(workload)
    policy.reserves_hosts = reserves_hosts
    policy.looks_ahead = False
    return policy.rescore(state, ONE, np.array([0, 1, 2]), np.full(3, 50.0)).tolist()


def test_snugfit_lifts_the_nodes_that_leave_the_host_to_the_big_pods() -> None:
    assert lifted(True) == [50.0, 50.0 + MODEL_LIFT, 50.0 + MODEL_LIFT]
    assert lifted(False) == [50.0, 50.0, 50.0]
