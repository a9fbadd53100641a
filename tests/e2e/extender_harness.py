"""The snugfit extender as a real process next to a real kube-scheduler, for e2e tests.

kube-scheduler runs with a configuration from deploy/scheduler-config/ changed only in the
extender's address (its port) and, by the control plane harness, the kubeconfig path and
leader election.
"""

from __future__ import annotations

import json
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from controlplane import REPO_ROOT, ControlPlane, Scheduler, free_ports
from kubeapi import ApiError, JsonObject, KubeApi, poll
from objects import create_ready_node
from processes import Process

from snugfit.packing.cluster import ClusterState, NodeSpec
from snugfit.packing.placement import Placement
from snugfit.scheduler.protocol.pod_requests import pod_demand

DEPLOY_CONFIGS = REPO_ROOT / "deploy" / "scheduler-config"
SNUGFIT = Path(sys.executable).with_name("snugfit")
NAMESPACE = "snugfit-e2e"  # apart from other tests' pods
ASSIGNMENT = "snugfit.io/gpu-assignment"
INVENTORY = "snugfit.io/gpu-inventory"


class Extender:
    """`snugfit serve` on a loopback port, restartable on the same port."""

    def __init__(self, control_plane: ControlPlane, policy: str, mode: str, name: str) -> None:
        self.control_plane = control_plane
        (self.port,) = free_ports(1)
        self.name = name
        self.config = control_plane.workdir / f"{name}.yaml"
        self.config.write_text(
            yaml.safe_dump({"host": "127.0.0.1", "port": self.port, "policy": policy,
                            "mode": mode, "kubeconfig": str(control_plane.kubeconfig),
                            "workload_refresh_pods": 20, "log_level": "INFO"})
        )  # fmt: skip
        self.process: Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = self.control_plane.workdir / f"{self.name}.{self.starts}.log"
        self.process = Process.spawn(
            self.name, [str(SNUGFIT), "serve", "--config", str(self.config)], log
        )
        poll(lambda: True if self.get_text("/readyz") == "ok" else None, timeout=60,
             what=f"{self.name} /readyz", give_up=self.process.exit_reason)  # fmt: skip

    def kill(self) -> None:
        """Gone at once, as in a crash: no graceful shutdown."""
        assert self.process is not None
        self.process.popen.send_signal(signal.SIGKILL)
        self.process.popen.wait()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def get_text(self, path: str) -> str:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as err:  # e.g. 503 from /readyz while polled
            with err:  # close its connection now, not at garbage collection
                raise

    def post(self, verb: str, body: Mapping[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.url}/{verb}", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            with err:
                raise

    def metric(self, name: str) -> float:
        for line in self.get_text("/metrics").splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)

    def log_tail(self) -> str:
        return self.process.log_tail(60) if self.process else ""


def scheduler_config(file: str, extender: Extender) -> dict[str, Any]:
    """A shipped KubeSchedulerConfiguration with the extender's address filled in."""
    config = yaml.safe_load((DEPLOY_CONFIGS / file).read_text())
    config["extenders"][0]["urlPrefix"] = extender.url
    return dict(config)


@contextmanager
def extender_and_scheduler(control_plane: ControlPlane, config_file: str, policy: str, mode: str,
                           name: str) -> Iterator[tuple[Extender, Scheduler]]:  # fmt: skip
    try:
        control_plane.api.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    except ApiError as err:
        if err.status != 409:  # already there from an earlier module
            raise
    extender = Extender(control_plane, policy, mode, name)
    extender.start()
    try:
        with control_plane.start_scheduler(scheduler_config(config_file, extender),
                                           name=f"{name}-kube-scheduler") as scheduler:  # fmt: skip
            yield extender, scheduler
    finally:
        extender.stop()


def gpu_node(
    name: str, cpu: str, memory: str, gpus: int, model: str, gpu_memory_mib: int
) -> JsonObject:
    """A Node as our agent reports it: nvidia.com/gpu capacity and the inventory annotation."""
    inventory = {"version": 1, "gpus": [
        {"index": i, "uuid": f"GPU-{name}-{i}", "model": model, "memoryMiB": gpu_memory_mib}
        for i in range(gpus)]}  # fmt: skip
    capacity = {"cpu": cpu, "memory": memory, "pods": "250", "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                     "annotations": {INVENTORY: json.dumps(inventory)}},
        "status": {"capacity": capacity, "allocatable": capacity,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "e2e"}]},
    }  # fmt: skip


@contextmanager
def nodes(api: KubeApi, manifests: list[JsonObject]) -> Iterator[list[JsonObject]]:
    created = [create_ready_node(api, m) for m in manifests]
    try:
        yield created
    finally:
        for m in manifests:
            api.delete(f"/api/v1/nodes/{m['metadata']['name']}")


def gpu_pod(name: str, resources: Mapping[str, str], scheduler_name: str = "snugfit-scheduler",
            cpu: str = "500m", memory: str = "1Gi") -> JsonObject:  # fmt: skip
    requests = {"cpu": cpu, "memory": memory, **resources}
    limits = dict(resources)
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"schedulerName": scheduler_name, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                                 "resources": {"requests": requests, "limits": limits}}]},
    }  # fmt: skip


def pods(api: KubeApi) -> list[JsonObject]:
    items: list[JsonObject] = api.get(f"/api/v1/namespaces/{NAMESPACE}/pods").get("items", [])
    return items


def delete_all_pods(api: KubeApi) -> None:
    api.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods", query={"gracePeriodSeconds": "0"})
    poll(lambda: True if not pods(api) else None, timeout=60, what="pods deleted")


def assignment(pod: JsonObject) -> dict[str, Any] | None:
    text = (pod["metadata"].get("annotations") or {}).get(ASSIGNMENT)
    return json.loads(text) if text else None


def gpu_usage(all_pods: list[JsonObject]) -> dict[tuple[str, int], int]:
    """Milli-GPU in use per (node, GPU index), from the bound pods' assignments."""
    used: dict[tuple[str, int], int] = {}
    for pod in all_pods:
        record = assignment(pod)
        node = pod["spec"].get("nodeName")
        if node and record:
            assert record["node"] == node, (pod["metadata"]["name"], record, node)
            for gpu in record["gpus"]:
                used[(node, gpu["index"])] = used.get((node, gpu["index"]), 0) + gpu["milli"]
    return used


def bound_pod(api: KubeApi, name: str) -> JsonObject | None:
    """The pod once it has a node, else None (for poll)."""
    pod = api.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
    return pod if pod["spec"].get("nodeName") else None


def bound_count(api: KubeApi) -> int:
    return sum(1 for p in pods(api) if p["spec"].get("nodeName"))


def state_from_records(specs: list[NodeSpec], all_pods: list[JsonObject]) -> ClusterState:
    """The cluster as the bound pods' GPU records say it is (every bound pod must have one)."""
    state = ClusterState.from_nodes(specs)
    for pod in all_pods:
        if not pod["spec"].get("nodeName"):
            continue
        record = assignment(pod)
        assert record is not None, f"{pod['metadata']['name']} bound without GPUs"
        demand = pod_demand(pod, state.models)
        slots = tuple(g["index"] for g in record["gpus"])
        milli = tuple(g["milli"] for g in record["gpus"])
        node = state.node_names.index(record["node"])
        state.apply(Placement(node, slots, milli, demand.cpu_milli, demand.memory_mib))
    return state
