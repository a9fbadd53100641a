"""The agent loop: read the GPUs, patch the Node when its report differs, sleep, repeat."""

from __future__ import annotations

import asyncio
import logging
from types import ModuleType

from snugfit.scheduler.agent.nvml_inventory import read_gpus
from snugfit.scheduler.agent.report import annotation_patch, capacity_patch
from snugfit.scheduler.kube.client import TRANSIENT, KubeClient

log = logging.getLogger("snugfit.agent")


async def report_once(kube: KubeClient, node_name: str, nvml: ModuleType) -> bool:
    """Patch the node if needed; True when something was written."""
    devices = read_gpus(nvml)
    path = f"/api/v1/nodes/{node_name}"
    node = await kube.get(path)
    wrote = False
    meta_ops = annotation_patch(node, devices)
    if meta_ops:
        await kube.json_patch(path, meta_ops)
        wrote = True
    status_ops = capacity_patch(node, devices)
    if status_ops:
        await kube.json_patch(f"{path}/status", status_ops)
        wrote = True
    log.info("reported", extra={"node": node_name, "gpus": len(devices), "changed": wrote})
    return wrote


async def run_agent(kube: KubeClient, node_name: str, nvml: ModuleType, interval_s: float) -> None:
    while True:
        try:
            await report_once(kube, node_name, nvml)
        except TRANSIENT as exc:
            log.warning("report failed; will retry", extra={"node": node_name, "error": str(exc)})
        await asyncio.sleep(interval_s)
