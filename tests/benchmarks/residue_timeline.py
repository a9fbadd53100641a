"""When a policy's unallocated GPU share is made: one seed of the published protocol up to
100 % arrived, printing at arrival levels the idle whole GPUs, the free share on partly used
GPUs (residue) and the GPU request dropped so far (by kind); then, at 100 %, the residue and
idle GPUs per GPU model, and the residue that single-pod GPUs of the most common share leave.

    python tests/benchmarks/residue_timeline.py snugfit [--trace default] [--seed 42]
                                                [--traces-dir ../shared/traces]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.simulations.protocol import arrival_sequence
from snugfit.simulations.runner import RunSpec, setup_run
from snugfit.simulations.traces import resolve

LEVELS = (0.3, 0.6, 0.9, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99)


def kind(demand: PodDemand) -> str:
    return "sharing" if demand.is_sharing else "whole" if demand.gpu_count else "cpu-only"


def free_split(state: ClusterState, rows: np.ndarray | None = None) -> tuple[int, float]:
    """Idle whole GPUs, and residue in GPUs, over ``rows`` (all nodes by default)."""
    free = state.gpu_free if rows is None else state.gpu_free[rows]
    real = state.gpu_real if rows is None else state.gpu_real[rows]
    free = free[real]
    return int((free == GPU_MILLI).sum()), float(free[(free > 0) & (free < GPU_MILLI)].sum()) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--trace", default="default")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--traces-dir", type=Path, default=Path("../shared/traces"))
    args = parser.parse_args()
    shared = args.traces_dir / "alibaba-gpu-v2023"
    shipped = args.trace == "default"
    _, trace = resolve(
        args.trace,
        None if shipped else shared / f"openb_pod_list_{args.trace}.csv",
        None if shipped else shared / "openb_node_list_gpu_node.csv",
    )
    state, scheduler, arrival_rng, demand_of = setup_run(trace, RunSpec(args.policy, args.seed))
    capacity = state.total_gpu_milli()
    arrived, level = 0, 0
    dropped: Counter[str] = Counter()
    on_gpu: dict[tuple[int, int], list[int]] = {}
    print(f"{args.policy} on {args.trace}, seed {args.seed} (GPUs)")
    print(f"{'arrived':>8s} {'idle':>6s} {'residue':>8s} {'dropped':>8s}  dropped by kind")

    def report(label: str) -> None:
        idle, residue = free_split(state)
        by_kind = {k: round(v / 1000, 1) for k, v in sorted(dropped.items())}
        total = sum(dropped.values()) / 1000
        print(f"{label:>8s} {idle:6d} {residue:8.1f} {total:8.1f}  {by_kind}")

    for pod in arrival_sequence(trace.pods, capacity, arrival_rng):
        arrived += pod.demand.total_gpu_milli
        if arrived > capacity:
            break
        while level < len(LEVELS) and arrived >= LEVELS[level] * capacity:
            report(f"{100 * LEVELS[level]:.0f} %")
            level += 1
        demand = demand_of(pod.demand)
        scheduler.observe(state, demand)
        decision = scheduler.decide(state, demand)
        if isinstance(decision, Placement):
            state.apply(decision)
            if demand.is_sharing:
                key = (decision.node, decision.gpu_slots[0])
                on_gpu.setdefault(key, []).append(decision.gpu_milli[0])
        else:
            dropped[kind(demand)] += demand.total_gpu_milli
    report("100 %")

    print("\nat 100 %, by GPU model: GPUs, idle, residue (GPUs and % of the model's GPUs)")
    model_of_node = np.where(state.gpu_real, state.gpu_model, -1).max(axis=1)
    for index, model in enumerate(state.models):
        rows = np.flatnonzero(model_of_node == index)
        gpus = int(state.gpu_real[rows].sum())
        idle, residue = free_split(state, rows)
        print(f"  {model:10s} {gpus:6d} {idle:5d} {residue:8.1f} {100 * residue / gpus:6.1f} %")

    shares = Counter(s for content in on_gpu.values() for s in content)
    common = max(shares, key=shares.__getitem__)
    alone = sum(1 for content in on_gpu.values() if content == [common])
    partners = sum(n for s, n in shares.items() if s <= GPU_MILLI - common)
    print(
        f"\nmost common share {common}: {shares[common]} pods, {alone} alone on their GPU "
        f"({alone * (GPU_MILLI - common) / 1000:.1f} GPUs of residue); "
        f"{partners} pods of <= {GPU_MILLI - common} placed in all"
    )


if __name__ == "__main__":
    main()
