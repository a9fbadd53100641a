"""The share plan: best-fit decreasing over a share mix, the GPU contents it makes, which
placements are on plan, and the decisions it changes in the snugfit policy."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snugfit.packing.cluster import GPU_MILLI, ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.policies.snugfit import Snugfit
from snugfit.packing.schedule import Scheduler
from snugfit.packing.share_plan import (
    SharePlan,
    best_fit_decreasing,
    fullest_fill,
    share_mix,
    share_plan,
    tightest_packing,
)
from snugfit.packing.workload import shape_counts, target_workload


def one_at_a_time(counts: dict[int, int]) -> Counter[tuple[int, ...]]:
    """Best-fit decreasing as written in textbooks: each pod, largest first, to the GPU with
    the least free share that fits it (equal free share: the smaller contents tuple)."""
    gpus: Counter[tuple[int, ...]] = Counter()
    for share in sorted(counts, reverse=True):
        for _ in range(counts[share]):
            fitting = [c for c in gpus if GPU_MILLI - sum(c) >= share]
            if not fitting:
                gpus[(share,)] += 1
                continue
            best = min(fitting, key=lambda c: (GPU_MILLI - sum(c), c))
            gpus[best] -= 1
            gpus = +gpus
            gpus[(*best, share)] += 1
    return gpus


def pods_in(contents: Counter[tuple[int, ...]]) -> Counter[int]:
    """The shares a packing placed, each as many times as it was placed."""
    return Counter(s for content, n in contents.items() for s in content for _ in range(n))


def test_best_fit_decreasing_by_hand() -> None:
    contents = best_fit_decreasing({810: 10, 160: 3, 470: 5, 320: 4, 650: 3, 230: 5})
    assert contents == Counter(
        {
            (810,): 7,
            (810, 160): 3,
            (650, 320): 3,
            (470, 470): 2,
            (470, 320): 1,  # the odd 470 takes the fourth 320 ...
            (230, 230, 230, 230): 1,  # ... and the 230s fill a GPU of their own
            (230,): 1,
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(1, 99).map(lambda x: 10 * x), st.integers(1, 40), min_size=1, max_size=8
    )
)
def test_grouped_moves_are_exactly_one_pod_at_a_time(counts: dict[int, int]) -> None:
    contents = best_fit_decreasing(counts)
    assert contents == one_at_a_time(counts)
    assert pods_in(contents) == Counter(counts)


def test_fullest_fill_fills_gpus_that_best_fit_decreasing_leaves_part_empty() -> None:
    """Best-fit decreasing puts the two 400s together (800) and the 270s three to a GPU
    (810), then needs a third GPU for the last 270; 400 + 270 + 270 fills 940 twice."""
    assert best_fit_decreasing({400: 2, 270: 4}) == Counter(
        {(400, 400): 1, (270, 270, 270): 1, (270,): 1}
    )
    assert fullest_fill({400: 2, 270: 4}) == Counter({(400, 270, 270): 2})
    assert tightest_packing({400: 2, 270: 4}) == Counter({(400, 270, 270): 2})


def test_tightest_packing_takes_best_fit_decreasing_where_fullest_fill_needs_more() -> None:
    counts = {450: 5, 480: 6, 100: 4, 290: 6, 500: 1}  # fullest fill: 9 GPUs, BFD: 8
    assert sum(fullest_fill(counts).values()) == 9
    assert tightest_packing(counts) == best_fit_decreasing(counts)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(1, 99).map(lambda x: 10 * x), st.integers(1, 40), min_size=1, max_size=8
    )
)
def test_packings_place_every_pod_once_within_capacity(counts: dict[int, int]) -> None:
    for packer in (fullest_fill, tightest_packing):
        contents = packer(counts)
        assert pods_in(contents) == Counter(counts)
        assert all(sum(content) <= GPU_MILLI and n > 0 for content, n in contents.items())
    tightest = sum(tightest_packing(counts).values())
    assert tightest <= sum(best_fit_decreasing(counts).values())
    assert tightest * GPU_MILLI >= sum(s * n for s, n in counts.items())


def demand(share: int, cpu: int = 4000) -> PodDemand:
    return PodDemand(cpu_milli=cpu, memory_mib=0, gpu_count=1, gpu_milli=share)


MIX = {810: 10, 160: 3, 470: 6, 650: 4, 320: 4}


def mix_workload(cpu: dict[int, int] | None = None) -> TargetWorkload:
    """MIX's pods, 4 cores each unless ``cpu`` says otherwise for a share."""
    pods = [demand(s, (cpu or {}).get(s, 4000)) for s, n in MIX.items() for _ in range(n)]
    return target_workload(shape_counts(pods), ("A",))


def test_plan_joins_what_the_offline_packing_puts_together() -> None:
    plan = share_plan(mix_workload())
    j = plan.joins
    assert j[0, 470] and j[470, 470]  # 470 + 470
    assert j[0, 320] and j[320, 650] and j[650, 320]  # 650 + 320, in either order
    assert j[0, 810] and j[810, 160] and j[160, 810]  # 810 + 160
    assert not j[470, 320] and not j[320, 470]  # never together in the offline packing
    assert not j[0, 500]  # a share the mix does not have


def test_plan_holds_contents_that_only_the_fullest_fill_makes() -> None:
    pods = [demand(400) for _ in range(2)] + [demand(270) for _ in range(4)]
    j = share_plan(target_workload(shape_counts(pods), ("A",))).joins
    assert j[0, 400] and j[400, 270] and j[670, 270]  # 400 + 270 + 270
    assert not j[400, 400] and not j[540, 270]  # best-fit decreasing's 400 + 400, 270 x 3


def test_completing_cpu_is_the_least_cpu_of_a_pod_that_completes_the_gpu() -> None:
    plan = share_plan(mix_workload({470: 12000, 160: 2000, 650: 6000, 320: 3000}))
    assert plan.completing_cpu[470] == 12000  # waits for another 470
    assert plan.completing_cpu[810] == 2000  # waits for a 160
    assert plan.completing_cpu[320] == 6000  # waits for a 650
    assert plan.completing_cpu[940] == 0  # 470 + 470: done
    capacity = np.full((3, 1), 1000)
    used, share = np.array([[0], [0], [470]]), np.full((3, 1), 470)
    on = plan.on_plan(used, capacity, share, np.array([12000, 11999, 0]))
    assert on[:, 0].tolist() == [True, False, True]  # the second GPU would be stranded


def test_a_node_keeps_cpu_for_every_gpu_waiting_on_it() -> None:
    """An 810 waits for a 160 (2 cores); a 470 opened beside it waits for another 470
    (12 cores): on plan only if the node keeps 14 cores."""
    plan = share_plan(mix_workload({470: 12000, 160: 2000}))
    capacity = np.full((2, 2), 1000)
    used = np.array([[810, 0], [810, 0]])
    on = plan.on_plan(used, capacity, np.full((2, 2), 470), np.array([13999, 14000]))
    assert on.tolist() == [[False, False], [False, True]]
    keeps = plan.keeps_waiting_cpu(used, capacity, np.array([1999, 2000]))
    assert keeps.tolist() == [False, True]  # a whole-GPU pod leaves the 810 waiting


def test_on_plan_refuses_shares_out_of_range() -> None:
    plan = share_plan(mix_workload())
    unreachable = np.iinfo(np.int64).max // 4  # what gpu_need gives where a slot cannot fit
    used, share = np.array([[0, 600, 0]]), np.array([[0, 470, unreachable]])
    on = plan.on_plan(used, np.full((1, 3), 1000), share, np.array([64000]))
    assert on.tolist() == [[False, False, False]]


def test_memory_sized_and_whole_gpu_shapes_are_not_in_the_mix() -> None:
    pods = [
        demand(470),
        PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_memory_mib=8192),
        PodDemand(cpu_milli=1000, memory_mib=0, gpu_count=1, gpu_milli=1000),
        PodDemand(cpu_milli=1000, memory_mib=0),
    ]
    mix = share_mix(target_workload(shape_counts(pods), ("A",)))
    assert mix.weight == {470: 0.25} and mix.least_cpu == {470: 4000}
    empty = share_plan(target_workload(shape_counts(pods[1:]), ("A",)))
    assert not empty.joins.any() and not SharePlan.empty().joins.any()


def two_gpus_one_with(used: int) -> ClusterState:
    state = ClusterState.from_nodes([NodeSpec("n0", 64000, 1 << 20, (GpuSpec("A"),) * 2)])
    state.apply(Placement(0, (0,), (used,), 4000, 0))
    return state


def decide(name: str, state: ClusterState, pod: PodDemand) -> Placement:
    rng = np.random.default_rng(0)
    sched = Scheduler(make_policy(name, PolicyContext(rng, mix_workload())), rng)
    if isinstance(sched.policy, Snugfit):
        sched.retarget(mix_workload())  # what it would have learned from these pods
    decision = sched.decide(state, pod)
    assert isinstance(decision, Placement)
    return decision


def test_a_share_waits_for_its_partner_where_fgd_fills_the_open_gpu() -> None:
    """A 320 next to a 470 leaves 210 that only 160s fit; on a GPU of its own it waits for
    a 650 (30 left). FGD counts the second GPU lost to whole-GPU pods and fills the first."""
    state = two_gpus_one_with(470)
    assert decide("fgd", state, demand(320)).gpu_slots == (0,)
    assert decide("snugfit", state, demand(320)).gpu_slots == (1,)
    assert decide("snugfit", state, demand(470)).gpu_slots == (0,)  # its partner


def test_a_share_is_not_put_where_its_partner_would_find_no_cpu() -> None:
    """A 470 of 8 cores on the 8-core node would strand the other 530: on plan only where
    the node keeps 8 cores for the 470 that completes the GPU."""
    state = ClusterState.from_nodes(
        [
            NodeSpec("small", 8000, 1 << 20, (GpuSpec("A"),)),
            NodeSpec("large", 64000, 1 << 20, (GpuSpec("A"),) * 8),
        ]
    )
    rng = np.random.default_rng(0)
    policy = make_policy("snugfit", PolicyContext(rng, None))
    policy.retarget(mix_workload({470: 8000}))
    scores = policy.slot_scores(state, demand(470, 8000), np.array([0, 1]))  # type: ignore[attr-defined]
    assert scores[0, 0] < 101 <= scores[1, 0]


@pytest.mark.parametrize("used", [160, 650])
def test_planned_partners_join(used: int) -> None:
    partner = {160: 810, 650: 320}[used]
    assert decide("snugfit", two_gpus_one_with(used), demand(partner)).gpu_slots == (0,)


def test_a_whole_gpu_pod_leaves_the_cpu_a_waiting_gpu_needs() -> None:
    """n0's half-used GPU waits for a 470 of 12 cores; a whole-GPU pod of 8 cores there would
    leave 8: snugfit lifts n1, which keeps what it needs."""
    state = ClusterState.from_nodes(
        [
            NodeSpec("n0", 16000, 1 << 20, (GpuSpec("A"),) * 2),
            NodeSpec("n1", 64000, 1 << 20, (GpuSpec("A"),) * 8),
        ]
    )
    state.apply(Placement(0, (0,), (470,), 0, 0))
    policy = make_policy("snugfit", PolicyContext(np.random.default_rng(0), None))
    policy.retarget(mix_workload({470: 12000}))
    whole = PodDemand(cpu_milli=8000, memory_mib=0, gpu_count=1, gpu_milli=1000)
    scores = policy.score(state, whole, np.array([0, 1]))
    assert scores[0] < 101 <= scores[1]
