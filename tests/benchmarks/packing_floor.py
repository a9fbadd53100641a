"""How low unallocated GPU % at 100 % arrived can go on each trace: an estimate of an ideal
packer, to read policy results (and the goal "0.8 x FGD") against.

Sharing pods leave residue on their GPUs that no later pod can use (an 810-milli pod leaves 190
that only pods of <= 190 fit). Take the sharing pods that arrive before 100 % (seed by seed,
the published protocol's arrival order) and pack them into GPUs, ignoring CPU, memory and
nodes: the core's tightest packing (the share plan's packer: the fuller of minimum bin slack
and best-fit decreasing) gives an achievable residue r (as a fraction of the cluster's GPU
capacity); the cutting-stock LP bound (Gilmore and Gomory's column generation, rounded up) a
residue no packing can beat. Where the two meet, the tightest packing is optimal. A packer
wasting nothing else fills the cluster at arrival level a with residue r * a and drops
everything after it, so its unallocated share at 100 % is 1 - a = r * a, that is r / (1 + r).

Where the pods ask for more CPU than the cluster has (cpu250), CPU bounds it too: the CPU
bound is the unallocated share no policy placing every arrived CPU-only pod goes below (the GPU
pods get the rest of the CPU, and at most the GPU share of those asking least CPU per share
fits into it). The two bounds are not added: each holds alone. The variants that
trace_variants.py builds (``--variants``) are estimated next to the shared traces.

With ``--policy P`` it also replays P (same seeds, same arrivals up to 100 %) and splits its
unallocated GPU into residue on partly used GPUs and idle whole GPUs, next to the residue that
the tightest packing, and the LP bound, leave with exactly the sharing pods P placed: how far
P's online packing is from the best offline packing of the same pods, and what is left outside
the residue.

    python tests/benchmarks/packing_floor.py [--traces-dir ../shared/traces] [--seeds 42-51]
                                             [--policy snugfit] [--variants cpu250,...]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from trace_variants import HELD_OUT, build
from until_full import run_until_full

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.share_plan import tightest_packing
from snugfit.simulations.executors import LocalPool
from snugfit.simulations.metrics import mean_sd
from snugfit.simulations.protocol import arrival_sequence
from snugfit.simulations.published import PUBLISHED_AT_100, PUBLISHED_HELD_OUT_AT_100
from snugfit.simulations.runner import default_workers, seed_streams
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.traces import load_nodes, load_pods
from snugfit.simulations.workload_model import Trace, TracePod

UNIT = 10  # openb shares are multiples of 10 milli
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def tightest_bins(shares: list[int]) -> int:
    """GPUs the core's tightest offline packing of the shares uses."""
    return sum(tightest_packing(Counter(shares)).values())


def _best_content(sizes: list[int], value: FloatArray, most: list[int]) -> tuple[float, IntArray]:
    """The one-GPU content (pods of each size, at most ``most`` of it) of the greatest total
    ``value``: a bounded knapsack over the GPU's share in steps of UNIT."""
    room = GPU_MILLI // UNIT
    best = np.full(room + 1, -np.inf)
    best[0] = 0.0
    content = [np.zeros(len(sizes), dtype=np.int64) for _ in range(room + 1)]
    for i, size in enumerate(sizes):
        step = size // UNIT
        for _ in range(min(most[i], room // step)):  # one more pod of this size at a time
            grown, grown_content = best.copy(), list(content)
            for u in range(room, step - 1, -1):
                if best[u - step] + value[i] > grown[u]:
                    grown[u] = best[u - step] + value[i]
                    grown_content[u] = content[u - step].copy()
                    grown_content[u][i] += 1
            best, content = grown, grown_content
    fullest = int(np.argmax(best))
    return float(best[fullest]), content[fullest]


def lp_bound_bins(shares: list[int]) -> int:
    """A lower bound on the GPUs any packing of the shares needs: the cutting-stock LP
    (Gilmore-Gomory column generation). Its dual values, scaled so that no GPU content is
    worth more than 1, price every packing's GPUs at most 1 each, so their total bounds the
    GPU count whatever the LP solver's tolerances."""
    counts = Counter(shares)
    sizes = sorted(counts, reverse=True)
    if any(s % UNIT or not 0 < s <= GPU_MILLI for s in sizes):
        raise ValueError(f"shares must be multiples of {UNIT} in (0, {GPU_MILLI}]")
    most = [counts[s] for s in sizes]
    demand = np.array(most, dtype=float)
    contents = [
        np.eye(len(sizes), dtype=np.int64)[i] * min(most[i], GPU_MILLI // s)
        for i, s in enumerate(sizes)
    ]
    while True:
        lp = linprog(
            np.ones(len(contents)),
            A_ub=-np.array(contents).T,
            b_ub=-demand,
            bounds=(0, None),
            method="highs",
        )
        if lp.status != 0:
            raise RuntimeError(f"cutting-stock LP failed: {lp.message}")
        dual = np.maximum(-lp.ineqlin.marginals, 0.0)
        value, content = _best_content(sizes, dual, most)
        if value <= 1 + 1e-9:  # no content prices above 1: the LP is optimal
            break
        contents.append(content)
    return int(np.ceil(float(dual @ demand) / max(value, 1.0) - 1e-6))


@dataclass(frozen=True)
class EndState:
    """A policy's cluster at 100 % arrived, in % of GPU capacity."""

    unallocated: float
    residue: float  # free share on partly used GPUs
    idle: float  # whole free GPUs
    offline_residue: float  # the tightest packing of the same sharing pods
    bound_residue: float  # no packing of the same sharing pods leaves less (LP bound)


def policy_end_state(trace: Trace, policy: str, seed: int) -> EndState:
    state, decisions = run_until_full(trace, policy, seed)
    capacity = state.total_gpu_milli()
    shares = [
        d.gpu_milli[0] for demand, d in decisions if isinstance(d, Placement) and demand.is_sharing
    ]
    free = state.gpu_free[state.gpu_real]
    partly = (free > 0) & (free < GPU_MILLI)
    offline = tightest_bins(shares) * GPU_MILLI - sum(shares)
    bound = lp_bound_bins(shares) * GPU_MILLI - sum(shares)
    return EndState(
        unallocated=100 - 100 * state.allocated_gpu_milli() / capacity,
        residue=100 * int(free[partly].sum()) / capacity,
        idle=100 * int(free[free == GPU_MILLI].sum()) / capacity,
        offline_residue=100 * offline / capacity,
        bound_residue=100 * bound / capacity,
    )


def _end_state_job(job: tuple[Trace, str, int]) -> EndState:
    return policy_end_state(*job)


def policy_table(
    traces: dict[str, tuple[Trace, float]], policy: str, seeds: tuple[int, ...]
) -> None:
    jobs = [(name, seed) for name in traces for seed in seeds]
    ends = LocalPool(default_workers()).map(
        _end_state_job, [(traces[name][0], policy, seed) for name, seed in jobs]
    )
    print(
        f"\n{policy} at 100 % arrived (% of GPU capacity, mean over seeds {seeds[0]}..{seeds[-1]})"
    )
    print(
        f"{'trace':20s} {'unallocated':>12s} {'residue':>8s} {'idle':>6s} "
        f"{'same pods, tightest':>20s} {'LP bound':>9s} {'0.8xFGD':>8s}"
    )
    for name in traces:
        mine = [e for (n, _), e in zip(jobs, ends, strict=True) if n == name]
        mean = {
            f: float(np.mean([getattr(e, f) for e in mine])) for f in EndState.__dataclass_fields__
        }
        print(
            f"{name:20s} {mean['unallocated']:12.2f} {mean['residue']:8.2f} {mean['idle']:6.2f} "
            f"{mean['offline_residue']:20.2f} {mean['bound_residue']:9.2f} "
            f"{traces[name][1]:8.2f}"
        )


def host_cpu_bound(pods: list[PodDemand], cluster_cpu: int, capacity: int) -> float:
    """Unallocated GPU % that no policy placing every arrived CPU-only pod can go below: the
    GPU pods have the rest of the cluster's CPU, and at most the GPU share of the GPU pods that
    ask least CPU per GPU share fits into it (a fractional knapsack, ignoring nodes)."""
    cpu_left = cluster_cpu - sum(p.cpu_milli for p in pods if not p.gpu_count)
    gpu = sorted((p for p in pods if p.gpu_count), key=lambda p: p.cpu_milli / p.total_gpu_milli)
    placed = 0.0
    for pod in gpu:
        if cpu_left <= 0:
            break
        fraction = min(1.0, cpu_left / pod.cpu_milli) if pod.cpu_milli else 1.0
        placed += fraction * pod.total_gpu_milli
        cpu_left -= pod.cpu_milli
    return max(0.0, 100 - 100 * placed / capacity)


def arrived_before_full(pods: list[TracePod], capacity: int, seed: int) -> list[PodDemand]:
    """The pods of the published protocol's arrival order (this seed) up to 100 % arrived."""
    rng, _ = seed_streams(seed)
    arrived, demands = 0, []
    for pod in arrival_sequence(pods, capacity, rng):
        arrived += pod.demand.total_gpu_milli
        if arrived > capacity:
            break
        demands.append(pod.demand)
    return demands


def load_traces(openb: Path, variants: list[str]) -> dict[str, tuple[list[TracePod], float]]:
    """Each shared trace and each built variant: its pods and its goal, 0.8 x published FGD
    (NaN for a variant without a published FGD)."""
    traces = {
        name: (load_pods(openb / f"openb_pod_list_{name}.csv"), 0.8 * published["fgd"])
        for name, published in PUBLISHED_AT_100.items()
    }
    base, constrained = traces["default"][0], traces["gpuspec20"][0]  # what variants build on
    for name in variants:
        fgd = PUBLISHED_HELD_OUT_AT_100.get(name, {}).get("fgd", float("nan"))
        traces[f"{name} (built)"] = (build(name, base, constrained), 0.8 * fgd)
    return traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-dir", type=Path, default=Path("../shared/traces"))
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--policy", help="also split this policy's unallocated GPU")
    parser.add_argument(
        "--variants",
        default=",".join(HELD_OUT),
        help="also the variants that trace_variants.py builds ('' for none)",
    )
    args = parser.parse_args()
    openb = args.traces_dir / "alibaba-gpu-v2023"
    nodes = load_nodes(openb / "openb_node_list_gpu_node.csv")
    state = ClusterState.from_nodes(nodes)
    capacity = state.total_gpu_milli()
    cluster_cpu = int(state.cpu_capacity.sum())
    traces = load_traces(openb, [v for v in args.variants.split(",") if v])
    print(
        f"{'trace':20s} {'0.8xFGD':>8s} {'ideal (tightest)':>17s} {'ideal (LP bound)':>17s} "
        f"{'CPU bound':>10s}"
    )
    for name, (pods, goal) in traces.items():
        estimates: dict[str, list[float]] = {"tightest": [], "lp": [], "cpu": []}
        for seed in parse_seeds(args.seeds):
            arrived = arrived_before_full(pods, capacity, seed)
            shares = [d.gpu_milli for d in arrived if d.is_sharing]
            for key, bins in (("tightest", tightest_bins), ("lp", lp_bound_bins)):
                residue = (bins(shares) * GPU_MILLI - sum(shares)) / capacity
                estimates[key].append(100 * residue / (1 + residue))
            estimates["cpu"].append(host_cpu_bound(arrived, cluster_cpu, capacity))
        tightest, lp, cpu = (mean_sd(estimates[k])[0] for k in ("tightest", "lp", "cpu"))
        print(f"{name:20s} {goal:8.2f} {tightest:17.2f} {lp:17.2f} {cpu:10.2f}", flush=True)
    if args.policy:
        policy_table(
            {
                name: (Trace(tuple(nodes), tuple(pods), "", name), goal)
                for name, (pods, goal) in traces.items()
            },
            args.policy,
            parse_seeds(args.seeds),
        )


if __name__ == "__main__":
    main()
