"""The extender learns its target workload from the pods it sees, on the simulator's schedule,
without losing the node order its ties fall to."""

from __future__ import annotations

from service_objects import gpu_node, pod

from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.extender import Extender
from snugfit.scheduler.cache.cluster_cache import ClusterCache

MILLI = "snugfit.io/gpu-milli"


def test_extender_relearns_as_pods_arrive_and_keeps_its_tie_order() -> None:
    cache = ClusterCache({})
    cache.replace_nodes([gpu_node("n1", 4), gpu_node("n2", 2)])
    cache.replace_pods([pod("a", {MILLI: "500", "cpu": "1"})])
    extender = Extender(ExtenderConfig(policy="snugfit", workload_refresh_pods=4), cache)
    first = extender.scheduler()
    policy = first.policy
    assert policy.workload.gpu_milli.tolist() == [500]  # type: ignore[attr-defined]
    rank = first.rank(cache.state().num_nodes)

    cache.upsert_pod(pod("b", {MILLI: "300", "cpu": "1"}))  # 2 pods seen: due (1 -> 2)
    assert extender.scheduler() is first
    assert sorted(policy.workload.gpu_milli.tolist()) == [300, 500]  # type: ignore[attr-defined]
    cache.upsert_pod(pod("c", {"cpu": "4"}))  # 3 seen: due too (every pod up to 16)
    assert policy.workload.size == 2  # type: ignore[attr-defined]
    extender.scheduler()
    assert policy.workload.size == 3  # type: ignore[attr-defined]
    for i in range(13):  # 16 seen; the next refresh is due at 18 = 16 + 16 // 8
        cache.upsert_pod(pod(f"same-{i}", {"cpu": "4"}))
        extender.scheduler()
    cache.upsert_pod(pod("e", {MILLI: "200", "cpu": "1"}))  # 17 seen: not due
    extender.scheduler()
    assert policy.workload.size == 3  # type: ignore[attr-defined]
    cache.upsert_pod(pod("f", {"cpu": "4"}))
    extender.scheduler()
    assert policy.workload.size == 4  # type: ignore[attr-defined]
    assert first.rank(cache.state().num_nodes) is rank


def test_extender_rebuilt_for_new_nodes_keeps_what_it_learned() -> None:
    """A node joining rebuilds the policy at once with the mix learned so far, although no
    refresh of the schedule is due and the mix has not moved."""
    cache = ClusterCache({})
    cache.replace_nodes([gpu_node("n1", 4)])
    cache.replace_pods([pod("a", {MILLI: "500", "cpu": "1"}), pod("b", {MILLI: "300", "cpu": "1"})])
    extender = Extender(ExtenderConfig(policy="snugfit", workload_refresh_pods=4), cache)
    first = extender.scheduler()
    cache.upsert_node(gpu_node("n2", 2))
    rebuilt = extender.scheduler()
    assert rebuilt is not first
    assert sorted(rebuilt.policy.workload.gpu_milli.tolist()) == [300, 500]  # type: ignore[attr-defined]
    assert extender.scheduler() is rebuilt


def test_extender_learns_each_shapes_mean_host_memory() -> None:
    """The pods' host memory reaches the learned target (means per shape), and so the mix's
    host memory per GPU share that look-ahead balances: 3 GiB per 500 milli."""
    cache = ClusterCache({})
    cache.replace_nodes([gpu_node("n1", 4)])
    cache.replace_pods(
        [
            pod("a", {MILLI: "500", "cpu": "1", "memory": "2Gi"}),
            pod("b", {MILLI: "500", "cpu": "1", "memory": "4Gi"}),
        ]
    )
    extender = Extender(ExtenderConfig(policy="snugfit"), cache)
    policy = extender.scheduler().policy
    assert policy.workload.memory_mib.tolist() == [3072.0]  # type: ignore[attr-defined]
    assert policy.host_per_share.memory == 3072 / 500  # type: ignore[attr-defined]
