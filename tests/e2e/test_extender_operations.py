"""End to end with the shipped second-scheduler configuration (weighted scores, snugfit): reasons
people can read, no over-commit under load, restarts and deletions that lose nothing."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from controlplane import ControlPlane, Scheduler
from extender_harness import (
    NAMESPACE,
    Extender,
    assignment,
    bound_count,
    bound_pod,
    delete_all_pods,
    extender_and_scheduler,
    gpu_node,
    gpu_pod,
    gpu_usage,
    nodes,
    pods,
    state_from_records,
)
from kubeapi import JsonObject, KubeApi, poll
from objects import events_for

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.feasibility import Reason, feasibility
from snugfit.scheduler.protocol.pod_requests import pod_demand

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NODE_COUNT, GPUS_PER_NODE = 6, 8


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> Iterator[tuple[Extender, Scheduler]]:
    manifests = [gpu_node(f"gpu-{i}", "64", "512Gi", GPUS_PER_NODE, "A100", 81920)
                 for i in range(NODE_COUNT)]  # fmt: skip
    with (
        nodes(control_plane.api, manifests),
        extender_and_scheduler(
            control_plane, "second-scheduler.yaml", policy="snugfit", mode="scores", name="scores"
        ) as running,
    ):
        yield running


@pytest.fixture
def clean(control_plane: ControlPlane, cluster: tuple[Extender, Scheduler]) -> Iterator[None]:
    yield
    delete_all_pods(control_plane.api)
    extender = cluster[0]
    poll(lambda: True if extender.metric("snugfit_gpu_allocated") == 0 else None,
         timeout=30, what="extender sees the pods gone")  # fmt: skip


def create_many(api: KubeApi, manifests: list[JsonObject]) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda m: api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", m), manifests))


def settle(
    api: KubeApi, extender: Extender, quiet_s: float = 6.0, timeout: float = 300
) -> list[JsonObject]:
    """Wait until no pod is bound for ``quiet_s`` seconds; then return all pods."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        bound = bound_count(api)
        if bound != last:
            last, since = bound, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return pods(api)
        time.sleep(0.5)
    raise AssertionError(f"pods kept being bound for {timeout} s\n{extender.log_tail()}")


def assert_no_overcommit(all_pods: list[JsonObject]) -> dict[tuple[str, int], int]:
    used = gpu_usage(all_pods)
    over = {gpu: milli for gpu, milli in used.items() if milli > 1000}
    assert not over, f"over-committed GPUs: {over}"
    for pod in all_pods:
        if pod["spec"].get("nodeName"):
            assert assignment(pod) is not None, f"{pod['metadata']['name']} bound without GPUs"
    return used


def wait_books_match(extender: Extender, used: dict[tuple[str, int], int], what: str) -> None:
    """Wait until the extender's GPU allocation equals what the pods' records add up to."""
    total = sum(used.values()) / 1000
    poll(lambda: True if abs(extender.metric("snugfit_gpu_allocated") - total) < 1e-6 else None,
         timeout=30, what=what)  # fmt: skip


def state_from(all_pods: list[JsonObject]) -> ClusterState:
    """The cluster as the bound pods' records say it is."""
    gpus = tuple(GpuSpec("A100", 81920) for _ in range(GPUS_PER_NODE))
    specs = [NodeSpec(f"gpu-{i}", 64000, 512 * 1024, gpus) for i in range(NODE_COUNT)]
    return state_from_records(specs, all_pods)


def mixed_pods(count: int, seed: int) -> list[JsonObject]:
    """Sharing pods of 0.1..0.6 GPU and some 1-, 2- and 4-GPU pods: more than fits."""
    rng = np.random.default_rng(seed)
    manifests = []
    for i in range(count):
        draw = rng.random()
        if draw < 0.75:
            resources = {
                "snugfit.io/gpu-milli": str(int(rng.choice([100, 200, 250, 300, 460, 500, 600])))
            }
        else:
            resources = {"nvidia.com/gpu": str(int(rng.choice([1, 1, 2, 4])))}
        manifests.append(
            gpu_pod(
                f"m{seed}-{i:03d}-{uuid.uuid4().hex[:4]}", resources, cpu="250m", memory="512Mi"
            )
        )
    return manifests


def test_pod_that_fits_no_single_gpu_stays_pending_with_the_reason(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler], clean: None
) -> None:
    api = control_plane.api
    extender, _ = cluster
    halves = [
        gpu_pod(f"half-{i:02d}", {"snugfit.io/gpu-milli": "500"})
        for i in range(2 * NODE_COUNT * GPUS_PER_NODE)
    ]
    create_many(api, halves)
    placed = assert_no_overcommit(settle(api, extender))
    assert sorted(placed.values()) == [1000] * (NODE_COUNT * GPUS_PER_NODE)  # all GPUs exactly full
    delete_one_per_gpu = [p for p in pods(api) if p["metadata"]["name"].startswith("half-")]
    seen: set[tuple[str, int]] = set()
    for pod in delete_one_per_gpu:  # free half of every GPU: 24 GPUs free in total, in halves
        record = assignment(pod)
        assert record is not None
        key = (record["node"], record["gpus"][0]["index"])
        if key not in seen:
            seen.add(key)
            api.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod['metadata']['name']}",
                        query={"gracePeriodSeconds": "0"})  # fmt: skip
    api.create(
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        gpu_pod("needs-0-7", {"snugfit.io/gpu-milli": "700"}),
    )
    event = poll(lambda: next(iter(events_for(api, NAMESPACE, "needs-0-7", "FailedScheduling")), None),
                 timeout=60, what="FailedScheduling event")  # fmt: skip
    message = event["message"]
    assert "snugfit: no GPU with 0.7 of a GPU free" in message, message
    assert f"0/{NODE_COUNT} nodes are available" in message, message
    assert not api.get(f"/api/v1/namespaces/{NAMESPACE}/pods/needs-0-7")["spec"].get("nodeName")


def replies(extender: Extender, source: str) -> float:
    try:
        return extender.metric(f'snugfit_extender_prioritize_replies_total{{source="{source}"}}')
    except KeyError:
        return 0.0  # not counted yet


def test_kube_scheduler_gets_the_prioritize_reply_prepared_after_its_filter_call(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler], clean: None
) -> None:
    """kube-scheduler sends prioritize the nodes the filter reply passed, for the same pod: in
    a quiet cluster every prioritize call is answered with the reply prepared after filter,
    and recognised by its bytes."""
    api = control_plane.api
    extender, _ = cluster
    prepared, computed = replies(extender, "prepared"), replies(extender, "computed")
    unparsed = extender.metric("snugfit_extender_prioritize_unparsed_total")
    pod_events = 'snugfit_watch_events_total{resource="pods"}'
    for i in range(4):
        name = f"prepared-{i}-{uuid.uuid4().hex[:4]}"
        manifest = gpu_pod(name, {"snugfit.io/gpu-milli": "300"})
        # held back until the extender has seen it: a pod first seen between filter and
        # prioritize changes the mix the policy learns, and so the reply (then computed anew)
        manifest["spec"]["schedulingGates"] = [{"name": "snugfit.io/e2e-seen-first"}]
        events = extender.metric(pod_events)
        api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
        poll(lambda events=events: True if extender.metric(pod_events) > events else None,
             timeout=30, what=f"{name} seen by the extender")  # fmt: skip
        api.merge_patch(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}",
                        {"spec": {"schedulingGates": None}})  # fmt: skip
        poll(lambda name=name: bound_pod(api, name), timeout=30, what=f"{name} bound")
        poll(lambda: True if extender.metric("snugfit_reservations_in_flight") == 0 else None,
             timeout=30, what="the bind seen through the watch")  # fmt: skip
    assert replies(extender, "prepared") - prepared == 4, extender.log_tail()
    assert replies(extender, "computed") == computed
    # and known by its bytes: the filter request with the passed names (Go's encoding)
    assert extender.metric("snugfit_extender_prioritize_unparsed_total") - unparsed == 4


def test_200_pods_at_once_never_over_commit_a_gpu(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler], clean: None
) -> None:
    api = control_plane.api
    extender, _ = cluster
    create_many(api, mixed_pods(200, seed=1))
    final = settle(api, extender)
    used = assert_no_overcommit(final)
    bound = [p for p in final if p["spec"].get("nodeName")]
    assert len(bound) >= 50, f"only {len(bound)} of 200 pods bound"
    # the pods ask for about twice the cluster: every pod left pending truly fits nowhere
    state = state_from(final)
    for pod in final:
        if not pod["spec"].get("nodeName"):
            demand = pod_demand(pod, state.models)
            fits = feasibility(state, demand) == Reason.FITS
            assert not fits.any(), (
                f"{pod['metadata']['name']} pending but fits {np.flatnonzero(fits)}"
            )
    wait_books_match(extender, used, "extender's allocation equals the pods' records")


def test_restarting_the_extender_mid_stream_loses_no_assignment(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler], clean: None
) -> None:
    api = control_plane.api
    extender, _ = cluster
    create_many(api, mixed_pods(120, seed=2))
    poll(lambda: True if bound_count(api) >= 20 else None,
         timeout=120, what="20 pods bound")  # fmt: skip
    extender.kill()
    before = gpu_usage(pods(api))
    extender.start()  # same port: kube-scheduler's retries reach the new process
    final = settle(api, extender)
    used = assert_no_overcommit(final)
    for gpu, milli in before.items():  # nothing bound before the crash was lost or moved
        assert used.get(gpu, 0) >= milli, (gpu, milli, used.get(gpu))
    wait_books_match(extender, used, "restarted extender rebuilt the allocation from the pods")


def test_pod_deleted_between_filter_and_bind_leaves_no_allocation(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler], clean: None
) -> None:
    api = control_plane.api
    extender, _ = cluster
    # a pod no scheduler picks up, so this test drives the extender as kube-scheduler would
    manifest = gpu_pod("vanishing", {"snugfit.io/gpu-milli": "500"}, scheduler_name="nobody")
    created = api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
    poll(
        lambda: True if extender.metric("snugfit_watch_events_total") >= 0 else None,
        timeout=5,
        what="metrics",
    )
    names = [f"gpu-{i}" for i in range(NODE_COUNT)]

    def filter_passes() -> JsonObject | None:
        reply: JsonObject = extender.post(
            "filter", {"Pod": created, "NodeNames": names, "Nodes": None}
        )
        return reply if reply["NodeNames"] else None

    reply = poll(filter_passes, timeout=30, what="filter passes nodes")
    allocated = extender.metric("snugfit_gpu_allocated")
    api.request(
        "DELETE",
        f"/api/v1/namespaces/{NAMESPACE}/pods/vanishing",
        query={"gracePeriodSeconds": "0"},
    )
    uid, node = created["metadata"]["uid"], reply["NodeNames"][0]
    result = extender.post(
        "bind", {"PodName": "vanishing", "PodNamespace": NAMESPACE, "PodUID": uid, "Node": node}
    )
    assert result["Error"], result
    assert extender.metric("snugfit_gpu_allocated") == allocated
    assert extender.metric("snugfit_reservations_in_flight") == 0
    # the GPUs it would have taken are free for the next pod, bound by the real scheduler
    api.create(
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        gpu_pod("next", {"nvidia.com/gpu": str(GPUS_PER_NODE)}),
    )
    bound = poll(lambda: bound_pod(api, "next"), timeout=60, what="next bound")
    record = assignment(bound)
    assert record is not None and len(record["gpus"]) == GPUS_PER_NODE
