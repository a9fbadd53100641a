"""Property tests of the pure packing core (snugfit.packing).

Every test is seed-controlled (``derandomize=True``, no example database) so a failure replays
identically, and small enough to run in well under a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snugfit.packing.cluster import (
    GPU_MILLI,
    NO_MODEL,
    ClusterState,
    GpuSpec,
    NodeSpec,
    OverCommitError,
)
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import Reason, feasibility
from snugfit.packing.fragmentation import (
    DISTINCT_MIN_ROWS,
    TargetWorkload,
    cluster_fragmentation,
    distinct_rows,
    node_fragmentation,
)
from snugfit.packing.lookahead import best_next_growth, next_pod_gain
from snugfit.packing.placement import Placement
from snugfit.packing.policies import POLICIES, PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler, Unschedulable
from snugfit.packing.workload import shape_counts, target_workload

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODELS = ("A100", "V100", "T4")
GPU_MEMORIES = (0, 16384, 24576, 40960, 81920)  # 0 = memory unknown

# ------------------------------------------------------------------------------------------
# strategies


@st.composite
def node_lists(draw: st.DrawFn, min_nodes: int = 1, max_nodes: int = 12) -> list[NodeSpec]:
    """1-12 nodes, each with 0-8 GPUs whose models and memories may differ within a node."""
    n = draw(st.integers(min_nodes, max_nodes))
    nodes = []
    for i in range(n):
        cpu = draw(st.sampled_from([0, 2000, 8000, 32000, 96000]) | st.integers(0, 128000))
        mem = draw(st.sampled_from([0, 4096, 65536, 262144]) | st.integers(0, 300000))
        gpus = draw(
            st.lists(
                st.builds(GpuSpec, st.sampled_from(MODELS), st.sampled_from(GPU_MEMORIES)),
                max_size=8,
            )
        )
        nodes.append(NodeSpec(f"node-{i}", cpu, mem, tuple(gpus)))
    return nodes


allowed_models = st.none() | st.frozensets(
    st.sampled_from((*MODELS, "H100")), min_size=1, max_size=2
)


@st.composite
def demands(draw: st.DrawFn) -> PodDemand:
    cpu = draw(st.sampled_from([0, 100, 1000, 4000, 16000, 64000]) | st.integers(0, 130000))
    mem = draw(st.sampled_from([0, 512, 4096, 65536]) | st.integers(0, 300000))
    kind = draw(st.sampled_from(["cpu", "share", "whole", "memory"]))
    if kind == "cpu":
        return PodDemand(cpu, mem)
    models = draw(allowed_models)
    if kind == "share":
        milli = draw(st.sampled_from([100, 250, 500, 700, 999]) | st.integers(1, 999))
        return PodDemand(cpu, mem, 1, milli, allowed_models=models)
    if kind == "whole":
        count = draw(st.integers(1, 8))
        return PodDemand(cpu, mem, count, GPU_MILLI, allowed_models=models)
    count = draw(st.integers(1, 2))
    gpu_mem = draw(st.sampled_from([1000, 8000, 16384, 20000, 40000]))
    return PodDemand(cpu, mem, count, gpu_memory_mib=gpu_mem, allowed_models=models)


@dataclass(frozen=True)
class Op:
    """Either a pod arrival (``demand``) or the departure of placed pod number ``index``."""

    demand: PodDemand | None
    index: int = 0


operations = st.lists(
    st.one_of(
        st.builds(Op, demands()),
        st.builds(Op, demands()),
        st.builds(Op, st.none(), st.integers(0, 1000)),
    ),
    max_size=25,
)
seeds = st.integers(0, 2**32 - 1)


def workload_for(state: ClusterState, ops: Sequence[Op]) -> TargetWorkload:
    return target_workload(shape_counts(op.demand for op in ops if op.demand), state.models)


def scheduler_for(name: str, seed: int, workload: TargetWorkload) -> Scheduler:
    rng = np.random.default_rng(seed)
    return Scheduler(make_policy(name, PolicyContext(rng, workload)), rng)


# ------------------------------------------------------------------------------------------
# plain-Python references, written from the docstrings rather than from the vectorised code


def ref_need(state: ClusterState, demand: PodDemand, node: int, slot: int) -> int | None:
    """Milli-share the pod takes on one slot; None where it cannot be sized."""
    if demand.gpu_memory_mib == 0:
        return demand.gpu_milli
    size = int(state.gpu_memory_mib[node, slot])
    if size == 0:
        return None
    need = math.ceil(demand.gpu_memory_mib * GPU_MILLI / size)
    return need if need <= GPU_MILLI else None


def ref_allowed(state: ClusterState, demand: PodDemand, node: int, slot: int) -> bool:
    if state.gpu_capacity[node, slot] <= 0:
        return False
    model = state.models[int(state.gpu_model[node, slot])]
    return demand.allowed_models is None or model in demand.allowed_models


def ref_reason(state: ClusterState, demand: PodDemand, node: int) -> Reason:
    """The first failing check, in Reason order."""
    slots = range(state.gpu_capacity.shape[1])
    real = [g for g in slots if state.gpu_capacity[node, g] > 0]
    allowed = [g for g in real if ref_allowed(state, demand, node, g)]
    if demand.gpu_count:
        if real and not allowed:
            return Reason.GPU_MODEL_NOT_ALLOWED
        if len(allowed) < demand.gpu_count:
            return Reason.TOO_FEW_GPUS
    if state.cpu_capacity[node] - state.cpu_used[node] < demand.cpu_milli:
        return Reason.INSUFFICIENT_CPU
    if state.memory_capacity[node] - state.memory_used[node] < demand.memory_mib:
        return Reason.INSUFFICIENT_MEMORY
    if demand.gpu_count:
        fitting = 0
        for g in allowed:
            need = ref_need(state, demand, node, g)
            free = state.gpu_capacity[node, g] - state.gpu_used[node, g]
            if need is not None and free >= need:
                fitting += 1
        if fitting < demand.gpu_count:
            return Reason.NO_GPU_WITH_ENOUGH_FREE_SHARE
    return Reason.FITS


def ref_node_fragmentation(
    gpu_free: np.ndarray,
    gpu_model: np.ndarray,
    cpu_free: np.ndarray,
    wl: TargetWorkload,
    gpu_memory: np.ndarray,
) -> list[float]:
    """F_n(M) from fragmentation.py's docstring, one node, shape and GPU at a time.

    F_n(m) = sum_g r_g if m needs no GPU or n cannot host m (model, CPU, fewer than k_m GPUs
    with r_g >= d_m of an accepted model); else sum of r_g over GPUs m cannot use (too small
    or of a model m does not accept). Padding slots (model -1) are never usable. A shape sized
    in GPU memory needs d = ceil(memory * 1000 / the GPU's memory) and never fits a GPU of
    unknown (0) memory.
    """
    out = []
    for n in range(len(gpu_free)):
        free = [int(x) for x in gpu_free[n]]
        total = sum(free)
        value = 0.0
        for m in range(wl.size):
            usable = []
            for g, r in enumerate(free):
                model = int(gpu_model[n][g])
                accepted = model != NO_MODEL and bool(wl.model_allowed[m][model])
                need = int(wl.gpu_milli[m])
                if wl.gpu_memory_mib is not None and int(wl.gpu_memory_mib[m]) > 0:
                    size = int(gpu_memory[n][g])
                    mem = int(wl.gpu_memory_mib[m])
                    need = -(-mem * 1000 // size) if size > 0 else 10**18
                usable.append(accepted and r >= need)
            hostable = (
                int(wl.gpu_count[m]) > 0
                and sum(usable) >= int(wl.gpu_count[m])
                and int(cpu_free[n]) >= int(wl.cpu_milli[m])
            )
            stranded = sum(r for r, ok in zip(free, usable, strict=True) if not ok)
            f_m = stranded if hostable else total
            value += float(wl.weight[m]) * f_m
        out.append(value)
    return out


# ------------------------------------------------------------------------------------------
# helpers


STATE_ARRAYS = (
    "cpu_used",
    "memory_used",
    "gpu_used",
    "pods_by_kind",
    "version",
    "cpu_free",
    "memory_free",
    "gpu_free",
)


def snapshot(state: ClusterState) -> dict[str, np.ndarray]:
    return {name: np.array(getattr(state, name), copy=True) for name in STATE_ARRAYS}


def assert_same_arrays(state: ClusterState, before: dict[str, np.ndarray], *skip: str) -> None:
    for name, array in before.items():
        if name not in skip:
            np.testing.assert_array_equal(getattr(state, name), array, err_msg=name)


def assert_within_capacity(state: ClusterState) -> None:
    """Usage within capacity, and the free arrays in step with capacity - used."""
    np.testing.assert_array_equal(state.cpu_free, state.cpu_capacity - state.cpu_used)
    np.testing.assert_array_equal(state.memory_free, state.memory_capacity - state.memory_used)
    np.testing.assert_array_equal(state.gpu_free, state.gpu_capacity - state.gpu_used)
    assert (state.cpu_used >= 0).all() and (state.cpu_used <= state.cpu_capacity).all()
    assert (state.memory_used >= 0).all() and (state.memory_used <= state.memory_capacity).all()
    assert (state.gpu_used >= 0).all() and (state.gpu_used <= state.gpu_capacity).all()
    assert (state.gpu_used[state.gpu_capacity == 0] == 0).all()
    assert (state.pods_by_kind >= 0).all()


def assert_valid_placement(state: ClusterState, demand: PodDemand, p: Placement) -> None:
    """GPU slots distinct, real, of an allowed model, each with enough free share."""
    assert p.cpu_milli == demand.cpu_milli
    assert p.memory_mib == demand.memory_mib
    assert len(p.gpu_slots) == demand.gpu_count
    assert len(set(p.gpu_slots)) == len(p.gpu_slots)
    for slot, milli in zip(p.gpu_slots, p.gpu_milli, strict=True):
        assert 0 <= slot < state.gpu_capacity.shape[1]
        assert state.gpu_capacity[p.node, slot] > 0
        assert ref_allowed(state, demand, p.node, slot)
        assert milli == ref_need(state, demand, p.node, slot)
        assert state.gpu_capacity[p.node, slot] - state.gpu_used[p.node, slot] >= milli


def outcome(result: Placement | Unschedulable) -> object:
    if isinstance(result, Unschedulable):
        return ("unschedulable", tuple(int(r) for r in result.reasons))
    return result


def replay(
    name: str, nodes: Sequence[NodeSpec], ops: Sequence[Op], seed: int
) -> tuple[list[object], ClusterState]:
    state = ClusterState.from_nodes(nodes)
    scheduler = scheduler_for(name, seed, workload_for(state, ops))
    placed: list[Placement] = []
    outcomes: list[object] = []
    for op in ops:
        if op.demand is None:
            if placed:
                state.remove(placed.pop(op.index % len(placed)))
            continue
        result = scheduler.decide(state, op.demand)
        outcomes.append(outcome(result))
        if isinstance(result, Placement):
            state.apply(result)
            placed.append(result)
    return outcomes, state


# ------------------------------------------------------------------------------------------
# scheduling


@pytest.mark.parametrize("name", sorted(POLICIES))
@SETTINGS
@given(nodes=node_lists(), ops=operations, seed=seeds)
def test_decisions_are_feasible_and_never_overcommit(
    name: str, nodes: list[NodeSpec], ops: list[Op], seed: int
) -> None:
    state = ClusterState.from_nodes(nodes)
    scheduler = scheduler_for(name, seed, workload_for(state, ops))
    policy = scheduler.policy
    placed: list[Placement] = []
    for op in ops:
        if op.demand is None:
            if placed:
                state.remove(placed.pop(op.index % len(placed)))
                assert_within_capacity(state)
            continue
        demand = op.demand
        reasons = feasibility(state, demand)
        expected = [ref_reason(state, demand, n) for n in range(state.num_nodes)]
        assert [Reason(int(r)) for r in reasons] == expected
        feasible = np.flatnonzero(reasons == Reason.FITS)
        scores = None
        if len(feasible):
            raw = policy.rescore(state, demand, feasible, policy.score(state, demand, feasible))
            scores = policy.normalize(raw)
        before = snapshot(state)

        result = scheduler.decide(state, demand)

        assert_same_arrays(state, before)  # deciding changes nothing
        if isinstance(result, Unschedulable):
            assert len(feasible) == 0  # Unschedulable iff no node fits
            np.testing.assert_array_equal(result.reasons, reasons)
            continue
        assert len(feasible) > 0
        assert result.node in feasible  # an infeasible node is never chosen
        assert_valid_placement(state, demand, result)
        # the chosen node has the best score among all feasible nodes (n < 100: no sampling)
        assert scores is not None
        chosen = scores[feasible == result.node][0]
        assert chosen == scores.max()
        rank = scheduler.rank(state.num_nodes)
        if rank is not None:
            best = feasible[scores == scores.max()]
            assert result.node == best[np.argmin(rank[best])]
        state.apply(result)
        placed.append(result)
        assert_within_capacity(state)


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(SETTINGS, max_examples=30)
@given(nodes=node_lists(), ops=operations, seed=seeds)
def test_decisions_are_deterministic_per_seed(
    name: str, nodes: list[NodeSpec], ops: list[Op], seed: int
) -> None:
    first, state_a = replay(name, nodes, ops, seed)
    second, state_b = replay(name, nodes, ops, seed)
    assert first == second
    assert_same_arrays(state_a, snapshot(state_b))


# ------------------------------------------------------------------------------------------
# apply / remove


@st.composite
def loaded_states(draw: st.DrawFn) -> tuple[ClusterState, list[Placement]]:
    """A cluster with some pods placed by the random policy (any feasible spot)."""
    nodes = draw(node_lists())
    pods = draw(st.lists(demands(), max_size=15))
    state = ClusterState.from_nodes(nodes)
    scheduler = scheduler_for("random", draw(seeds), target_workload(shape_counts([]), ()))
    placed = []
    for demand in pods:
        result = scheduler.decide(state, demand)
        if isinstance(result, Placement):
            state.apply(result)
            placed.append(result)
    return state, placed


@SETTINGS
@given(loaded=loaded_states(), demand=demands(), seed=seeds)
def test_remove_after_apply_restores_arrays(
    loaded: tuple[ClusterState, list[Placement]], demand: PodDemand, seed: int
) -> None:
    state, placed = loaded
    scheduler = scheduler_for("random", seed, target_workload(shape_counts([]), ()))
    result = scheduler.decide(state, demand)
    candidates = list(placed)
    if isinstance(result, Placement):
        candidates.append(result)
    for p in candidates:
        fresh = p is not result
        before = snapshot(state)
        if fresh:  # already placed: take it out, then put it back
            state.remove(p)
            state.apply(p)
        else:
            state.apply(p)
            state.remove(p)
        assert_same_arrays(state, before, "version")
        assert_within_capacity(state)
        # the change counter only ever grows: per-node caches must see both changes
        assert (state.version[p.node] == before["version"][p.node] + 2).all()
        others = np.arange(state.num_nodes) != p.node
        np.testing.assert_array_equal(state.version[others], before["version"][others])


@SETTINGS
@given(loaded=loaded_states(), data=st.data())
def test_overcommitting_apply_raises_and_changes_nothing(
    loaded: tuple[ClusterState, list[Placement]], data: st.DataObject
) -> None:
    state, _ = loaded
    node = data.draw(st.integers(0, state.num_nodes - 1), label="node")
    bad = [
        Placement(node, (), (), int(state.cpu_free[node]) + 1, 0),
        Placement(node, (), (), 0, int(state.memory_free[node]) + 1),
    ]
    slots = state.gpu_capacity.shape[1]
    slot = data.draw(st.integers(0, slots - 1), label="slot")
    free = int(state.gpu_free[node, slot])
    bad.append(Placement(node, (slot,), (free + 1,), 0, 0))
    if state.gpu_capacity[node, slot] > 0 and free > 0:
        bad.append(Placement(node, (slot, slot), (1, 1), 0, 0))  # a slot named twice
    before = snapshot(state)
    for p in bad:
        with pytest.raises(OverCommitError):
            state.apply(p)
        assert_same_arrays(state, before)
    # taking back more than was placed is refused the same way
    for p in (
        Placement(node, (), (), int(state.cpu_used[node]) + 1, 0),
        Placement(node, (), (), 0, int(state.memory_used[node]) + 1),
        Placement(node, (slot,), (int(state.gpu_used[node, slot]) + 1,), 0, 0),
    ):
        with pytest.raises(OverCommitError):
            state.remove(p)
        assert_same_arrays(state, before)
    assert_within_capacity(state)


@SETTINGS
@given(loaded=loaded_states())
def test_removing_every_pod_empties_the_cluster(
    loaded: tuple[ClusterState, list[Placement]],
) -> None:
    state, placed = loaded
    for p in reversed(placed):
        state.remove(p)
    assert not state.cpu_used.any()
    assert not state.memory_used.any()
    assert not state.gpu_used.any()
    assert not state.pods_by_kind.any()
    assert_within_capacity(state)
    with pytest.raises(OverCommitError):
        state.remove(Placement(0, (), (), 0, 0))  # no CPU-only pod left to remove


# ------------------------------------------------------------------------------------------
# fragmentation


@st.composite
def free_states(
    draw: st.DrawFn,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """(gpu_free, gpu_model, cpu_free, model names) of a random cluster and usage."""
    state = ClusterState.from_nodes(draw(node_lists()))
    shares = st.sampled_from([0, 1, 200, 499, 500, 501, 700, 999, 1000]) | st.integers(0, 1000)
    free = np.zeros_like(state.gpu_capacity)
    for n, g in zip(*np.nonzero(state.gpu_capacity), strict=True):
        free[n, g] = draw(shares)
    cpu = np.array([draw(st.integers(0, int(c))) for c in state.cpu_capacity], dtype=np.int64)
    return free, state.gpu_model, cpu, state.models, state.gpu_memory_mib


@st.composite
def raw_workloads(draw: st.DrawFn, models: int) -> TargetWorkload:
    """Any TargetWorkload: free shapes, random model masks (padding column False), weights."""
    size = draw(st.integers(0, 6))
    cpu = [
        draw(st.sampled_from([0, 1000, 8000, 64000]) | st.integers(0, 130000)) for _ in range(size)
    ]
    milli = [draw(st.sampled_from([0, 1, 500, 1000]) | st.integers(0, 1000)) for _ in range(size)]
    count = [draw(st.integers(0, 8)) for _ in range(size)]
    allowed = np.zeros((size, models + 1), dtype=bool)
    for m in range(size):
        allowed[m, :models] = [draw(st.booleans()) for _ in range(models)]
    weight = [draw(st.floats(0, 1, allow_nan=False)) for _ in range(size)]
    return TargetWorkload(
        cpu_milli=np.array(cpu, dtype=np.int64),
        gpu_milli=np.array(milli, dtype=np.int64),
        gpu_count=np.array(count, dtype=np.int64),
        model_allowed=allowed,
        weight=np.array(weight, dtype=np.float64),
    )


def assert_close_lists(actual: np.ndarray, expected: list[float]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual.tolist(), expected, strict=True):
        assert math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-6), (actual, expected)


@SETTINGS
@given(data=st.data())
def test_node_fragmentation_matches_reference_on_raw_workloads(data: st.DataObject) -> None:
    free, model, cpu, models, memory = data.draw(free_states(), label="state")
    wl = data.draw(raw_workloads(len(models)), label="workload")
    assert_close_lists(
        node_fragmentation(free, model, cpu, wl, memory),
        ref_node_fragmentation(free, model, cpu, wl, memory),
    )


@SETTINGS
@given(
    data=st.data(),
    pods=st.lists(demands(), max_size=30),
    coverage=st.sampled_from([1.0, 0.95, 0.6]) | st.floats(0.01, 1.0),
)
def test_node_fragmentation_matches_reference_on_target_workloads(
    data: st.DataObject, pods: list[PodDemand], coverage: float
) -> None:
    free, model, cpu, models, memory = data.draw(free_states(), label="state")
    wl = target_workload(shape_counts(pods), models, coverage)
    if wl.size:
        assert math.isclose(float(wl.weight.sum()), 1.0)
    assert_close_lists(
        node_fragmentation(free, model, cpu, wl, memory),
        ref_node_fragmentation(free, model, cpu, wl, memory),
    )


@SETTINGS
@given(data=st.data())
def test_node_fragmentation_of_many_alike_rows_matches_reference(data: st.DataObject) -> None:
    """Tables large enough to be measured once per distinct row (most rows repeat, as in a
    cluster of a few node types) give every row the reference's value."""
    free, model, cpu, models, memory = data.draw(free_states(), label="state")
    wl = data.draw(raw_workloads(len(models)), label="workload")
    rows = data.draw(
        st.lists(st.integers(0, len(free) - 1), min_size=DISTINCT_MIN_ROWS, max_size=150),
        label="rows",
    )
    table = (free[rows], model[rows], cpu[rows], wl, memory[rows])
    assert_close_lists(node_fragmentation(*table), ref_node_fragmentation(*table))


@SETTINGS
@given(
    data=st.data(),
    pods=st.lists(demands(), max_size=30),
    cpu_capped=st.booleans(),
)
def test_a_node_measured_alone_gets_its_value_in_any_table(
    data: st.DataObject, pods: list[PodDemand], cpu_capped: bool
) -> None:
    """A node's fragmentation depends on that node alone, to the bit, whichever rows it is
    measured with: policies keep it per node and subtract it from values measured in other
    batches, where a placement that changes nothing must grow it by exactly 0."""
    free, model, cpu, models, memory = data.draw(free_states(), label="state")
    wl = target_workload(shape_counts(pods), models)
    table = node_fragmentation(free, model, cpu, wl, memory, cpu_capped)
    for n in range(len(free)):
        alone = node_fragmentation(
            free[n : n + 1], model[n : n + 1], cpu[n : n + 1], wl, memory[n : n + 1], cpu_capped
        )
        assert float(alone[0]) == float(table[n])


@SETTINGS
@given(rows=st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=1, max_size=40))
def test_distinct_rows_names_each_row_by_an_equal_first_row(rows: list[list[int]]) -> None:
    table = np.array(rows, dtype=np.int64)
    found = distinct_rows(table)
    assert found is not None
    first, inverse = found
    assert np.array_equal(table[first][inverse], table)
    assert (
        len({tuple(r) for r in table[first].tolist()})
        == len(first)
        == len({tuple(r) for r in rows})
    )


def test_colliding_row_keys_fall_back_to_measuring_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import snugfit.packing.fragmentation as fragmentation

    monkeypatch.setattr(fragmentation, "_ROW_KEY", np.zeros(64, dtype=np.int64))  # all collide
    table = np.array([[1, 2], [1, 2], [3, 4]], dtype=np.int64)
    assert distinct_rows(table) is None
    free = np.array([[1000, 200]] * 40 + [[500, 0]] * 40, dtype=np.int64)
    wl = TargetWorkload(
        cpu_milli=np.array([1000]),
        gpu_milli=np.array([300]),
        gpu_count=np.array([1]),
        model_allowed=np.array([[True, False]]),
        weight=np.array([1.0]),
    )
    args = (free, np.zeros_like(free), np.full(80, 4000, dtype=np.int64), wl)
    assert node_fragmentation(*args).tolist() == [200.0] * 40 + [0.0] * 40


# Does fragmentation never rise when a pod leaves? Not in general, for two reasons:
#  * CPU-only target shapes (k_m = 0) count every free milli-GPU as fragment, so any GPU share a
#    leaving pod frees raises F by p_m times that share;
#  * a GPU freed partly can stay too small for a shape: 2 pods of 400 on one GPU, shape d = 700:
#    before F = 200 (free 200 < 700), after one leaves F = 600 (free 600 < 700).
# (Both are pinned by concrete cases in tests/unit/test_fgd.py.) What does hold: the share a
# shape CAN use (T - F_n(m)) is monotone in free GPU share and free CPU (more free share makes
# more GPUs big enough and never makes a node unable to host), so when a pod leaves
#  * F rises by at most (sum of weights) x (GPU share the pod freed), and
#  * a pod that held no GPU share never raises F.
@SETTINGS
@given(loaded=loaded_states(), pods=st.lists(demands(), max_size=20))
def test_fragmentation_rises_at_most_by_the_freed_share_when_a_pod_leaves(
    loaded: tuple[ClusterState, list[Placement]], pods: list[PodDemand]
) -> None:
    state, placed = loaded
    wl = target_workload(shape_counts(pods), state.models)
    weight = float(wl.weight.sum())
    for p in list(placed):
        before = cluster_fragmentation(state, wl)
        usable_before = weight * state.gpu_free.sum() - before
        state.remove(p)
        after = cluster_fragmentation(state, wl)
        usable_after = weight * state.gpu_free.sum() - after
        freed = sum(p.gpu_milli)
        assert after - before <= weight * freed + 1e-6
        assert usable_after >= usable_before - 1e-6
        if freed == 0:
            assert after <= before + 1e-6


# ------------------------------------------------------------------------------------------
# look-ahead


def ref_best_next_growth(
    free: np.ndarray, model: np.ndarray, cpu: np.ndarray, wl: TargetWorkload, memory: np.ndarray
) -> list[list[float]]:
    """Every placement of every shape tried one at a time, each measured on its own node."""
    result = []
    for r in range(len(free)):
        row = []
        before = node_fragmentation(
            free[r : r + 1], model[r : r + 1], cpu[r : r + 1], wl, memory[r : r + 1]
        )[0]
        for m in range(wl.size):
            cpu_m, milli, count = int(wl.cpu_milli[m]), int(wl.gpu_milli[m]), int(wl.gpu_count[m])
            fits = [
                g
                for g in range(free.shape[1])
                if wl.model_allowed[m, model[r, g]] and 0 < milli <= free[r, g]
            ]
            if cpu[r] < cpu_m:
                choices = []
            elif count == 0:
                choices = [[]]
            elif count == 1 and milli < GPU_MILLI:
                choices = [[g] for g in fits]
            else:
                choices = [fits[:count]] if len(fits) >= count else []
            best = math.inf
            for taken in choices:
                after = free[r : r + 1].copy()
                after[0, taken] -= milli
                frag = node_fragmentation(
                    after, model[r : r + 1], cpu[r : r + 1] - cpu_m, wl, memory[r : r + 1]
                )[0]
                best = min(best, frag - before)
            row.append(best)
        result.append(row)
    return result


@SETTINGS
@given(data=st.data())
def test_best_next_growth_matches_trying_every_placement(data: st.DataObject) -> None:
    free, model, cpu, models, _ = data.draw(free_states(), label="state")
    wl = data.draw(raw_workloads(len(models)), label="workload")
    memory = np.zeros_like(free)  # shares in milli-GPU: the need of a shape is its gpu_milli
    found = best_next_growth(free, model, cpu, wl, memory)
    expected = ref_best_next_growth(free, model, cpu, wl, memory)
    assert found.shape == (len(free), wl.size)
    for got, want in zip(found.ravel().tolist(), np.array(expected).ravel().tolist(), strict=True):
        assert got == want or math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6), (got, want)


@SETTINGS
@given(data=st.data())
def test_next_pod_gain_compares_the_next_pods_best_place_after_and_before(
    data: st.DataObject,
) -> None:
    free, model, cpu, models, memory = data.draw(free_states(), label="state")
    wl = data.draw(raw_workloads(len(models)), label="workload")
    before = best_next_growth(free, model, cpu, wl, memory)
    assert np.allclose(next_pod_gain(before, before, wl.weight), 0)
    taken = data.draw(st.integers(0, 1000), label="taken")
    after = best_next_growth(np.maximum(free - taken, 0), model, cpu, wl, memory)
    somewhere = [[0.0 if math.isinf(v) else v for v in row] for row in before.tolist()]
    expected = []
    for i, row in enumerate(after.tolist()):
        total = 0.0
        for m, weight in enumerate(wl.weight.tolist()):
            others = [somewhere[j][m] for j in range(len(free)) if j != i] or [0.0]
            now = min(somewhere[j][m] for j in range(len(free)))
            total += weight * (min(0.0 if math.isinf(row[m]) else row[m], min(others)) - now)
        expected.append(total)
    assert_close_lists(next_pod_gain(before, after, wl.weight), expected)
