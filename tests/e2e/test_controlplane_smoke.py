"""Smoke test of the harness: a stock kube-scheduler places GPU pods on a real API server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from controlplane import ControlPlane, Scheduler
from kubeapi import JsonObject, poll
from objects import create_ready_node, events_for, node, pod

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

T = TypeVar("T")
NAMESPACE = "default"
GPU_NODE = "gpu-node-0"
GPU_NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "2"}
DEFAULT_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
}
SCHEDULE_WITHIN_S = 30.0


@pytest.fixture(scope="module")
def gpu_node(control_plane: ControlPlane) -> Iterator[JsonObject]:
    created = create_ready_node(control_plane.api, node(GPU_NODE, GPU_NODE_CAPACITY))
    yield created
    control_plane.api.delete(f"/api/v1/nodes/{GPU_NODE}")


@pytest.fixture(scope="module")
def default_scheduler(control_plane: ControlPlane, gpu_node: JsonObject) -> Iterator[Scheduler]:
    with control_plane.start_scheduler(DEFAULT_CONFIG, name="default-scheduler") as scheduler:
        yield scheduler


def create_pod(control_plane: ControlPlane, gpus: int) -> str:
    name = f"gpu{gpus}-{uuid.uuid4().hex[:8]}"
    manifest = pod(name, {"cpu": "100m", "memory": "64Mi", "nvidia.com/gpu": str(gpus)})
    control_plane.api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
    return name


def wait_for(probe: Callable[[], T | None], what: str, scheduler: Scheduler) -> T:
    try:
        return poll(
            probe, timeout=SCHEDULE_WITHIN_S, what=what, give_up=scheduler.process.exit_reason
        )
    except (TimeoutError, RuntimeError) as err:
        raise AssertionError(f"{err}\n{scheduler.log_tail(60)}") from err


def test_node_is_created_schedulable_with_its_gpus(gpu_node: JsonObject) -> None:
    assert gpu_node["status"]["allocatable"]["nvidia.com/gpu"] == "2"
    assert gpu_node["status"]["capacity"]["cpu"] == "8"
    assert not gpu_node["spec"].get("taints")


def test_one_gpu_pod_is_bound_to_the_gpu_node(
    control_plane: ControlPlane, default_scheduler: Scheduler
) -> None:
    name = create_pod(control_plane, gpus=1)
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"

    bound_to = wait_for(
        lambda: control_plane.api.get(path)["spec"].get("nodeName"),
        f"pod {name} to be bound",
        default_scheduler,
    )

    assert bound_to == GPU_NODE
    conditions = control_plane.api.get(path)["status"].get("conditions", [])
    assert [c["status"] for c in conditions if c["type"] == "PodScheduled"] == ["True"]


def test_three_gpu_pod_stays_pending_with_failed_scheduling(
    control_plane: ControlPlane, default_scheduler: Scheduler
) -> None:
    name = create_pod(control_plane, gpus=3)

    events = wait_for(
        lambda: events_for(control_plane.api, NAMESPACE, name, "FailedScheduling") or None,
        f"a FailedScheduling event for pod {name}",
        default_scheduler,
    )

    assert "Insufficient nvidia.com/gpu" in events[0]["message"]
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}"

    def scheduled_condition() -> list[dict[str, str]] | None:
        # kube-scheduler writes the event and the pod's condition separately: either may
        # be seen first
        conditions = control_plane.api.get(path)["status"].get("conditions", [])
        return [c for c in conditions if c["type"] == "PodScheduled"] or None

    scheduled = wait_for(
        scheduled_condition, f"pod {name}'s PodScheduled condition", default_scheduler
    )
    assert [(c["status"], c["reason"]) for c in scheduled] == [("False", "Unschedulable")]
    status = control_plane.api.get(path)
    assert not status["spec"].get("nodeName")
    assert status["status"]["phase"] == "Pending"
