"""A read-only snapshot of a live cluster as a workload to plan for: its nodes' GPUs and the
requests of its pods (running and pending), read with two LIST calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from snugfit.packing.cluster import NodeSpec
from snugfit.scheduler.app.config import DEFAULT_MODEL_MEMORY_MIB
from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.kube.client import KubeClient
from snugfit.scheduler.kube.connection import from_kubeconfig
from snugfit.scheduler.protocol.pod_requests import PodRequestError
from snugfit.simulations.workload_model import TracePod


class SnapshotError(ValueError):
    """The live cluster cannot be read as a workload; the message names the pods."""


async def _read(kubeconfig: Path, context: str | None) -> tuple[list[NodeSpec], list[TracePod]]:
    connection = from_kubeconfig(kubeconfig, context)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        client = KubeClient(connection, session)
        nodes, _ = await client.list_all("/api/v1/nodes")
        pods, _ = await client.list_all("/api/v1/pods")
    cache = ClusterCache(DEFAULT_MODEL_MEMORY_MIB)  # the extender's own reading of both
    cache.replace_nodes(nodes)
    cache.replace_pods(pods)
    specs = [cache.inventories[name].spec for name in sorted(cache.inventories)]
    workload, unreadable = [], []
    for uid, pod in sorted(cache.pods.items()):
        meta = pod.get("metadata") or {}
        name = f"{meta.get('namespace', '')}/{meta.get('name', uid)}"
        try:
            workload.append(TracePod(name, cache.demand_of(pod)))
        except PodRequestError as error:
            unreadable.append(f"{name}: {error}")
    if unreadable:
        raise SnapshotError(
            f"{len(unreadable)} pods have requests snugfit cannot read: "
            + "; ".join(unreadable[:5])
        )
    return specs, workload


def read_snapshot(
    kubeconfig: Path, context: str | None = None
) -> tuple[list[NodeSpec], list[TracePod]]:
    """The cluster's nodes and its non-terminal pods' demands (nothing is written)."""
    return asyncio.run(_read(kubeconfig, context))
