"""kube-scheduler resource scoring (spec: /tmp/spec-k8s-default.md §1-§3), numbers by hand."""

from __future__ import annotations

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext
from snugfit.packing.policies.k8s_default import K8sArgs, K8sDefault
from snugfit.packing.policies.k8s_mostallocated import K8sMostAllocated
from snugfit.packing.policies.k8s_resources import (
    NodeSampler,
    balanced_allocation,
    feasible_nodes_to_find,
    least_allocated,
    most_allocated,
)

NODE0 = np.array([0])


def one_node(
    cpu: int, mem: int, used_cpu: int = 0, used_mem: int = 0, gpus: int = 0, gpu_used: int = 0
) -> ClusterState:
    """One node; ``gpu_used`` whole GPUs taken by one pod, cpu/memory by a CPU-only pod."""
    state = ClusterState.from_nodes([NodeSpec("n", cpu, mem, tuple([GpuSpec("A")] * gpus))])
    if used_cpu or used_mem:
        state.apply(Placement(0, (), (), used_cpu, used_mem))
    if gpu_used:
        slots = tuple(range(gpu_used))
        state.apply(Placement(0, slots, (1000,) * gpu_used, 0, 0))
    return state


# ---------------------------------------------------------------- LeastAllocated (spec §2.3)
@pytest.mark.parametrize(
    ("cap_cpu", "cap_mem", "used_cpu", "used_mem", "pod_cpu", "pod_mem", "expected"),
    [
        # cpu: req 1000+2000=3000 of 4000 -> (1000*100)//4000 = 25
        # mem: req 2048+2048=4096 of 8192 -> (4096*100)//8192 = 50   => (25+50)//2 = 37
        (4000, 8192, 1000, 2048, 2000, 2048, 37),
        # best-effort pod scored as 100m / 200Mi: cpu (900*100)//1000 = 90, mem 800*100//1000
        # = 80 => 85
        (1000, 1000, 0, 0, 0, 0, 85),
        # req > cap counts 0: cpu 100 > 50 -> 0; mem 200 of 1000 -> 80  => 40
        (50, 1000, 0, 0, 0, 0, 40),
        # memory capacity 0 is skipped (no weight): cpu (500*100)//1000 = 50 => 50
        (1000, 0, 0, 0, 500, 0, 50),
        # floors: cpu (2000*100)//3000 = 66, mem (1000*100)//3000 = 33 => 99//2 = 49
        (3000, 3000, 0, 0, 1000, 2000, 49),
        # an empty node, pod takes all: 0 and 0 => 0
        (2000, 2000, 0, 0, 2000, 2000, 0),
    ],
)
def test_least_allocated(
    cap_cpu: int,
    cap_mem: int,
    used_cpu: int,
    used_mem: int,
    pod_cpu: int,
    pod_mem: int,
    expected: int,
) -> None:
    state = one_node(cap_cpu, cap_mem, used_cpu, used_mem)
    assert least_allocated(state, PodDemand(pod_cpu, pod_mem), NODE0).tolist() == [expected]


# ---------------------------------------------------------------- MostAllocated (spec §2.4)
@pytest.mark.parametrize(
    ("cap_cpu", "cap_mem", "used_cpu", "used_mem", "pod_cpu", "pod_mem", "expected"),
    [
        # cpu 3000*100//4000 = 75, mem 4096*100//8192 = 50 => 125//2 = 62
        (4000, 8192, 1000, 2048, 2000, 2048, 62),
        # best-effort pod: cpu 100*100//1000 = 10, mem 200*100//1000 = 20 => 15
        (1000, 1000, 0, 0, 0, 0, 15),
        # clamp: cpu min(100, 50)*100//50 = 100; mem 20 => 60
        (50, 1000, 0, 0, 0, 0, 60),
        # memory capacity 0 skipped: cpu 500*100//1000 = 50
        (1000, 0, 0, 0, 500, 0, 50),
    ],
)
def test_most_allocated(
    cap_cpu: int,
    cap_mem: int,
    used_cpu: int,
    used_mem: int,
    pod_cpu: int,
    pod_mem: int,
    expected: int,
) -> None:
    state = one_node(cap_cpu, cap_mem, used_cpu, used_mem)
    assert most_allocated(state, PodDemand(pod_cpu, pod_mem), NODE0).tolist() == [expected]


@pytest.mark.parametrize(
    ("demand", "score_gpus", "expected"),
    [
        # node: 4000m / 8192Mi / 4 GPUs with one whole GPU in use by a pod that requests no
        # cpu or memory, which scoring counts as 100m / 200Mi.
        # cpu (100+1000)*100//4000 = 27, mem (200+2048)*100//8192 = 27,
        # gpu (1000+2000)*100//4000 = 75 => (27+27+75)//3 = 43
        (PodDemand(1000, 2048, 2, 1000), True, 43),
        # GPUs not scored unless configured => (27+27)//2 = 27
        (PodDemand(1000, 2048, 2, 1000), False, 27),
        # a pod requesting no GPU skips the GPU dimension even when configured => 27
        (PodDemand(1000, 2048), True, 27),
        # a sharing pod counts its share: gpu (1000+500)*100//4000 = 37 => (27+27+37)//3 = 30
        (PodDemand(1000, 2048, 1, 500), True, 30),
    ],
)
def test_most_allocated_scores_gpus_when_configured(
    demand: PodDemand, score_gpus: bool, expected: int
) -> None:
    state = one_node(4000, 8192, gpus=4, gpu_used=1)
    assert most_allocated(state, demand, NODE0, score_gpus=score_gpus).tolist() == [expected]


# ---------------------------------------------------------------- BalancedAllocation (spec §3.2)
@pytest.mark.parametrize(
    ("cap_cpu", "cap_mem", "used_cpu", "used_mem", "pod_cpu", "pod_mem", "expected"),
    [
        # spec example: node goes to 75% cpu (3000/4000), 50% memory (4096/8192):
        # std = |0.75-0.5|/2 = 0.125 -> int((1-0.125)*100) = int(87.5) = 87
        (4000, 8192, 1000, 2048, 2000, 2048, 87),
        # 50% / 50% -> std 0 -> 100
        (4000, 8192, 1000, 2048, 1000, 2048, 100),
        # actual requests, no defaults: cpu 1000/1000 = 1.0, mem 500/1000 = 0.5 -> 75
        (1000, 1000, 0, 500, 1000, 0, 75),
        # fractions capped at 1: cpu min(2.0, 1) = 1, mem 1/1000 -> std 0.4995 -> int(50.05) = 50
        (1000, 1000, 0, 0, 2000, 1, 50),
        # 100% / 0%: std 0.5 -> 50, the minimum for two resources
        (1000, 1000, 500, 0, 500, 0, 50),
    ],
)
def test_balanced_allocation(
    cap_cpu: int,
    cap_mem: int,
    used_cpu: int,
    used_mem: int,
    pod_cpu: int,
    pod_mem: int,
    expected: int,
) -> None:
    state = one_node(cap_cpu, cap_mem, used_cpu, used_mem)
    assert balanced_allocation(state, PodDemand(pod_cpu, pod_mem), NODE0).tolist() == [expected]


def test_balanced_allocation_is_skipped_for_best_effort_pods() -> None:
    # no cpu and no memory request: PreScore Skip -> no contribution on any node (0 everywhere)
    state = ClusterState.from_nodes([NodeSpec("a", 1000, 1000), NodeSpec("b", 4000, 100)])
    state.apply(Placement(0, (), (), 700, 100))
    demand = PodDemand(0, 0, 1, 1000)
    assert balanced_allocation(state, demand, np.array([0, 1])).tolist() == [0, 0]


def test_balanced_allocation_skips_zero_allocatable() -> None:
    # spec §3.2: F = [min(req/alloc, 1) for each resource with alloc != 0]; one entry -> std 0
    # -> 100. The core computes f_mem = min(0/max(0,1), 1) = 0 -> std 0.125 -> 87.
    state = one_node(4000, 0)
    assert balanced_allocation(state, PodDemand(1000, 0), NODE0).tolist() == [100]


def test_least_allocated_counts_existing_pods_with_non_zero_defaults() -> None:
    # node a already runs one best-effort pod (0m / 0Mi), node b runs nothing; both 4000m/4000Mi.
    # upstream for another best-effort pod: a: cpu req 100+100 -> (3800*100)//4000 = 95,
    # mem 200+200 -> (3600*100)//4000 = 90 => 92; b: cpu 97, mem 95 => 96.
    state = ClusterState.from_nodes([NodeSpec("a", 4000, 4000), NodeSpec("b", 4000, 4000)])
    state.apply(Placement(0, (), (), 0, 0))
    assert least_allocated(state, PodDemand(0, 0), np.array([0, 1])).tolist() == [92, 96]


# ---------------------------------------------------------------- numFeasibleNodesToFind (§1.1)
@pytest.mark.parametrize(
    ("nodes", "expected"),
    # the spec's worked table, percentage 0 (adaptive): pct = max(50 - n//125, 5),
    # num = n*pct//100, at least 100; below 100 nodes everything is searched.
    [
        (99, 99),
        (100, 100),  # pct 50 -> 50 -> raised to 100
        (200, 100),  # pct 49 -> 98 -> 100
        (250, 120),  # pct 48
        (500, 230),  # pct 46
        (1000, 420),  # pct 42
        (5000, 500),  # pct 10
        (6000, 300),  # pct 50 - 48 = 2 -> floored at 5
        (10000, 500),  # pct 5
        (0, 0),
        (1, 1),
    ],
)
def test_feasible_nodes_to_find_adaptive(nodes: int, expected: int) -> None:
    assert feasible_nodes_to_find(nodes, 0) == expected


@pytest.mark.parametrize(
    ("nodes", "percentage", "expected"),
    [
        (1000, 10, 100),  # 1000*10//100 = 100
        (1000, 50, 500),
        (1000, 100, 1000),
        (1000, 5, 100),  # 50 raised to the minimum of 100
        (99, 10, 99),  # small clusters: all nodes whatever the percentage
        (5000, 1, 100),  # 50 -> 100
        (5000, 3, 150),  # an explicit percentage below 5 is used as given
        (250, 60, 150),
    ],
)
def test_feasible_nodes_to_find_explicit(nodes: int, percentage: int, expected: int) -> None:
    assert feasible_nodes_to_find(nodes, percentage) == expected


# ---------------------------------------------------------------- NodeSampler (§1.2)
def test_sampler_rotates_by_nodes_examined_when_all_fit() -> None:
    sampler = NodeSampler(0)
    everything = np.arange(250)  # quota 120 of 250
    assert sampler.sample(250, everything).tolist() == list(range(120))
    assert sampler.next_start == 120
    assert sampler.sample(250, everything).tolist() == list(range(120, 240))
    assert sampler.next_start == 240
    third = sampler.sample(250, everything)  # wraps: 240..249 then 0..109
    assert sorted(third.tolist()) == list(range(110)) + list(range(240, 250))
    assert sampler.next_start == 110


def test_sampler_counts_infeasible_nodes_seen() -> None:
    # nodes 0..9 fail the filter: examined = 10 infeasible + 120 kept = 130
    sampler = NodeSampler(0)
    kept = sampler.sample(250, np.arange(10, 250))
    assert kept.tolist() == list(range(10, 130))
    assert sampler.next_start == 130


def test_sampler_does_not_count_feasible_nodes_beyond_the_quota() -> None:
    # start 130 (as above); feasible: every node but 130..139. Search: 130..139 fail (10),
    # then 140..249 (110 kept), 0..9 (10 kept) -> quota 120 reached at node 9.
    # examined = 10 + 120 = 130 -> next start (130+130) % 250 = 10; nodes 10.. are not counted.
    sampler = NodeSampler(0)
    sampler.next_start = 130
    feasible = np.array([n for n in range(250) if not 130 <= n < 140])
    kept = sampler.sample(250, feasible)
    assert sorted(kept.tolist()) == list(range(10)) + list(range(140, 250))
    assert sampler.next_start == 10


def test_sampler_keeps_start_when_fewer_than_quota_fit() -> None:
    # only 50 feasible of 250: every node is examined, start moves by 250 = stays
    sampler = NodeSampler(0)
    sampler.next_start = 17
    kept = sampler.sample(250, np.arange(0, 250, 5))
    assert sorted(kept.tolist()) == list(range(0, 250, 5))
    assert sampler.next_start == 17


def test_sampler_small_cluster_returns_all_feasible_and_never_moves() -> None:
    sampler = NodeSampler(30)
    for _ in range(3):
        assert sorted(sampler.sample(40, np.array([3, 7, 39])).tolist()) == [3, 7, 39]
        assert sampler.next_start == 0


@pytest.mark.parametrize("percentage", [-1, 101])
def test_sampler_rejects_bad_percentage(percentage: int) -> None:
    with pytest.raises(ValueError, match="percentage_of_nodes_to_score"):
        NodeSampler(percentage)


# ---------------------------------------------------------------- the k8s-* policies
def test_k8s_default_score_is_least_allocated_plus_balanced() -> None:
    # node a: the spec example above -> 37 + 87 = 124; node b empty 4000/8192:
    # cpu 2000 -> 50, mem 2048 -> 75 => 62; balanced 50% / 25% -> std .125 -> 87 => 149
    state = ClusterState.from_nodes([NodeSpec("a", 4000, 8192), NodeSpec("b", 4000, 8192)])
    state.apply(Placement(0, (), (), 1000, 2048))
    policy = K8sDefault(PolicyContext(np.random.default_rng(0)))
    assert policy.score(state, PodDemand(2000, 2048), np.array([0, 1])).tolist() == [124, 149]
    assert policy.tie_break == "uniform"


def test_k8s_mostallocated_score_is_most_allocated_with_gpus_plus_balanced() -> None:
    # 4000m/8192Mi/4 GPUs, one GPU in use by a pod without cpu/memory requests; pod
    # 1000m/2048Mi/2 GPUs: most 43 (above: the GPU pod counts 100m/200Mi for scoring),
    # balanced on actual requests 25% / 25% -> 100 => 143
    state = one_node(4000, 8192, gpus=4, gpu_used=1)
    policy = K8sMostAllocated(PolicyContext(np.random.default_rng(0)))
    assert policy.score(state, PodDemand(1000, 2048, 2, 1000), NODE0).tolist() == [143]


def test_k8s_default_gives_first_free_gpus_and_samples() -> None:
    state = ClusterState.from_nodes([NodeSpec("a", 4000, 4000, tuple([GpuSpec("A")] * 4))])
    state.apply(Placement(0, (1,), (300,), 0, 0))
    policy = K8sDefault(PolicyContext(np.random.default_rng(0)), K8sArgs(10))
    # first fit: slot 0 (free 1000) before slot 1 (free 700), even for a sharing pod
    assert policy.choose_gpus(state, PodDemand(0, 0, 1, 500), 0) == (0,)
    assert policy.choose_gpus(state, PodDemand(0, 0, 2, 1000), 0) == (0, 2)
    assert policy.sampler.percentage == 10
