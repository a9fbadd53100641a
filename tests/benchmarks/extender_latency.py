"""Extender latency on loopback: filter + prioritize for one pod at 100 / 1,000 / 5,000 nodes.

The extender runs in its own process (the production app factory, fed Node and Pod objects as
its watches would feed it: openb node shapes, an agent inventory annotation on each node, and
pods filling about half the GPUs). A client in this process sends filter for a fractional-GPU
pod, with the nodes in a new order each time (kube-scheduler filters in parallel and lists
nodes as they pass), and then, after --gap-ms (kube-scheduler runs its own score plugins in
between: scheduler_node_order.py measures that), prioritize for the nodes that passed it, as
kube-scheduler does, in node-names mode (nodeCacheCapable) and in full-nodes mode, and reports
p50 / p99 of each verb and of the pair as the client sees them (HTTP and this Python client
included; building the requests and the gap are not counted), of the pair's time inside the
extender (its Server-Timing header: from the request read to the reply built), how many
prioritize replies were the one the extender prepared once filter was answered, and the mean
time that preparation took (after the filter reply, so in no column before it). With --pin the
extender runs on a CPU of its own and the client on the others: on a 2-CPU machine the kernel
otherwise often wakes the client on the extender's CPU, where the two then take turns.

    python tests/benchmarks/extender_latency.py [--nodes 100,1000,5000] [--requests 300] [--policy fgd]
                                                [--modes names,full] [--gap-ms 2] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import time
from typing import Any

import aiohttp
import numpy as np
import orjson
from aiohttp import web

from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.server import build_app
from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.protocol.inventory import GpuDevice, encode_inventory
from snugfit.simulations.traces import DEFAULT_NODES, SHIPPED, load_nodes, load_pods, shipped_path

MODEL_MEMORY = {"P100": 16384, "T4": 15360, "V100M16": 16384, "V100M32": 32768, "A10": 23028,
                "G2": 32768, "G3": 81920}  # fmt: skip


def node_object(i: int, spec: Any) -> dict[str, Any]:
    devices = [GpuDevice(g, f"GPU-{i:05d}-{g}", gpu.model, MODEL_MEMORY.get(gpu.model, 16384))
               for g, gpu in enumerate(spec.gpus)]  # fmt: skip
    name = f"node-{i:05d}"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "topology.kubernetes.io/zone": f"zone-{i % 3}",
                                "nvidia.com/gpu.product": spec.gpus[0].model if spec.gpus else ""},
                     "annotations": {"snugfit.io/gpu-inventory": encode_inventory(devices)}},
        "spec": {"podCIDR": f"10.{i // 256 % 256}.{i % 256}.0/24"},
        "status": {
            "capacity": {"cpu": f"{spec.cpu_milli}m", "memory": f"{spec.memory_mib}Mi",
                         "nvidia.com/gpu": str(len(spec.gpus)), "pods": "110"},
            "allocatable": {"cpu": f"{spec.cpu_milli}m", "memory": f"{spec.memory_mib}Mi",
                            "nvidia.com/gpu": str(len(spec.gpus)), "pods": "110"},
            "conditions": [{"type": t, "status": "False" if t != "Ready" else "True",
                            "lastHeartbeatTime": "2026-11-25T00:00:00Z", "reason": "KubeletReady"}
                           for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
            "images": [{"names": [f"registry.example/ml/image-{k}:v1"], "sizeBytes": 2_000_000_000}
                       for k in range(5)],
            "nodeInfo": {"kubeletVersion": "v1.34.4", "containerRuntimeVersion": "containerd://2.1"},
        },
    }  # fmt: skip


def pod_object(i: int, demand: Any, node: str | None) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": f"{demand.cpu_milli}m", "memory": f"{demand.memory_mib}Mi"}
    if demand.gpu_count and demand.gpu_milli < 1000:
        requests["snugfit.io/gpu-milli"] = str(demand.gpu_milli)
    elif demand.gpu_count:
        requests["nvidia.com/gpu"] = str(demand.gpu_count)
    return {"metadata": {"name": f"pod-{i}", "namespace": "default", "uid": f"pod-uid-{i}"},
            "spec": {"nodeName": node, "schedulerName": "snugfit-scheduler",
                     "containers": [{"name": "main", "resources": {"requests": requests}}]},
            "status": {"phase": "Running" if node else "Pending"}}  # fmt: skip


def cluster(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """n nodes (openb shapes, cycled), pods filling about half of them, and a probe pod."""
    specs = [s for s in load_nodes(shipped_path(DEFAULT_NODES)) if s.gpus]
    nodes = [node_object(i, specs[i % len(specs)]) for i in range(n)]
    trace = load_pods(shipped_path(SHIPPED["default"]))
    rng = np.random.default_rng(7)
    pods = []
    for i in range(n // 2):  # one pod on every other node, drawn among those that fit it
        spec = specs[(2 * i) % len(specs)]
        demand = trace[int(rng.integers(len(trace)))].demand
        while demand.cpu_milli > spec.cpu_milli or demand.gpu_count > len(spec.gpus):
            demand = trace[int(rng.integers(len(trace)))].demand
        pods.append(pod_object(i, demand, nodes[2 * i]["metadata"]["name"]))
    probe = pod_object(10**6, trace[1].demand, None)  # a 0.46-GPU pod
    return nodes, pods, probe


def serve(n: int, policy: str, port: int, ready: Any, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    nodes, pods, _ = cluster(n)
    cache = ClusterCache(MODEL_MEMORY)
    cache.replace_nodes(nodes)
    cache.replace_pods(pods)
    app = build_app(ExtenderConfig(policy=policy, port=port, model_memory_mib=MODEL_MEMORY), cache)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def handler_seconds(headers: Any) -> float:
    """The extender's own handling time, from its Server-Timing header."""
    return float(headers["Server-Timing"].split("dur=")[1]) / 1000


def prioritize_body(probe: dict[str, Any], reply: dict[str, Any]) -> bytes:
    """What kube-scheduler sends to prioritize: the nodes that passed filter. Both requests are
    encoded as Go encodes ExtenderArgs: compact, fields in order (Pod, Nodes, NodeNames)."""
    if reply.get("NodeNames") is not None:
        return orjson.dumps({"Pod": probe, "Nodes": None, "NodeNames": reply["NodeNames"]})
    return orjson.dumps({"Pod": probe, "Nodes": reply["Nodes"], "NodeNames": None})


def filter_body(probe: dict[str, Any], nodes: list[dict[str, Any]], mode: str, seed: int) -> bytes:
    """What kube-scheduler sends to filter: every node (percentageOfNodesToScore: 100) in the
    order its parallel filtering finished them, a new order for each pod (here a random
    permutation; scheduler_node_order.py records the real ones)."""
    order = np.random.default_rng(seed).permutation(len(nodes)).tolist()
    if mode == "names":
        names = [nodes[i]["metadata"]["name"] for i in order]
        return orjson.dumps({"Pod": probe, "Nodes": None, "NodeNames": names})
    return orjson.dumps({"Pod": probe, "Nodes": {"items": [nodes[i] for i in order]},
                         "NodeNames": None})  # fmt: skip


async def measure(
    port: int,
    probe: dict[str, Any],
    nodes: list[dict[str, Any]],
    mode: str,
    count: int,
    gap_s: float,
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"filter": [], "prioritize": [], "both": [], "server": []}
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        before = await counts(session, port)
        for i in range(count + 20):
            body_filter = filter_body(probe, nodes, mode, i)  # the client's work, not timed
            t0 = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{port}/filter", data=body_filter, headers=headers
            ) as r:
                reply = orjson.loads(await r.read())
                server = handler_seconds(r.headers)
            t1 = time.perf_counter()
            if reply.get("Error"):
                raise RuntimeError(reply["Error"])
            body_prio = prioritize_body(probe, reply)  # the client's work, not timed
            await asyncio.sleep(gap_s)
            t2 = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{port}/prioritize", data=body_prio, headers=headers
            ) as r:
                await r.read()
                server += handler_seconds(r.headers)
            t3 = time.perf_counter()
            if i >= 20:  # warm-up excluded
                times["filter"].append(t1 - t0)
                times["prioritize"].append(t3 - t2)
                times["both"].append(t1 - t0 + t3 - t2)
                times["server"].append(server)
        after = await counts(session, port)
    prepared, unparsed, prepare_count, prepare_sum = (
        a - b for a, b in zip(after, before, strict=True)
    )
    times["prepared"], times["unparsed"] = [prepared], [unparsed]
    times["prepare_mean"] = [prepare_sum / prepare_count if prepare_count else 0.0]
    return times


COUNTED = ('prioritize_replies_total{source="prepared"}', "prioritize_unparsed_total",
           'after_reply_seconds_count{verb="filter"}', 'after_reply_seconds_sum{verb="filter"}')  # fmt: skip


async def counts(session: aiohttp.ClientSession, port: int) -> list[float]:
    """The COUNTED samples of the extender's /metrics now (0 where absent)."""
    async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
        lines = (await r.text()).splitlines()
    values = []
    for sample in COUNTED:
        name = f"snugfit_extender_{sample} "
        values.append(next((float(x.split()[-1]) for x in lines if x.startswith(name)), 0.0))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="100,1000,5000")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--policy", default="fgd")
    parser.add_argument("--modes", default="names,full", help="comma-separated: names, full")
    parser.add_argument(
        "--gap-ms", type=float, default=2.0, help="pause between filter reply and prioritize"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the extender on the first CPU, this client on the others",
    )
    args = parser.parse_args()
    modes = set(args.modes.split(","))
    server_cpus: set[int] | None = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs two CPUs")
        server_cpus = {cpus[0]}
        os.sched_setaffinity(0, set(cpus[1:]))
    print(
        f"policy {args.policy}; {args.requests} filter+prioritize pairs per row after 20 warm-up "
        f"pairs; {args.gap_ms:g} ms between filter reply and prioritize"
        + ("; extender and client pinned to CPUs of their own" if args.pin else "")
    )
    print(
        "| nodes | mode | request KiB | filter p50 / p99 ms | prioritize p50 / p99 ms "
        "| pair p50 / p99 ms | pair inside the extender p50 / p99 ms "
        "| prioritize replies prepared (known by their bytes) | preparing, mean ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.nodes.split(",")):
        nodes, _, probe = cluster(n)
        port = free_port()
        ready = multiprocessing.Event()
        server = multiprocessing.Process(
            target=serve, args=(n, args.policy, port, ready, server_cpus), daemon=True
        )
        server.start()
        ready.wait(120)
        time.sleep(1.0)  # let the server bind its socket
        try:
            for mode, label in (("names", "names"), ("full", "full nodes")):
                if mode not in modes:
                    continue
                size = len(filter_body(probe, nodes, mode, 0))
                t = asyncio.run(
                    measure(port, probe, nodes, mode, args.requests, args.gap_ms / 1000)
                )
                cells = [f"{1000 * np.percentile(t[k], 50):.2f} / {1000 * np.percentile(t[k], 99):.2f}"
                         for k in ("filter", "prioritize", "both", "server")]  # fmt: skip
                cells.append(
                    f"{t['prepared'][0]:.0f} of {args.requests + 20} ({t['unparsed'][0]:.0f})"
                )
                cells.append(f"{1000 * t['prepare_mean'][0]:.2f}")
                print(
                    f"| {n} | {label} | {size / 1024:.0f} | " + " | ".join(cells) + " |",
                    flush=True,
                )
        finally:
            server.terminate()
            server.join(10)


if __name__ == "__main__":
    main()
