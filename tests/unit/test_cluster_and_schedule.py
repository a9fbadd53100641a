"""Cluster arrays, placements, GPU choice inside a node, and the scheduler's tie-breaks."""

from __future__ import annotations

import numpy as np
import pytest

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import (
    NO_MODEL,
    ClusterState,
    GpuSpec,
    NodeSpec,
    OverCommitError,
)
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement, PodKind
from snugfit.packing.policies import Policy, PolicyContext, make_policy
from snugfit.packing.policies.base import F64, I64
from snugfit.packing.schedule import Scheduler, pick_best


def mixed() -> ClusterState:
    return ClusterState.from_nodes(
        [
            NodeSpec("a", 8000, 16384, (GpuSpec("V100", 16384), GpuSpec("A100", 40960))),
            NodeSpec("b", 4000, 8192),
            NodeSpec("c", 2000, 4096, (GpuSpec("A100", 40960),) * 3),
        ]
    )


def test_from_nodes_pads_and_numbers_models_by_first_appearance() -> None:
    state = mixed()
    assert state.node_names == ("a", "b", "c")
    assert state.models == ("V100", "A100")
    assert state.gpu_capacity.tolist() == [[1000, 1000, 0], [0, 0, 0], [1000, 1000, 1000]]
    assert state.gpu_model.tolist() == [[0, 1, NO_MODEL], [NO_MODEL] * 3, [1, 1, 1]]
    assert state.gpu_memory_mib.tolist() == [[16384, 40960, 0], [0, 0, 0], [40960] * 3]
    assert state.gpu_count.tolist() == [2, 0, 3]
    assert state.total_gpu_milli() == 5000
    assert state.allocated_gpu_milli() == 0
    assert state.cpu_free.tolist() == [8000, 4000, 2000]
    assert state.memory_free.tolist() == [16384, 8192, 4096]


def test_cluster_without_gpus_has_one_padding_slot() -> None:
    state = ClusterState.from_nodes([NodeSpec("x", 1000, 1000)])
    assert state.gpu_capacity.shape == (1, 1)
    assert state.gpu_count.tolist() == [0]
    assert state.models == ()


@pytest.mark.parametrize(
    ("placement", "capacity", "kind"),
    [
        (Placement(0, (), (), 100, 0), [], PodKind.CPU_ONLY),
        (Placement(0, (1,), (300,), 100, 0), [1000], PodKind.SHARING),
        (Placement(0, (1,), (1000,), 100, 0), [1000], PodKind.WHOLE_GPU),
        (Placement(0, (0, 1), (1000, 1000), 100, 0), [1000, 1000], PodKind.WHOLE_GPU),
    ],
)
def test_placement_kind(placement: Placement, capacity: list[int], kind: PodKind) -> None:
    assert placement.kind(np.array(capacity, dtype=np.int64)) == kind


def test_placement_needs_one_share_per_slot() -> None:
    with pytest.raises(ValueError, match="same length"):
        Placement(0, (0, 1), (1000,), 0, 0)


def test_apply_and_remove_track_usage_kinds_and_versions() -> None:
    state = mixed()
    share = Placement(2, (1,), (300,), 500, 1024)
    whole = Placement(2, (0, 2), (1000, 1000), 1000, 1024)
    cpu = Placement(1, (), (), 4000, 8192)
    for p in (share, whole, cpu):
        state.apply(p)
    assert state.cpu_used.tolist() == [0, 4000, 1500]
    assert state.memory_used.tolist() == [0, 8192, 2048]
    assert state.gpu_used.tolist() == [[0, 0, 0], [0, 0, 0], [1000, 300, 1000]]
    assert state.gpu_free.tolist() == [[1000, 1000, 0], [0, 0, 0], [0, 700, 0]]
    assert state.cpu_free.tolist() == [8000, 0, 500]
    assert state.pods_by_kind.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert state.version.tolist() == [0, 1, 2]
    assert state.allocated_gpu_milli() == 2300
    # node b is full: one more millicore breaks it
    with pytest.raises(OverCommitError, match="cpu on b would be 4001m"):
        state.apply(Placement(1, (), (), 1, 0))
    with pytest.raises(OverCommitError, match="memory on b"):
        state.apply(Placement(1, (), (), 0, 1))
    with pytest.raises(OverCommitError, match="GPU share on c"):
        state.apply(Placement(2, (1,), (701,), 0, 0))
    with pytest.raises(OverCommitError, match="names a GPU slot twice"):
        state.apply(Placement(0, (0, 0), (100, 100), 0, 0))
    with pytest.raises(OverCommitError, match="GPU share on b"):  # padding slot
        state.apply(Placement(1, (0,), (1,), 0, 0))
    state.remove(whole)
    # no whole-GPU pod is left on c: removing a same-sized one again is refused
    with pytest.raises(OverCommitError):
        state.remove(whole)
    with pytest.raises(OverCommitError, match="no such pod on a"):
        state.remove(Placement(0, (), (), 0, 0))
    assert state.pods_by_kind.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_copy_is_independent() -> None:
    state = mixed()
    state.apply(Placement(0, (0,), (400,), 1000, 1000))
    clone = state.copy()
    clone.apply(Placement(0, (0,), (600,), 1000, 1000))
    assert state.gpu_free[0, 0] == 600 and clone.gpu_free[0, 0] == 0
    assert state.cpu_free[0] == 7000 and clone.cpu_free[0] == 6000
    assert state.cpu_used[0] == 1000 and clone.cpu_used[0] == 2000
    assert state.pods_by_kind[0].tolist() == [0, 1, 0]
    assert clone.pods_by_kind[0].tolist() == [0, 2, 0]
    assert state.version[0] == 1 and clone.version[0] == 2


# ---------------------------------------------------------------- GPU choice inside a node
def gpu_node(used: list[int], models: tuple[str, ...] | None = None) -> ClusterState:
    names = models or ("A",) * len(used)
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, tuple(GpuSpec(m) for m in names))])
    for slot, milli in enumerate(used):
        if milli:
            state.apply(Placement(0, (slot,), (milli,), 0, 0))
    return state


def test_first_fit_takes_the_lowest_numbered_fitting_gpus() -> None:
    state = gpu_node([0, 600, 0, 300])  # free [1000, 400, 1000, 700]
    assert gpu_choice.first_fit(state, PodDemand(0, 0, 1, 500), 0) == (0,)
    assert gpu_choice.first_fit(state, PodDemand(0, 0, 1, 400), 0) == (0,)
    assert gpu_choice.first_fit(state, PodDemand(0, 0, 2, 1000), 0) == (0, 2)
    assert gpu_choice.first_fit(state, PodDemand(0, 0), 0) == ()


def test_best_fit_takes_the_least_free_fitting_gpus() -> None:
    state = gpu_node([0, 600, 0, 300, 600])  # free [1000, 400, 1000, 700, 400]
    assert gpu_choice.best_fit(state, PodDemand(0, 0, 1, 400), 0) == (1,)  # tie -> lowest
    assert gpu_choice.best_fit(state, PodDemand(0, 0, 1, 500), 0) == (3,)
    assert gpu_choice.best_fit(state, PodDemand(0, 0, 2, 1000), 0) == (0, 2)
    assert gpu_choice.best_fit(state, PodDemand(0, 0, 1, 401), 0) == (3,)


def test_gpu_choice_respects_models_and_refuses_nodes_that_cannot_host() -> None:
    state = gpu_node([0, 0, 500], ("V100", "A100", "A100"))
    only_a100 = PodDemand(0, 0, 1, 300, allowed_models=frozenset({"A100"}))
    assert gpu_choice.best_fit(state, only_a100, 0) == (2,)
    assert gpu_choice.first_fit(state, only_a100, 0) == (1,)
    with pytest.raises(ValueError, match="cannot host"):
        gpu_choice.first_fit(state, PodDemand(0, 0, 3, 1000), 0)
    with pytest.raises(ValueError, match="cannot host"):
        gpu_choice.random_fit(state, PodDemand(0, 0, 3, 1000), 0, np.random.default_rng(0))


# ---------------------------------------------------------------- tie-breaks
def test_pick_best_uses_rank_or_a_uniform_draw() -> None:
    nodes = np.array([3, 5, 7, 9])
    scores = np.array([1.0, 4.0, 4.0, 2.0])
    rank = np.array([0, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    rng = np.random.default_rng(0)
    assert pick_best(nodes, scores, rng, rank) == 7  # rank 3 beats node 5's rank 5
    assert pick_best(nodes, np.array([1.0, 4.0, 5.0, 2.0]), rng, rank) == 7
    draws = {pick_best(nodes, scores, np.random.default_rng(s), None) for s in range(30)}
    assert draws == {5, 7}


class Constant(Policy):
    """Every node scores the same; counts how often it was asked."""

    name = "constant"

    def __init__(self, tie_break: str) -> None:
        super().__init__(PolicyContext(np.random.default_rng(0)))
        self.tie_break = tie_break  # type: ignore[assignment]
        self.calls = 0

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        self.calls += 1
        return np.zeros(len(nodes))


def test_rank_tie_break_is_one_fixed_order_per_run() -> None:
    state = ClusterState.from_nodes([NodeSpec(f"n{i}", 100000, 100000) for i in range(8)])
    scheduler = Scheduler(Constant("rank"), np.random.default_rng(7))
    first = scheduler.decide(state, PodDemand(100, 0))
    assert isinstance(first, Placement)
    rank = scheduler.rank(8)
    assert rank is not None and sorted(rank.tolist()) == list(range(8))
    assert first.node == int(np.argmin(rank))
    # the same node keeps winning every tie; once it is full, the next in rank order wins
    for _ in range(3):
        again = scheduler.decide(state, PodDemand(100, 0))
        assert isinstance(again, Placement) and again.node == first.node
    state.apply(Placement(first.node, (), (), 100000, 0))
    nxt = scheduler.decide(state, PodDemand(100, 0))
    assert isinstance(nxt, Placement)
    assert nxt.node == int(np.argsort(rank)[1])
    assert scheduler.rank(8) is rank  # drawn once


def test_uniform_tie_break_has_no_rank() -> None:
    state = ClusterState.from_nodes([NodeSpec(f"n{i}", 1000, 1000) for i in range(8)])
    scheduler = Scheduler(Constant("uniform"), np.random.default_rng(7))
    nodes = set()
    for _ in range(30):
        result = scheduler.decide(state, PodDemand(100, 0))
        assert isinstance(result, Placement)
        nodes.add(result.node)
    assert scheduler.rank(8) is None
    assert len(nodes) > 1


def test_a_single_feasible_node_is_taken_without_scoring() -> None:
    state = ClusterState.from_nodes([NodeSpec("small", 100, 100), NodeSpec("big", 1000, 1000)])
    policy = Constant("rank")
    result = Scheduler(policy, np.random.default_rng(0)).decide(state, PodDemand(500, 0))
    assert result == Placement(1, (), (), 500, 0)
    assert policy.calls == 0


def test_placement_takes_the_per_gpu_need_of_a_memory_sized_pod() -> None:
    state = ClusterState.from_nodes(
        [NodeSpec("n", 1000, 1000, (GpuSpec("A", 16384), GpuSpec("B", 40960)))]
    )
    policy = make_policy("bestfit", PolicyContext(np.random.default_rng(0)))
    result = Scheduler(policy, np.random.default_rng(0)).decide(
        state, PodDemand(0, 0, 2, gpu_memory_mib=8192)
    )
    # 8192 MiB: 500 of the 16 GiB GPU, ceil(200) = 200 of the 40 GiB one
    assert result == Placement(0, (0, 1), (500, 200), 0, 0)
