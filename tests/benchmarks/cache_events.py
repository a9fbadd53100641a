"""What the extender's cluster cache spends on watch events, at 100 / 1,000 / 5,000 nodes.

The cache is fed the nodes and pods of the extender latency benchmark (openb node shapes with
agent inventories, a pod on every other node), then one pod's life through the watch: seen
pending, seen bound with its GPU assignment, deleted. Every event runs on the event loop, so
whatever it costs is added to the filter and prioritize requests waiting behind it, and so is
any garbage collection it sets off: the collections run during the events (by generation) and
the longest are counted, and one full collection of the loaded cache is timed.

    python tests/benchmarks/cache_events.py [--nodes 100,1000,5000] [--events 300]
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import numpy as np
from extender_latency import MODEL_MEMORY, cluster, pod_object

from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.protocol import resources as r
from snugfit.scheduler.protocol.assignment import GpuAssignment
from snugfit.simulations.traces import SHIPPED, load_pods, shipped_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="100,1000,5000")
    parser.add_argument("--events", type=int, default=300, help="pod lives timed per row")
    args = parser.parse_args()
    trace = [p.demand for p in load_pods(shipped_path(SHIPPED["default"]))]
    share = next(d for d in trace if d.gpu_count == 1 and d.gpu_milli < 1000)
    print(f"{args.events} pod lives (pending, bound, deleted) per row; times in ms")
    print(
        "| nodes | pods listed | list nodes | list pods | pod event p50 / p99 "
        "| collections during the events, by generation | longest | a full collection |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.nodes.split(",")):
        nodes, pods, _ = cluster(n)
        cache = ClusterCache(MODEL_MEMORY)
        t0 = time.perf_counter()
        cache.replace_nodes(nodes)
        t1 = time.perf_counter()
        cache.replace_pods(pods)
        t2 = time.perf_counter()
        cache.state()
        node = nodes[1]["metadata"]["name"]  # the benchmark's cluster leaves odd nodes empty
        record = GpuAssignment(node, (0,), (share.gpu_milli,), ("",)).encode()
        events: list[float] = []
        collections: list[tuple[int, float]] = []
        gc.callbacks.append(timer := collection_timer(collections))
        for i in range(args.events):
            pending = pod_object(10**6 + i, share, None)
            bound = pod_object(10**6 + i, share, node)
            bound["metadata"]["annotations"] = {r.ASSIGNMENT_ANNOTATION: record}
            for event, obj in (
                (cache.upsert_pod, pending),
                (cache.upsert_pod, bound),
                (cache.delete_pod, bound),
            ):
                start = time.perf_counter()
                event(obj)
                events.append(time.perf_counter() - start)
        gc.callbacks.remove(timer)
        listed = len(pods)
        del nodes, pods  # what the cache keeps is left, as in the extender
        start = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - start
        p50, p99 = (1000 * np.percentile(events, q) for q in (50, 99))
        by_generation = "/".join(str(sum(g == k for g, _ in collections)) for k in range(3))
        longest = 1000 * max((d for _, d in collections), default=0.0)
        print(
            f"| {n} | {listed} | {1000 * (t1 - t0):.0f} | {1000 * (t2 - t1):.0f} "
            f"| {p50:.3f} / {p99:.3f} | {by_generation} | {longest:.2f} | {1000 * full:.1f} |",
            flush=True,
        )


def collection_timer(out: list[tuple[int, float]]) -> Any:
    """A gc callback appending (generation, seconds) for each collection to ``out``."""
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            out.append((info["generation"], time.perf_counter() - started[0]))

    return callback


if __name__ == "__main__":
    main()
