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

With ``--policy P`` it also replays P (same seeds, same arrivals up to 100 %) and splits its
unallocated GPU into residue on partly used GPUs and idle whole GPUs, next to the residue that
the tightest packing, and the LP bound, leave with exactly the sharing pods P placed: how far
P's online packing is from the best offline packing of the same pods, and what is left outside
the residue.

    python tests/benchmarks/packing_floor.py [--traces-dir ../shared/traces] [--seeds 42-51]
                                             [--policy snugfit]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from until_full import run_until_full

from snugfit.packing.cluster import GPU_MILLI, ClusterState
from snugfit.packing.placement import Placement
from snugfit.packing.share_plan import tightest_packing
from snugfit.simulations.executors import LocalPool
from snugfit.simulations.metrics import mean_sd
from snugfit.simulations.protocol import arrival_sequence
from snugfit.simulations.published import PUBLISHED_AT_100
from snugfit.simulations.runner import default_workers, seed_streams
from snugfit.simulations.seeds import parse_seeds
from snugfit.simulations.traces import load_nodes, load_pods
from snugfit.simulations.workload_model import Trace

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


def policy_table(traces: dict[str, Trace], policy: str, seeds: tuple[int, ...]) -> None:
    jobs = [(name, seed) for name in traces for seed in seeds]
    ends = LocalPool(default_workers()).map(
        _end_state_job, [(traces[name], policy, seed) for name, seed in jobs]
    )
    print(
        f"\n{policy} at 100 % arrived (% of GPU capacity, mean over seeds {seeds[0]}..{seeds[-1]})"
    )
    print(
        f"{'trace':12s} {'unallocated':>12s} {'residue':>8s} {'idle':>6s} "
        f"{'same pods, tightest':>20s} {'LP bound':>9s} {'0.8xFGD':>8s}"
    )
    for name in traces:
        mine = [e for (n, _), e in zip(jobs, ends, strict=True) if n == name]
        mean = {
            f: float(np.mean([getattr(e, f) for e in mine])) for f in EndState.__dataclass_fields__
        }
        print(
            f"{name:12s} {mean['unallocated']:12.2f} {mean['residue']:8.2f} {mean['idle']:6.2f} "
            f"{mean['offline_residue']:20.2f} {mean['bound_residue']:9.2f} "
            f"{0.8 * PUBLISHED_AT_100[name]['fgd']:8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-dir", type=Path, default=Path("../shared/traces"))
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--policy", help="also split this policy's unallocated GPU")
    args = parser.parse_args()
    openb = args.traces_dir / "alibaba-gpu-v2023"
    state = ClusterState.from_nodes(load_nodes(openb / "openb_node_list_gpu_node.csv"))
    capacity = state.total_gpu_milli()
    print(
        f"{'trace':12s} {'FGD':>6s} {'0.8xFGD':>8s} {'ideal (tightest)':>17s} {'ideal (LP bound)':>17s}"
    )
    for name, published in PUBLISHED_AT_100.items():
        pods = load_pods(openb / f"openb_pod_list_{name}.csv")
        estimates: dict[str, list[float]] = {"tightest": [], "lp": []}
        for seed in parse_seeds(args.seeds):
            rng, _ = seed_streams(seed)
            arrived, shares = 0, []
            for pod in arrival_sequence(pods, capacity, rng):
                arrived += pod.demand.total_gpu_milli
                if arrived > capacity:
                    break
                if pod.demand.is_sharing:
                    shares.append(pod.demand.gpu_milli)
            for key, bins in (("tightest", tightest_bins), ("lp", lp_bound_bins)):
                residue = (bins(shares) * GPU_MILLI - sum(shares)) / capacity
                estimates[key].append(100 * residue / (1 + residue))
        fgd = published["fgd"]
        tightest, lp = mean_sd(estimates["tightest"])[0], mean_sd(estimates["lp"])[0]
        print(f"{name:12s} {fgd:6.2f} {0.8 * fgd:8.2f} {tightest:17.2f} {lp:17.2f}")
    if args.policy:
        nodes = tuple(load_nodes(openb / "openb_node_list_gpu_node.csv"))
        traces = {}
        for name in PUBLISHED_AT_100:
            path = openb / f"openb_pod_list_{name}.csv"
            traces[name] = Trace(
                nodes, tuple(load_pods(path)), "openb_node_list_gpu_node.csv", path.name
            )
        policy_table(traces, args.policy, parse_seeds(args.seeds))


if __name__ == "__main__":
    main()
