"""End to end, narrow mode: kube-scheduler's choice is exactly the policy's.

A real kube-scheduler (deploy/scheduler-config/narrow-mode.yaml) and `snugfit serve --mode
narrow --policy bestfit` place whole-GPU, fractional, memory-sized and multi-GPU pods one at a
time; after each, the node must be one the packing core ranks best for that pod given the pods
already bound, and the GPUs the ones the policy picks on that node.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from controlplane import ControlPlane, Scheduler
from extender_harness import (
    NAMESPACE,
    Extender,
    assignment,
    bound_pod,
    delete_all_pods,
    extender_and_scheduler,
    gpu_node,
    gpu_pod,
    nodes,
    pods,
    state_from_records,
)
from kubeapi import JsonObject, poll

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.feasibility import Reason, feasibility
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler as PackingScheduler
from snugfit.scheduler.protocol.pod_requests import pod_demand

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NODES = [  # name, cores, memory, GPUs, model, GPU memory MiB
    ("small", 16, "64Gi", 2, "T4", 15360),
    ("medium", 48, "256Gi", 4, "A10", 23028),
    ("large", 96, "512Gi", 8, "A100", 81920),
]


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> Iterator[tuple[Extender, Scheduler]]:
    manifests = [gpu_node(n, str(c), m, g, model, mem) for n, c, m, g, model, mem in NODES]
    with (
        nodes(control_plane.api, manifests),
        extender_and_scheduler(
            control_plane, "narrow-mode.yaml", policy="bestfit", mode="narrow", name="narrow"
        ) as running,
    ):
        yield running
        delete_all_pods(control_plane.api)


def expected_choice(bound: list[JsonObject], new_pod: JsonObject) -> tuple[set[str], ClusterState]:
    """The nodes the packing core ranks best for ``new_pod``, and the state it sees."""
    specs = [NodeSpec(n, c * 1000, int(m[:-2]) * 1024, tuple(GpuSpec(model, mem) for _ in range(g)))
             for n, c, m, g, model, mem in NODES]  # fmt: skip
    state = state_from_records(specs, bound)
    demand = pod_demand(new_pod, state.models)
    feasible = np.flatnonzero(feasibility(state, demand) == Reason.FITS)
    rng = np.random.default_rng(0)
    policy = make_policy("bestfit", PolicyContext(rng))
    scores = PackingScheduler(policy, rng).scores(state, demand, feasible)
    return {specs[i].name for i in feasible[scores == scores.max()]}, state


SEQUENCE = [  # what each pod asks for, beyond 500m cpu and 1Gi memory
    {"snugfit.io/gpu-milli": "500"},  # half of one GPU
    {"nvidia.com/gpu": "1"},  # one whole GPU
    {"nvidia.com/gpu": "4"},  # four whole GPUs
    {"snugfit.io/gpu-memory": "8192"},  # 8 GiB on one GPU, whatever its size
    {"snugfit.io/gpu-milli": "300"},
    {"nvidia.com/gpu": "2"},
    {"snugfit.io/gpu-milli": "700"},
]


def test_each_pod_lands_on_the_node_and_gpus_the_policy_picks(
    control_plane: ControlPlane, cluster: tuple[Extender, Scheduler]
) -> None:
    extender, scheduler = cluster
    api = control_plane.api
    for resources in SEQUENCE:
        name = f"p-{uuid.uuid4().hex[:6]}"
        manifest = gpu_pod(name, resources)
        best, state = expected_choice([p for p in pods(api) if p["spec"].get("nodeName")], manifest)
        api.create(f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
        bound = poll(
            lambda name=name: bound_pod(api, name), timeout=30, what=f"{name} bound",
            give_up=scheduler.process.exit_reason,
        )  # fmt: skip
        node = bound["spec"]["nodeName"]
        assert node in best, (resources, node, best, extender.log_tail())
        record = assignment(bound)
        assert record is not None and record["node"] == node
        demand = pod_demand(manifest, state.models)
        node_index = state.node_names.index(node)
        policy = make_policy("bestfit", PolicyContext(np.random.default_rng(0)))
        expected_slots = list(policy.choose_gpus(state, demand, node_index))
        assert [g["index"] for g in record["gpus"]] == expected_slots, (resources, record)
        assert all(g["uuid"] == f"GPU-{node}-{g['index']}" for g in record["gpus"])
