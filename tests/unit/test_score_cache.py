"""NodeScoreCache gives exactly the uncached scores, and the policy's PerNodeCaches of GPU
choices and of node fragmentation exactly the uncached values, whatever happened to the
cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import Reason, feasibility
from snugfit.packing.per_node_cache import PerNodeCache
from snugfit.packing.placement import Placement
from snugfit.packing.policies import POLICIES, Policy, PolicyContext, make_policy
from snugfit.packing.policies.base import F64, I64
from snugfit.packing.policies.fgd import Fgd, fragmentation_now
from snugfit.packing.schedule import NodeScoreCache, Scheduler
from snugfit.packing.workload import shape_counts, target_workload

DEMANDS = [
    PodDemand(1000, 2048),
    PodDemand(4000, 8192, 1, 250),
    PodDemand(2000, 1024, 1, 500, allowed_models=frozenset({"V100"})),
    PodDemand(8000, 4096, 1, 1000),
    PodDemand(8000, 4096, 2, 1000),
    PodDemand(500, 512, 1, gpu_memory_mib=12000),
    PodDemand(0, 0),
]


def cluster(rng: np.random.Generator) -> ClusterState:
    nodes = []
    for i in range(10):
        count = int(rng.integers(0, 9))
        gpus = tuple(
            GpuSpec(str(rng.choice(["A100", "V100"])), int(rng.choice([0, 16384, 40960])))
            for _ in range(count)
        )
        nodes.append(NodeSpec(f"n{i}", int(rng.integers(8, 97)) * 1000, 65536, gpus))
    return ClusterState.from_nodes(nodes)


def random_run(name: str, seed: int) -> tuple[np.random.Generator, ClusterState, Policy]:
    """A random cluster and the named policy targeting DEMANDS' mix."""
    rng = np.random.default_rng(seed)
    state = cluster(rng)
    wl = target_workload(shape_counts(DEMANDS), state.models)
    return rng, state, make_policy(name, PolicyContext(np.random.default_rng(seed), wl))


def churn(
    state: ClusterState, scheduler: Scheduler, rng: np.random.Generator, placed: list[Placement]
) -> Iterator[None]:
    """120 steps, each removing a placed pod (about a third of the time) or placing one of
    DEMANDS with ``scheduler``; ``placed`` holds what is placed."""
    for _ in range(120):
        if placed and rng.random() < 0.35:
            state.remove(placed.pop(int(rng.integers(len(placed)))))
        else:
            result = scheduler.decide(state, DEMANDS[int(rng.integers(len(DEMANDS)))])
            if isinstance(result, Placement):
                state.apply(result)
                placed.append(result)
        yield


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("seed", [0, 1])
def test_cached_scores_equal_uncached_after_apply_and_remove(name: str, seed: int) -> None:
    rng, state, policy = random_run(name, seed)
    scheduler = Scheduler(policy, np.random.default_rng(seed))
    cache = NodeScoreCache(policy, max_shapes=3)  # small: entries get evicted and rebuilt
    placed: list[Placement] = []
    for _ in churn(state, scheduler, rng, placed):
        for demand in DEMANDS:
            feasible = np.flatnonzero(feasibility(state, demand) == Reason.FITS)
            if len(feasible) == 0:
                continue
            subset = feasible[rng.random(len(feasible)) < 0.7] if len(feasible) > 1 else feasible
            for nodes in (feasible, subset):
                np.testing.assert_array_equal(
                    cache.scores(state, demand, nodes), policy.score(state, demand, nodes)
                )
    assert placed or name == "random"  # the sequence did place pods


@pytest.mark.parametrize("name", [n for n in sorted(POLICIES) if issubclass(POLICIES[n], Fgd)])
@pytest.mark.parametrize("seed", [0, 1])
def test_kept_gpu_choices_equal_fresh_ones_after_apply_and_remove(name: str, seed: int) -> None:
    rng, state, policy = random_run(name, seed)
    assert isinstance(policy, Fgd)
    policy.best_slots = PerNodeCache(
        np.int64, max_shapes=2
    )  # small: entries get evicted and rebuilt
    scheduler = Scheduler(policy, np.random.default_rng(seed))
    placed: list[Placement] = []
    sharing = [d for d in DEMANDS if d.is_sharing]
    for _ in churn(state, scheduler, rng, placed):
        for demand in sharing:
            nodes = np.flatnonzero(feasibility(state, demand) == Reason.FITS)
            if len(nodes):
                fresh = np.argmax(policy.slot_scores(state, demand, nodes), axis=1)
                np.testing.assert_array_equal(policy.sharing_slots(state, demand, nodes), fresh)
    assert placed


@pytest.mark.parametrize("name", [n for n in sorted(POLICIES) if issubclass(POLICIES[n], Fgd)])
@pytest.mark.parametrize("seed", [0, 1])
def test_kept_fragmentation_equals_a_fresh_measure_after_apply_and_remove(
    name: str, seed: int
) -> None:
    rng, state, policy = random_run(name, seed)
    assert isinstance(policy, Fgd)
    scheduler = Scheduler(policy, np.random.default_rng(seed))
    placed: list[Placement] = []
    for _ in churn(state, scheduler, rng, placed):
        nodes = np.arange(state.num_nodes)
        subset = nodes[rng.random(len(nodes)) < 0.5]
        for capped in (False, True):
            for asked in (nodes, subset):
                np.testing.assert_array_equal(  # to the bit: growths of 0 stay 0
                    policy.fragmentation_now(state, asked, capped),
                    fragmentation_now(state, asked, policy.workload, capped),
                )
    assert placed


def test_gpu_choices_are_asked_again_only_for_changed_nodes() -> None:
    state = ClusterState.from_nodes(
        [NodeSpec(f"n{i}", 1000, 1000, (GpuSpec("A100"),) * 2) for i in range(4)]
    )
    asked: list[int] = []

    def choose(nodes: I64) -> I64:
        asked.extend(nodes.tolist())
        return nodes % 2

    cache = PerNodeCache(np.int64)
    demand, nodes = PodDemand(0, 0, 1, 500), np.arange(4)
    assert cache.values(state, demand, nodes, choose).tolist() == [0, 1, 0, 1]
    cache.keep(state, PodDemand(0, 0, 1, 250), nodes[:2], np.array([1, 1]))
    assert cache.values(state, PodDemand(0, 0, 1, 250), nodes[:2], choose).tolist() == [1, 1]
    assert asked == [0, 1, 2, 3]  # kept choices are not asked for
    state.apply(Placement(2, (0,), (500,), 0, 0))
    assert cache.values(state, demand, nodes, choose).tolist() == [0, 1, 0, 1]
    assert asked == [0, 1, 2, 3, 2]  # only the node that changed
    other = state.copy()  # same versions, another cluster: nothing kept is reused
    cache.values(other, demand, nodes, choose)
    assert asked == [0, 1, 2, 3, 2, 0, 1, 2, 3]


def test_cache_is_reset_for_another_state_object() -> None:
    rng = np.random.default_rng(3)
    state = cluster(rng)
    policy = make_policy("bestfit", PolicyContext(rng))
    cache = NodeScoreCache(policy)
    demand = PodDemand(1000, 0)
    nodes = np.arange(state.num_nodes)
    cache.scores(state, demand, nodes)
    other = state.copy()  # same versions, different usage: must not reuse the old entries
    other.apply(Placement(0, (), (), 4000, 0))
    other.version[0] = state.version[0]  # even if the counter happened to match
    np.testing.assert_array_equal(
        cache.scores(other, demand, nodes), policy.score(other, demand, nodes)
    )


class CountingPolicy(Policy):
    """Scores every node by its free CPU and counts the nodes it was asked about."""

    name = "counting"
    node_local: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__(PolicyContext(np.random.default_rng(0)))
        self.asked = 0

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        self.asked += len(nodes)
        result: F64 = state.cpu_free[nodes].astype(np.float64)
        return result


def test_cache_rescored_only_changed_nodes() -> None:
    state = ClusterState.from_nodes([NodeSpec(f"n{i}", 1000, 1000) for i in range(5)])
    policy = CountingPolicy()
    cache = NodeScoreCache(policy)
    nodes = np.arange(5)
    demand = PodDemand(100, 0)
    assert cache.scores(state, demand, nodes).tolist() == [1000] * 5
    assert policy.asked == 5
    cache.scores(state, demand, nodes)
    assert policy.asked == 5  # nothing changed
    state.apply(Placement(2, (), (), 300, 0))
    assert cache.scores(state, demand, nodes).tolist() == [1000, 1000, 700, 1000, 1000]
    assert policy.asked == 6  # only node 2
    cache.scores(state, PodDemand(200, 0), nodes)  # another shape: its own entry
    assert policy.asked == 11


def test_non_node_local_policies_are_never_cached() -> None:
    state = ClusterState.from_nodes([NodeSpec(f"n{i}", 1000, 1000) for i in range(3)])
    policy = CountingPolicy()
    policy.node_local = False  # type: ignore[misc]
    cache = NodeScoreCache(policy)
    for _ in range(3):
        cache.scores(state, PodDemand(100, 0), np.arange(3))
    assert policy.asked == 9
