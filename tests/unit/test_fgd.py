"""FGD (spec: /tmp/spec-fgd-simulator.md §1, §7): scores and tiny cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload, cluster_fragmentation, node_fragmentation
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.policies.fgd import Fgd, growth_per_slot, published_score, whole_growth
from snugfit.packing.schedule import Scheduler
from snugfit.packing.workload import shape_counts, target_workload


def workload(
    shapes: list[tuple[int, int, int]], weights: list[float], models: int = 1
) -> TargetWorkload:
    """Shapes (cpu, per-GPU share, GPU count), every model allowed."""
    allowed = np.zeros((len(shapes), models + 1), dtype=bool)
    allowed[:, :models] = True
    return TargetWorkload(
        cpu_milli=np.array([s[0] for s in shapes], dtype=np.int64),
        gpu_milli=np.array([s[1] for s in shapes], dtype=np.int64),
        gpu_count=np.array([s[2] for s in shapes], dtype=np.int64),
        model_allowed=allowed,
        weight=np.array(weights, dtype=np.float64),
    )


def gpu_nodes(*gpus_per_node: int, cpu: int = 32000) -> ClusterState:
    return ClusterState.from_nodes(
        [NodeSpec(f"n{i}", cpu, 1 << 20, (GpuSpec("A"),) * g) for i, g in enumerate(gpus_per_node)]
    )


def fgd(wl: TargetWorkload, seed: int = 0) -> Fgd:
    policy = make_policy("fgd", PolicyContext(np.random.default_rng(seed), wl))
    assert isinstance(policy, Fgd)
    return policy


@pytest.mark.parametrize(
    ("growth", "expected"),
    [
        (0.0, 50),  # sigmoid(0) = .5
        (500.0, 37),  # 100 / (1 + e^0.5)  = 37.75
        (-500.0, 62),  # 100 / (1 + e^-0.5) = 62.24
        (1000.0, 26),  # 100 / (1 + e)      = 26.89
        (-1000.0, 73),  # 73.11
        (50.0, 48),  # 48.75
        (350.0, 41),  # 41.34
        (20.0, 49),  # 49.5: growths of a few dozen milli-GPU tie with their neighbours
        (1e6, 0),  # exp overflows to inf without a warning -> 0
        (-1e6, 100),
        (math.inf, -1),  # does not fit
    ],
)
def test_published_score(growth: float, expected: int) -> None:
    assert published_score(np.array([growth])).tolist() == [expected]


def test_fgd_needs_a_workload() -> None:
    with pytest.raises(ValueError, match="target workload"):
        make_policy("fgd", PolicyContext(np.random.default_rng(0)))


def test_sharing_pod_goes_where_fragmentation_grows_least() -> None:
    # Workload: s1 = 1 GPU x 500 (p = .5), s2 = 1 GPU x 1000 (p = .5), no CPU.
    # Node A free [1000, 700]; node B free [1000, 1000]; pod: one GPU x 300.
    # A before: s1 uses both -> 0; s2 hostable on slot 0, slot 1 (700) stranded -> 700
    #   F_A = .5*0 + .5*700 = 350
    #   slot 0 -> [700, 700]: s1 0; s2 no GPU of 1000 -> all 1400  => F 700, growth 350 -> 41
    #   slot 1 -> [1000, 400]: s1 strands 400; s2 strands 400        => F 400, growth  50 -> 48
    # B before: F 0
    #   slot 0 -> [700, 1000] or slot 1 -> [1000, 700]: s2 strands 700 => F 350, growth 350 -> 41
    # Best: node A (48) on its slot 1.
    state = gpu_nodes(2, 2)
    state.apply(Placement(0, (1,), (300,), 0, 0))
    wl = workload([(0, 500, 1), (0, 1000, 1)], [0.5, 0.5])
    pod = PodDemand(1000, 0, 1, 300)
    nodes = np.array([0, 1])
    np.testing.assert_allclose(growth_per_slot(state, pod, nodes, wl), [[350, 50], [350, 350]])
    policy = fgd(wl)
    assert policy.score(state, pod, nodes).tolist() == [48, 41]
    assert policy.choose_gpus(state, pod, 0) == (1,)
    assert policy.choose_gpus(state, pod, 1) == (0,)  # equal integer scores -> first GPU
    placement = Scheduler(policy, np.random.default_rng(0)).decide(state, pod)
    assert placement == Placement(0, (1,), (300,), 1000, 0)


def test_whole_gpu_pod_keeps_room_for_two_gpu_shapes() -> None:
    # Workload: one shape, 2 GPUs x 1000 (p = 1). Pod: 1 whole GPU.
    # A: 2 free GPUs, F 0; after [0, 1000]: fewer than 2 GPUs -> F = 1000, growth 1000 -> 26
    # B: 3 free GPUs, F 0; after [0, 1000, 1000]: still hostable, nothing stranded -> growth 0 -> 50
    state = gpu_nodes(2, 3)
    wl = workload([(0, 1000, 2)], [1.0])
    pod = PodDemand(0, 0, 1, 1000)
    np.testing.assert_allclose(whole_growth(state, pod, np.array([0, 1]), wl), [1000, 0])
    policy = fgd(wl)
    assert policy.score(state, pod, np.array([0, 1])).tolist() == [26, 50]
    assert Scheduler(policy, np.random.default_rng(0)).decide(state, pod) == Placement(
        1, (0,), (1000,), 0, 0
    )


def test_cpu_pod_growth_comes_from_cpu_alone() -> None:
    # Workload: 1 GPU x 500 with 4000m CPU (p = 1). Nodes: one idle GPU each, A has 6000m
    # free, B 16000m. A 3000m CPU pod leaves A with 3000m < 4000m: A can no longer host the
    # shape, so its whole free 1000 becomes fragment: growth 1000 -> 26. On B: growth 0 -> 50.
    state = ClusterState.from_nodes(
        [NodeSpec("a", 6000, 1000, (GpuSpec("A"),)), NodeSpec("b", 16000, 1000, (GpuSpec("A"),))]
    )
    wl = workload([(4000, 500, 1)], [1.0])
    pod = PodDemand(3000, 0)
    np.testing.assert_allclose(whole_growth(state, pod, np.array([0, 1]), wl), [1000, 0])
    assert fgd(wl).score(state, pod, np.array([0, 1])).tolist() == [26, 50]


def test_fragmentation_can_rise_when_a_pod_leaves() -> None:
    # Why the property tests assert only the narrower statement:
    # (1) one GPU with two 400 pods, free 200; shape 1 x 700 (p = 1): F = 200 (not hostable).
    #     One pod leaves: free 600 < 700 -> F = 600. It rose by the freed 400.
    state = gpu_nodes(1)
    pods = [Placement(0, (0,), (400,), 0, 0), Placement(0, (0,), (400,), 0, 0)]
    for p in pods:
        state.apply(p)
    wl = workload([(0, 700, 1)], [1.0])
    assert cluster_fragmentation(state, wl) == 200
    state.remove(pods[0])
    assert cluster_fragmentation(state, wl) == 600
    # (2) a CPU-only shape counts every free milli-GPU: removing the other pod frees 400 more,
    #     with shapes {cpu-only p=.5, 1 x 700 p=.5}: before .5*600 + .5*600 = 600,
    #     after .5*1000 + .5*0 = 500 -- and with the cpu-only shape alone 600 -> 1000.
    mixed = workload([(1000, 0, 0), (0, 700, 1)], [0.5, 0.5])
    cpu_only = workload([(1000, 0, 0)], [1.0])
    assert cluster_fragmentation(state, mixed) == 600
    assert cluster_fragmentation(state, cpu_only) == 600
    state.remove(pods[1])
    assert cluster_fragmentation(state, mixed) == 500
    assert cluster_fragmentation(state, cpu_only) == 1000


def test_fragmentation_on_mixed_model_node() -> None:
    # Node GPUs [A free 1000, B free 600]; shape 1 x 500 that accepts only model B (p = 1):
    # hostable on the B GPU; the A GPU, whatever its share, counts as unusable -> F = 1000.
    # A shape accepting only the absent model C -> not hostable -> F = total 1600.
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, (GpuSpec("A"), GpuSpec("B")))])
    state.apply(Placement(0, (1,), (400,), 0, 0))
    counts = shape_counts([PodDemand(0, 0, 1, 500, allowed_models=frozenset({"B"}))])
    assert cluster_fragmentation(state, target_workload(counts, state.models)) == 1000
    counts = shape_counts([PodDemand(0, 0, 1, 500, allowed_models=frozenset({"C"}))])
    assert cluster_fragmentation(state, target_workload(counts, state.models)) == 1600


def test_memory_sized_shapes_count_too_small_gpus_as_fragment() -> None:
    # One GPU of 16000 MiB with 900 milli in use (100 free). Target workload: pods asking
    # 8000 MiB of GPU memory, i.e. 500 milli on this GPU. 100 < 500: the node cannot host the
    # shape, so by fragmentation.py's rule F = the whole free 100. The core gets 0, because the
    # shape is (cpu 0, gpu_milli 0, count 1): 100 >= 0 "fits".
    state = ClusterState.from_nodes([NodeSpec("n", 8000, 8000, (GpuSpec("A", 16000),))])
    state.apply(Placement(0, (0,), (900,), 0, 0))
    demand = PodDemand(0, 0, 1, gpu_memory_mib=8000)
    wl = target_workload(shape_counts([demand]), state.models)
    assert cluster_fragmentation(state, wl) == 100


def test_capped_measure_of_a_lone_node_reads_the_gpus_its_memory_sized_shapes_use() -> None:
    # Two free GPUs: one of unknown memory (no memory-sized pod fits it), one of 16384 MiB,
    # where a pod asking 8000 MiB takes ceil(8000 * 1000 / 16384) = 489 milli. CPU for one
    # such pod: the capped measure counts all but that pod's 489 as fragmented, 2000 - 489,
    # whether the node is measured alone or among others.
    nodes = [
        NodeSpec(f"n{i}", 4000, 1 << 20, (GpuSpec("A", 0), GpuSpec("A", 16384))) for i in range(2)
    ]
    state = ClusterState.from_nodes(nodes)
    wl = target_workload(shape_counts([PodDemand(4000, 0, 1, gpu_memory_mib=8000)]), state.models)
    for rows in ([0], [0, 1]):
        frag = node_fragmentation(
            state.gpu_free[rows],
            state.gpu_model[rows],
            state.cpu_free[rows],
            wl,
            state.gpu_memory_mib[rows],
            cpu_capped=True,
        )
        assert frag.tolist() == [1511.0] * len(rows)
