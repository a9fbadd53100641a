"""Manifests for the API objects the end-to-end tests create, and their small helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeapi import JsonObject, KubeApi

_CORE_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage", "pods"})
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # never pulled: there is no kubelet


def node(name: str, capacity: Mapping[str, str]) -> JsonObject:
    """A Ready Node whose allocatable equals ``capacity`` (say {"nvidia.com/gpu": "2", ...})."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "e2e"}
            ],
        },
    }


def create_ready_node(api: KubeApi, manifest: Mapping[str, Any]) -> JsonObject:
    """Create a Node as a kubelet plus node-lifecycle controller would leave it: schedulable.

    The TaintNodesByCondition admission plugin taints every new Node not-ready; with no
    controller-manager running nobody lifts that taint, so this does.
    """
    name = manifest["metadata"]["name"]
    api.create("/api/v1/nodes", manifest)
    api.merge_patch(f"/api/v1/nodes/{name}/status", {"status": manifest["status"]})
    return api.merge_patch(f"/api/v1/nodes/{name}", {"spec": {"taints": None}})


def pod(name: str, requests: Mapping[str, str], scheduler_name: str = "") -> JsonObject:
    """A one-container Pod requesting ``requests``; extended resources also go in limits."""
    limits = {k: v for k, v in requests.items() if k not in _CORE_RESOURCES}
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": PAUSE_IMAGE,
                "resources": {"requests": dict(requests), "limits": limits},
            }
        ],
        "terminationGracePeriodSeconds": 0,
    }
    if scheduler_name:
        spec["schedulerName"] = scheduler_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def events_for(api: KubeApi, namespace: str, name: str, reason: str) -> list[JsonObject]:
    """The core/v1 Events about object ``name`` with ``reason``, oldest first."""
    found = api.get(
        f"/api/v1/namespaces/{namespace}/events",
        fieldSelector=f"involvedObject.name={name},reason={reason}",
    )
    items: list[JsonObject] = found.get("items", [])
    return items
