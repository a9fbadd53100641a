"""The live cluster cache: nodes, pods, reservations at bind, rebuilds, conflicts, restarts.

Every node has A100 80 GB GPUs from the agent annotation, 16 cores and 64Gi unless noted.
Pods with an assignment annotation hold exactly the recorded GPU share; pods bound without one
(by another scheduler) hold the first free GPUs that fit, found when they are applied. A pod
whose GPUs do not fit is a conflict: it stays in ``held`` but nothing of it is counted in the
state (``applied``) until it fits.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from service_objects import (
    A100,
    assert_same_state,
    assignment,
    gpu_node,
    gpu_used,
    pod,
    snapshot,
)

from snugfit.packing.cluster import OverCommitError
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.scheduler.cache.cluster_cache import ClusterCache, Held

GPU = "nvidia.com/gpu"
MILLI = "snugfit.io/gpu-milli"


def cache_with(*nodes: dict[str, Any], pods: tuple[dict[str, Any], ...] = ()) -> ClusterCache:
    cache = ClusterCache({})
    cache.replace_nodes(nodes)
    cache.replace_pods(pods)
    return cache


def share(milli: int, cpu: int = 0, memory: int = 0) -> PodDemand:
    """The demand of a pod asking for a share of one GPU (what Extender.bind passes to assume)."""
    return PodDemand(cpu, memory, gpu_count=1, gpu_milli=milli)


def bound(name: str, node: str, slots: list[int], milli: list[int], **requests: str) -> Any:
    """A running pod with its recorded assignment (requests: cpu, memory, plus the GPU share)."""
    share = {GPU: str(len(slots))} if all(m == 1000 for m in milli) else {MILLI: str(milli[0])}
    return pod(name, {**requests, **share}, node=node, annotations=assignment(node, slots, milli))


# ---- nodes ---------------------------------------------------------------------------------
def test_replace_nodes_sorted_by_name_with_errors_kept_apart() -> None:
    bad = gpu_node("n0")
    bad["metadata"]["annotations"]["snugfit.io/gpu-inventory"] = "{"
    cache = cache_with(gpu_node("n2", 4), gpu_node("n1", 1, cpu="3800m", memory="15Gi"), bad)
    state = cache.state()
    assert state.node_names == ("n1", "n2")
    assert state.cpu_capacity.tolist() == [3800, 16000]
    assert state.memory_capacity.tolist() == [15360, 65536]
    assert state.gpu_count.tolist() == [1, 4]
    assert cache.node_index("n2") == 1
    assert cache.node_index("n0") is None
    assert "snugfit.io/gpu-inventory is not a valid inventory" in cache.node_errors["n0"]
    assert cache.nodes_synced and cache.pods_synced and cache.synced


def test_replace_nodes_drops_old_nodes_and_errors() -> None:
    bad = gpu_node("n0")
    bad["metadata"]["annotations"]["snugfit.io/gpu-inventory"] = "{"
    cache = cache_with(gpu_node("n1", 1), bad)
    cache.replace_nodes([gpu_node("n3", 2)])
    assert cache.state().node_names == ("n3",)
    assert cache.node_errors == {}


def test_upsert_and_delete_node() -> None:
    cache = cache_with(gpu_node("n1", 1))
    state = cache.state()
    cache.upsert_node(gpu_node("n1", 1))  # same inventory: no rebuild
    assert cache.state() is state
    cache.upsert_node(gpu_node("n0", 2))  # new node: rebuilt, sorted
    assert cache.state() is not state
    assert cache.state().node_names == ("n0", "n1")
    cache.delete_node(gpu_node("n0"))
    assert cache.state().node_names == ("n1",)
    state = cache.state()
    cache.delete_node(gpu_node("ghost"))  # unknown: nothing happens
    assert cache.state() is state


def test_upsert_node_that_becomes_unreadable() -> None:
    cache = cache_with(gpu_node("n1", 1), gpu_node("n2", 1))
    bad = gpu_node("n1", 1)
    bad["metadata"]["annotations"]["snugfit.io/gpu-inventory"] = '{"version": 9, "gpus": []}'
    cache.upsert_node(bad)
    assert cache.state().node_names == ("n2",)
    assert cache.node_errors == {"n1": "unsupported inventory version 9"}
    cache.upsert_node(gpu_node("n1", 1))
    assert cache.node_errors == {}
    assert cache.state().node_names == ("n1", "n2")


# ---- pods ----------------------------------------------------------------------------------
def test_bound_pods_hold_exactly_their_recorded_gpus() -> None:
    pods = (
        bound("whole", "n2", [1, 3], [1000, 1000], cpu="2", memory="4Gi"),
        bound("half", "n2", [0], [500], cpu="500m", memory="1Gi"),
        bound("quarter", "n2", [0], [250], cpu="250m"),
        bound("one", "n1", [0], [1000], cpu="1"),
        pod("pending", {GPU: "1", "cpu": "8"}),  # not bound: holds nothing
        pod("cpu-only", {"cpu": "1", "memory": "512Mi"}, node="n1"),
    )
    cache = cache_with(gpu_node("n1", 1), gpu_node("n2", 4), pods=pods)
    state = cache.state()
    assert gpu_used(state, "n1") == [1000]
    assert gpu_used(state, "n2") == [750, 1000, 0, 1000]
    assert state.cpu_used.tolist() == [1000 + 1000, 2000 + 500 + 250]
    assert state.memory_used.tolist() == [512, 4096 + 1024]
    # pods_by_kind: (cpu-only, sharing, whole)
    assert state.pods_by_kind.tolist() == [[1, 0, 1], [0, 2, 1]]
    assert set(cache.pods) == {f"uid-{p['metadata']['name']}" for p in pods}
    assert set(cache.held) == {"uid-whole", "uid-half", "uid-quarter", "uid-one", "uid-cpu-only"}
    assert not any(h.assumed for h in cache.held.values())


def test_upsert_and_delete_pods_through_the_watch() -> None:
    cache = cache_with(gpu_node("n1", 2))
    state = cache.state()
    cache.upsert_pod(pod("p", {MILLI: "300"}))  # pending
    assert gpu_used(state, "n1") == [0, 0]
    cache.upsert_pod(bound("p", "n1", [1], [300], cpu="1"))  # bound
    assert gpu_used(state, "n1") == [0, 300]
    assert state.cpu_used.tolist() == [1000]
    cache.upsert_pod(bound("p", "n1", [1], [300], cpu="1"))  # status-only update
    assert gpu_used(state, "n1") == [0, 300]
    assert state.cpu_used.tolist() == [1000]
    cache.delete_pod(bound("p", "n1", [1], [300], cpu="1"))
    assert cache.state() is state
    assert gpu_used(state, "n1") == [0, 0]
    assert state.cpu_used.tolist() == [0]
    assert cache.pods == {} and cache.held == {}
    cache.delete_pod(pod("never-seen"))  # harmless


def test_pod_bound_by_another_scheduler_takes_first_free_gpus() -> None:
    """No assignment annotation: the pod is assumed to sit on the lowest free GPUs."""
    cache = cache_with(gpu_node("n1", 4), pods=(bound("mine", "n1", [0], [1000]),))
    cache.state()
    cache.upsert_pod(pod("theirs", {GPU: "2", "cpu": "1"}, node="n1"))
    state = cache.state()
    assert gpu_used(state, "n1") == [1000, 1000, 1000, 0]  # GPUs 1 and 2
    assert cache.held["uid-theirs"].slots is None  # no record: resolved when applied
    assert cache.applied["uid-theirs"].gpu_slots == (1, 2)
    cache.upsert_pod(pod("share", {MILLI: "400"}, node="n1"))
    assert gpu_used(state, "n1") == [1000, 1000, 1000, 400]
    # two whole GPUs are more than what is left (only GPU 3, with 600 free): a conflict,
    # held but not counted at all (not even its CPU)
    cache.upsert_pod(pod("too-big", {GPU: "2", "cpu": "3"}, node="n1"))
    assert gpu_used(state, "n1") == [1000, 1000, 1000, 400]
    assert state.cpu_used.tolist() == [1000]  # theirs only
    assert cache.conflicts == {"uid-too-big"}
    assert "uid-too-big" in cache.held and "uid-too-big" not in cache.applied
    # theirs goes away: GPUs 1 and 2 are free again, and too-big takes them
    cache.delete_pod(pod("theirs", {GPU: "2", "cpu": "1"}, node="n1"))
    assert gpu_used(state, "n1") == [1000, 1000, 1000, 400]
    assert cache.applied["uid-too-big"].gpu_slots == (1, 2)
    assert state.cpu_used.tolist() == [3000]
    assert cache.conflicts == set()


def test_pod_bound_by_another_scheduler_holds_gpus_after_initial_list() -> None:
    # listed before the state is built: the first free GPU is found when it is applied
    cache = cache_with(gpu_node("n1", 2), pods=(pod("theirs", {GPU: "1"}, node="n1"),))
    assert gpu_used(cache.state(), "n1") == [1000, 0]
    assert cache.conflicts == set()


def test_recorded_pods_are_applied_before_pods_without_a_record() -> None:
    # "a" (no record) sorts before "b" (recorded on GPU 0); taken in name order "a" would take
    # GPU 0 and "b" would conflict: recorded GPUs go first, "a" gets what is left (GPU 1)
    pods = (pod("a", {GPU: "1"}, node="n1"), bound("b", "n1", [0], [1000]))
    cache = cache_with(gpu_node("n1", 2), pods=pods)
    assert gpu_used(cache.state(), "n1") == [1000, 1000]
    assert cache.applied["uid-a"].gpu_slots == (1,)
    assert cache.applied["uid-b"].gpu_slots == (0,)
    assert cache.conflicts == set()


def test_pod_bound_by_another_scheduler_keeps_its_gpu_across_a_relist() -> None:
    cache = cache_with(gpu_node("n1", 1))
    cache.state()
    theirs = pod("theirs", {GPU: "1"}, node="n1")
    cache.upsert_pod(theirs)
    assert gpu_used(cache.state(), "n1") == [1000]
    cache.replace_pods([theirs])  # the watch expired: list again
    assert gpu_used(cache.state(), "n1") == [1000]
    assert cache.conflicts == set()


def test_pod_bound_by_another_scheduler_with_nouse_gputype_holds_its_gpu() -> None:
    # the annotation only restricts where the pod may be placed; once bound it holds a GPU
    cache = cache_with(gpu_node("n1", 1))
    cache.state()
    annotations = {"nvidia.com/nouse-gputype": "Tesla-T4"}
    cache.upsert_pod(pod("theirs", {GPU: "1"}, node="n1", annotations=annotations))
    assert gpu_used(cache.state(), "n1") == [1000]
    assert cache.held["uid-theirs"].demand.allowed_models is None


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_terminal_pods_free_their_resources(phase: str) -> None:
    running = bound("p", "n1", [0], [600], cpu="2", memory="1Gi")
    done = bound("p", "n1", [0], [600], cpu="2", memory="1Gi")
    done["status"]["phase"] = phase
    # listed terminal: holds nothing
    cache = cache_with(gpu_node("n1", 1), pods=(done,))
    assert gpu_used(cache.state(), "n1") == [0]
    assert cache.pods == {} and cache.held == {}
    # running, then terminal through the watch
    cache = cache_with(gpu_node("n1", 1), pods=(running,))
    state = cache.state()
    assert gpu_used(state, "n1") == [600]
    cache.upsert_pod(done)
    assert gpu_used(state, "n1") == [0]
    assert state.cpu_used.tolist() == [0] and state.memory_used.tolist() == [0]
    assert state.pods_by_kind.tolist() == [[0, 0, 0]]
    assert cache.pods == {} and cache.held == {}


def test_shapes_count_every_pod_once() -> None:
    cache = cache_with(
        gpu_node("n1", 2),
        pods=(
            pod("a", {MILLI: "500", "cpu": "1"}),
            pod("b", {MILLI: "500", "cpu": "1"}),
            pod("c", {"cpu": "1"}),  # CPU-only pods are a shape too, as in FGD's target
            pod("d", {MILLI: "500", "memory": "1"}),
            pod("e", {"snugfit.io/gpu-memory": "20000"}),  # sized in GPU memory
        ),
    )
    # (cpu milli, GPU milli, GPU count, allowed models, GPU memory MiB): the pod's memory is
    # not part of a shape, so d differs from a and b by its CPU only
    assert cache.shapes == {
        (1000, 500, 1, None, 0): 2,
        (0, 500, 1, None, 0): 1,
        (0, 0, 1, None, 20000): 1,
        (1000, 0, 0, None, 0): 1,
    }
    # ... and is summed per shape beside the counts (d asks for 1 MiB)
    assert cache.shape_memory[(0, 500, 1, None, 0)] == 1
    assert cache.shape_memory[(1000, 500, 1, None, 0)] == 0
    cache.upsert_pod(pod("a", {MILLI: "500", "cpu": "1"}, node="n1"))  # seen already
    assert sum(cache.shapes.values()) == cache.pods_seen == 5
    cache.replace_pods([pod("f", {"cpu": "1", "memory": "2Mi"})])  # a relist counts afresh
    assert cache.shapes == {(1000, 0, 0, None, 0): 1} and cache.pods_seen == 1
    assert cache.shape_memory == {(1000, 0, 0, None, 0): 2}


def test_shapes_use_the_gpu_models_of_the_nodes_known_when_the_pod_is_seen() -> None:
    # a pod refusing one model may use every other model the cluster has at that moment
    cache = cache_with(gpu_node("n1", 1))
    t4 = "Tesla-T4"
    cache.upsert_pod(pod("a", {GPU: "1"}, annotations={"nvidia.com/nouse-gputype": t4}))
    cache.upsert_node(gpu_node("n2", 1, model=t4))
    cache.upsert_pod(pod("b", {GPU: "1"}, annotations={"nvidia.com/nouse-gputype": A100}))
    cache.delete_node(gpu_node("n2"))
    cache.upsert_pod(pod("c", {GPU: "1"}, annotations={"nvidia.com/nouse-gputype": A100}))
    models = [shape[3] for shape in cache.shapes]
    assert models == [frozenset({A100}), frozenset({t4}), frozenset()]


# ---- reservations at bind ------------------------------------------------------------------
def test_assume_then_forget_leaves_state_exactly_as_before() -> None:
    cache = cache_with(gpu_node("n1", 2), pods=(bound("x", "n1", [0], [250], cpu="1"),))
    before = snapshot(cache.state())
    index = cache.node_index("n1")
    assert index == 0
    # two GPUs with 40960 MiB of GPU memory each: 40960 / 81920 = 500 milli of an A100 each
    demand = PodDemand(2000, 1024, gpu_count=2, gpu_memory_mib=40960)
    placement = Placement(index, (0, 1), (500, 500), 2000, 1024)
    cache.assume("uid-p", "n1", placement, demand)
    state = cache.state()
    assert gpu_used(state, "n1") == [750, 500]
    assert state.cpu_used.tolist() == [3000]
    assert state.memory_used.tolist() == [1024]
    assert cache.held["uid-p"] == Held("n1", demand, (0, 1), (500, 500), True)
    assert cache.applied["uid-p"] == placement
    cache.forget("uid-p")
    assert_same_state(before, snapshot(cache.state()))
    assert "uid-p" not in cache.held and "uid-p" not in cache.applied
    cache.forget("uid-p")  # twice: harmless
    assert_same_state(before, snapshot(cache.state()))


def test_assume_refuses_over_commit_and_double_reservations() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("x", "n1", [0], [600]),))
    before = snapshot(cache.state())
    with pytest.raises(OverCommitError):  # 600 + 500 > 1000
        cache.assume("uid-p", "n1", Placement(0, (0,), (500,), 0, 0), share(500))
    assert_same_state(before, snapshot(cache.state()))
    assert "uid-p" not in cache.held and "uid-p" not in cache.applied
    cache.assume("uid-p", "n1", Placement(0, (0,), (400,), 0, 0), share(400))  # 600 + 400
    assert gpu_used(cache.state(), "n1") == [1000]
    during = snapshot(cache.state())
    with pytest.raises(OverCommitError, match="pod uid-p already holds resources on n1"):
        cache.assume("uid-p", "n1", Placement(0, (), (), 0, 0), PodDemand(0, 0))
    with pytest.raises(OverCommitError, match="pod uid-x already holds resources on n1"):
        cache.assume("uid-x", "n1", Placement(0, (), (), 0, 0), PodDemand(0, 0))
    assert_same_state(during, snapshot(cache.state()))
    assert cache.held["uid-p"] == Held("n1", share(400), (0,), (400,), True)


def test_forget_does_not_drop_a_confirmed_placement() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("x", "n1", [0], [600]),))
    cache.forget("uid-x")
    assert gpu_used(cache.state(), "n1") == [600]
    assert "uid-x" in cache.held


def test_assumed_reservation_survives_a_relist_until_confirmed() -> None:
    pending = pod("p", {MILLI: "500", "cpu": "1"})
    other = bound("x", "n1", [1], [1000])
    cache = cache_with(gpu_node("n1", 2), pods=(pending, other))
    cache.assume("uid-p", "n1", Placement(0, (0,), (500,), 1000, 0), share(500, cpu=1000))
    # relist while the bind is in flight: the pod still shows Pending
    cache.replace_pods([pending, other])
    state = cache.state()
    assert cache.held["uid-p"].assumed
    assert gpu_used(state, "n1") == [500, 1000]
    assert state.cpu_used.tolist() == [1000]
    # the watch then shows it bound with the assignment: confirmed, not counted twice
    confirmed = bound("p", "n1", [0], [500], cpu="1")
    cache.upsert_pod(confirmed)
    assert not cache.held["uid-p"].assumed
    assert gpu_used(state, "n1") == [500, 1000]
    assert state.cpu_used.tolist() == [1000]
    cache.forget("uid-p")  # too late to forget: it is bound
    assert gpu_used(cache.state(), "n1") == [500, 1000]


def test_assumed_reservation_confirmed_by_the_relist_itself() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(pod("p", {MILLI: "500"}),))
    cache.assume("uid-p", "n1", Placement(0, (0,), (500,), 0, 0), share(500))
    cache.replace_pods([bound("p", "n1", [0], [500])])
    assert gpu_used(cache.state(), "n1") == [500]
    assert not cache.held["uid-p"].assumed


def test_assumed_reservation_forgotten_after_a_relist() -> None:
    pending = pod("p", {MILLI: "500"})
    cache = cache_with(gpu_node("n1", 1), pods=(pending,))
    before = snapshot(cache.state())
    cache.assume("uid-p", "n1", Placement(0, (0,), (500,), 0, 0), share(500))
    cache.replace_pods([pending])
    assert gpu_used(cache.state(), "n1") == [500]
    cache.forget("uid-p")
    assert_same_state(before, snapshot(cache.state()))


# ---- rebuilds ------------------------------------------------------------------------------
def test_node_change_rebuilds_with_every_held_pod_reapplied() -> None:
    pods = (
        bound("a", "n2", [0, 1], [1000, 1000], cpu="2"),
        bound("b", "n2", [2], [300], cpu="1"),
        bound("c", "n1", [0], [700], memory="2Gi"),
        pod("p", {MILLI: "200"}),
    )
    cache = cache_with(gpu_node("n1", 1), gpu_node("n2", 4), pods=pods)
    cache.assume("uid-p", "n2", Placement(1, (2,), (200,), 0, 0), share(200))
    old = cache.state()
    # a new node sorts first and shifts every index; n2 gets more CPU
    cache.upsert_node(gpu_node("n0", 2))
    cache.upsert_node(gpu_node("n2", 4, cpu="32"))
    state = cache.state()
    assert state is not old
    assert state.node_names == ("n0", "n1", "n2")
    assert state.cpu_capacity.tolist() == [16000, 16000, 32000]
    assert gpu_used(state, "n0") == [0, 0]
    assert gpu_used(state, "n1") == [700]
    assert gpu_used(state, "n2") == [1000, 1000, 500, 0]
    assert state.cpu_used.tolist() == [0, 0, 3000]
    assert state.memory_used.tolist() == [0, 2048, 0]
    assert cache.held["uid-p"] == Held("n2", share(200), (2,), (200,), True)
    assert cache.applied["uid-p"] == Placement(2, (2,), (200,), 0, 0)  # n2 is row 2 now
    # the reservation is released from the right node after the index shift
    cache.forget("uid-p")
    assert gpu_used(state, "n2") == [1000, 1000, 300, 0]
    cache.delete_pod(pods[1])
    assert gpu_used(state, "n2") == [1000, 1000, 0, 0]
    assert state.cpu_used.tolist() == [0, 0, 2000]


def test_pods_on_a_deleted_node_come_back_with_it() -> None:
    pods = (bound("a", "n1", [0], [400], cpu="1"), bound("b", "n2", [0], [1000]))
    cache = cache_with(gpu_node("n1", 1), gpu_node("n2", 1), pods=pods)
    cache.delete_node(gpu_node("n1"))
    state = cache.state()
    assert state.node_names == ("n2",)
    assert gpu_used(state, "n2") == [1000]
    assert state.cpu_used.tolist() == [0]
    cache.upsert_node(gpu_node("n1", 1))
    state = cache.state()
    assert gpu_used(state, "n1") == [400]
    assert state.cpu_used.tolist() == [1000, 0]


def test_pod_seen_before_its_node_is_applied_when_the_node_arrives() -> None:
    cache = cache_with(gpu_node("n2", 1))
    cache.state()
    cache.upsert_pod(bound("a", "n1", [0], [400], cpu="1"))
    assert gpu_used(cache.state(), "n2") == [0]
    cache.upsert_node(gpu_node("n1", 1))
    assert gpu_used(cache.state(), "n1") == [400]
    assert cache.state().cpu_used.tolist() == [1000, 0]


# ---- conflicts -----------------------------------------------------------------------------
def test_conflicting_assignments_in_a_list_are_counted_never_over_committed() -> None:
    pods = (
        bound("a", "n1", [0], [1000], cpu="1"),
        bound("b", "n1", [0], [1000], cpu="1"),  # the same GPU: does not fit
        bound("c", "n1", [0, 7], [1000, 1000]),  # no slot 7 on this node
    )
    cache = cache_with(gpu_node("n1", 2), pods=pods)
    state = cache.state()
    assert gpu_used(state, "n1") == [1000, 0]
    assert int(state.gpu_used.max()) <= 1000
    assert state.cpu_used.tolist() == [1000]
    assert cache.conflicts == {"uid-b", "uid-c"}
    # the conflicting pods stay held (they run there), but only "a" is counted
    assert set(cache.held) == {"uid-a", "uid-b", "uid-c"}
    assert set(cache.applied) == {"uid-a"}


def test_conflicting_assignment_through_the_watch() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("a", "n1", [0], [700]),))
    state = cache.state()
    cache.upsert_pod(bound("b", "n1", [0], [500]))  # 700 + 500 > 1000
    assert gpu_used(state, "n1") == [700]
    assert cache.conflicts == {"uid-b"}
    assert "uid-b" in cache.held and "uid-b" not in cache.applied


def test_a_conflict_is_counted_and_logged_once_per_pod(caplog: pytest.LogCaptureFixture) -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("a", "n1", [0], [700]),))
    cache.state()
    with caplog.at_level(logging.ERROR, logger="snugfit.cache"):
        for _ in range(3):  # e.g. three status updates of the same pod
            cache.upsert_pod(bound("b", "n1", [0], [500]))
    assert cache.conflicts == {"uid-b"}
    assert [r.getMessage() for r in caplog.records] == ["pod's GPUs do not fit"]
    assert caplog.records[0].__dict__["pod"] == "uid-b"
    assert gpu_used(cache.state(), "n1") == [700]


def test_a_conflicting_pod_is_accounted_once_the_conflict_clears() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("a", "n1", [0], [700]),))
    cache.state()
    cache.upsert_pod(bound("b", "n1", [0], [500]))
    assert cache.conflicts == {"uid-b"}
    cache.delete_pod(bound("a", "n1", [0], [700]))  # what b collided with is gone: b fits
    assert gpu_used(cache.state(), "n1") == [500]
    assert cache.conflicts == set()
    assert set(cache.applied) == {"uid-b"}


def test_a_conflicting_pod_is_accounted_once_the_pod_it_collided_with_finishes() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(bound("a", "n1", [0], [700]),))
    cache.state()
    cache.upsert_pod(bound("b", "n1", [0], [500]))  # 700 + 500 > 1000: a conflict
    done = bound("a", "n1", [0], [700])
    done["status"]["phase"] = "Succeeded"
    cache.upsert_pod(done)  # a frees GPU 0: b (500) fits now
    assert gpu_used(cache.state(), "n1") == [500]  # actual: [0]
    assert cache.conflicts == set()  # actual: {"uid-b"}


def test_a_conflicting_pod_is_accounted_once_a_failed_reservation_is_forgotten() -> None:
    cache = cache_with(gpu_node("n1", 1), pods=(pod("p", {GPU: "1"}),))
    cache.assume("uid-p", "n1", Placement(0, (0,), (1000,), 0, 0), PodDemand(0, 0, 1, 1000))
    # meanwhile another scheduler binds a one-GPU pod to n1 (no record): no free GPU left
    cache.upsert_pod(pod("theirs", {GPU: "1"}, node="n1"))
    assert cache.conflicts == {"uid-theirs"}
    cache.forget("uid-p")  # p's bind failed: GPU 0 is free, and theirs runs on it
    assert gpu_used(cache.state(), "n1") == [1000]  # actual: [0]
    assert cache.conflicts == set()  # actual: {"uid-theirs"}


def test_a_relist_forgets_conflicts_of_pods_that_are_gone() -> None:
    a = bound("a", "n1", [0], [700])
    cache = cache_with(gpu_node("n1", 1), pods=(a,))
    cache.state()
    cache.upsert_pod(bound("b", "n1", [0], [500]))
    assert cache.conflicts == {"uid-b"}
    cache.replace_pods([a])  # b was deleted while the watch was down
    assert gpu_used(cache.state(), "n1") == [700]
    assert set(cache.held) == {"uid-a"}
    assert cache.conflicts == set()  # actual: {"uid-b"}


# ---- restart -------------------------------------------------------------------------------
def test_a_fresh_cache_fed_the_same_objects_has_the_same_state() -> None:
    nodes = [gpu_node("n1", 1), gpu_node("n2", 4), gpu_node("n3", 2, cpu="8"), gpu_node("cpu")]
    live = ClusterCache({})
    live.replace_nodes(nodes[:2])
    live.replace_pods([bound("a", "n2", [0], [500], cpu="1"), pod("x", {"cpu": "1"})])
    live.state()
    live.upsert_node(nodes[2])
    live.upsert_node(nodes[3])
    live.upsert_pod(bound("b", "n2", [0], [250], cpu="2", memory="3Gi"))
    live.upsert_pod(bound("c", "n2", [2, 3], [1000, 1000], cpu="4"))
    live.upsert_pod(bound("d", "n1", [0], [1000]))
    live.upsert_pod(bound("e", "n3", [1], [100], cpu="500m"))
    live.upsert_pod(pod("f", {"cpu": "2", "memory": "1Gi"}, node="cpu"))
    live.delete_pod(bound("d", "n1", [0], [1000]))
    live.upsert_pod(bound("g", "n1", [0], [900]))
    finished = bound("e", "n3", [1], [100], cpu="500m")
    finished["status"]["phase"] = "Succeeded"
    live.upsert_pod(finished)

    final_pods = [p for p in live.pods.values()]
    restarted = ClusterCache({})
    restarted.replace_nodes(nodes)
    restarted.replace_pods(final_pods)
    assert_same_state(snapshot(live.state()), snapshot(restarted.state()))
    state = restarted.state()
    assert gpu_used(state, "n2") == [750, 0, 1000, 1000]
    assert gpu_used(state, "n1") == [900]
    assert gpu_used(state, "n3") == [0, 0]
    assert state.cpu_used.tolist() == [2000, 0, 1000 + 2000 + 4000, 0]
    np.testing.assert_array_equal(state.pods_by_kind.sum(axis=0), [1, 3, 1])
