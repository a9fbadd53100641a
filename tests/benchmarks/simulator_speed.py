"""Simulator speed and memory: one seed of a policy on the default trace at 1x, 4x and 16x.

The cluster is the shipped openb GPU node list repeated k times and the pod list repeated k
times (so the arrival mix and the load are unchanged while nodes and arrivals grow k-fold).
Each size runs in a fresh process so its peak resident memory is its own. Prints, per size:
nodes, arrivals, replay seconds, microseconds per decision, and peak RSS.

    python tests/benchmarks/simulator_speed.py [--policy fgd] [--scales 1,4,16] [--seed 42]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace

from snugfit.packing.cluster import NodeSpec
from snugfit.simulations.runner import RunSpec, run_benchmark
from snugfit.simulations.traces import DEFAULT_NODES, SHIPPED, load_nodes, load_pods, shipped_path
from snugfit.simulations.workload_model import Trace, TracePod


def scaled_trace(k: int) -> Trace:
    nodes = load_nodes(shipped_path(DEFAULT_NODES))
    pods = load_pods(shipped_path(SHIPPED["default"]))
    big_nodes: list[NodeSpec] = [replace(n, name=f"{n.name}-{i}") for i in range(k) for n in nodes]
    big_pods: list[TracePod] = [replace(p, name=f"{p.name}-{i}") for i in range(k) for p in pods]
    return Trace(tuple(big_nodes), tuple(big_pods), f"default nodes x{k}", f"default pods x{k}")


def measure(policy: str, k: int, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    trace = scaled_trace(k)
    loaded = time.perf_counter() - started
    result = run_benchmark(trace, RunSpec(policy, seed))
    arrivals = len(result.log.arrived)
    return {
        "scale": k,
        "nodes": len(trace.nodes),
        "arrivals": arrivals,
        "load_seconds": loaded,
        "replay_seconds": result.seconds,
        "us_per_decision": 1e6 * result.seconds / arrivals,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="fgd")
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.policy, args.child, args.seed)))
        return
    rows = []
    for k in (int(s) for s in args.scales.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--policy",
            args.policy,
            "--seed",
            str(args.seed),
            "--child",
            str(k),
        ]
        rows.append(
            json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        )
    print(f"policy {args.policy}, seed {args.seed}")
    print("| scale | nodes | arrivals | replay s | µs / decision | peak RSS MiB | µs ratio to 1x |")
    print("|---|---|---|---|---|---|---|")
    base = rows[0]["us_per_decision"]
    for r in rows:
        print(
            f"| {r['scale']}x | {r['nodes']} | {r['arrivals']} | {r['replay_seconds']:.1f} | "
            f"{r['us_per_decision']:.0f} | {r['peak_rss_mib']:.0f} | "
            f"{r['us_per_decision'] / base:.2f} |"
        )


if __name__ == "__main__":
    main()
