"""One candidate cluster under one policy and seed: does it serve the workload?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from snugfit.packing.cluster import ClusterState, NodeSpec
from snugfit.simulations.metrics import unallocated_pct_at
from snugfit.simulations.planning.catalogue import NodeType
from snugfit.simulations.protocol import arrival_sequence
from snugfit.simulations.replay import replay_arrivals
from snugfit.simulations.runner import RunSpec, setup_run
from snugfit.simulations.workload_model import Trace, TracePod

LOAD_LEVELS = tuple(range(0, 131, 5))  # arrived GPU request, % of the candidate's capacity

Counts = tuple[tuple[str, int], ...]  # (node type, nodes), in catalogue order


@dataclass(frozen=True)
class Target:
    """What the cluster must achieve for the workload's first ``arrival_pct`` % of pods (in the
    seeded arrival order, no departures): at least this share of the pods and of their GPU
    request placed."""

    min_pods_placed_pct: float = 99.0
    min_gpu_placed_pct: float = 99.0
    arrival_pct: float = 100.0

    def describe(self) -> str:
        return (
            f">= {self.min_pods_placed_pct:g} % of pods and >= {self.min_gpu_placed_pct:g} % of "
            f"their GPU request placed, {self.arrival_pct:g} % of the workload arrived"
        )


@dataclass(frozen=True)
class TypeUsage:
    """A node type's share of the cluster after the replay."""

    nodes: int
    gpus: int
    gpu_allocated: float  # GPUs (milli / 1000)
    idle_whole_gpus: int
    fragment_gpus: float  # free share on partly used GPUs, in GPUs
    cpu_used_pct: float
    memory_used_pct: float


@dataclass(frozen=True)
class Evaluation:
    policy: str
    counts: Counts
    seed: int
    pods_placed_pct: float
    gpu_placed_pct: float
    meets: bool
    load_pct: tuple[float, ...] = LOAD_LEVELS
    unallocated_pct: tuple[float, ...] = ()  # at each load level (nan past the last arrival)
    usage: dict[str, TypeUsage] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(n for _, n in self.counts)


def build_nodes(types: Sequence[NodeType], counts: Counts) -> tuple[NodeSpec, ...]:
    by_name = {t.name: t for t in types}
    return tuple(by_name[name].node(i) for name, n in counts for i in range(n))


def scale_workload(pods: Sequence[TracePod], scale: float, seed: int = 0) -> tuple[TracePod, ...]:
    """The same mix ``scale`` times over: whole copies, then a seeded sample for the rest."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    whole = int(scale)
    scaled = [replace(p, name=f"{p.name}-x{k}") if k else p for k in range(whole) for p in pods]
    extra = round((scale - whole) * len(pods))
    if extra:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(pods), size=extra, replace=False).tolist())
        scaled += [replace(pods[i], name=f"{pods[i].name}-x{whole}") for i in chosen]
    return tuple(scaled)


def _usage(
    state: ClusterState, nodes: Sequence[NodeSpec], types: Sequence[NodeType]
) -> dict[str, TypeUsage]:
    usage = {}
    kind = np.array([n.name.rsplit("-", 1)[0] for n in nodes])
    for t in types:
        rows = np.flatnonzero(kind == t.name)
        if not len(rows):
            continue
        real = state.gpu_real[rows]
        free = state.gpu_free[rows][real]
        used = state.gpu_used[rows][real]
        usage[t.name] = TypeUsage(
            nodes=len(rows),
            gpus=int(real.sum()),
            gpu_allocated=float(used.sum()) / 1000,
            idle_whole_gpus=int((used == 0).sum()),
            fragment_gpus=float(free[(used > 0) & (free > 0)].sum()) / 1000,
            cpu_used_pct=100
            * float(state.cpu_used[rows].sum())
            / max(1, int(state.cpu_capacity[rows].sum())),
            memory_used_pct=100
            * float(state.memory_used[rows].sum())
            / max(1, int(state.memory_capacity[rows].sum())),
        )
    return usage


def evaluate(
    pods: tuple[TracePod, ...],
    types: tuple[NodeType, ...],
    counts: Counts,
    policy: str,
    seed: int,
    target: Target,
) -> Evaluation:
    """Replay the workload on the candidate cluster (the simulator's replay and policy code)
    to its end: the report's node-count curves read whole replays."""
    nodes = build_nodes(types, counts)
    trace = Trace(nodes, pods, "candidate", "workload")
    state, scheduler, arrival_rng, demand_of = setup_run(trace, RunSpec(policy, seed))
    arrivals = arrival_sequence(pods, state.total_gpu_milli(), arrival_rng, inflation=0.0)
    arrivals = arrivals[: round(len(arrivals) * target.arrival_pct / 100)]
    log = replay_arrivals(state, scheduler, arrivals, demand_of)
    placed, arrived = log.placed, int(log.arrived[-1]) if len(log.arrived) else 0
    pods_pct = 100 * float(placed.mean()) if len(placed) else 100.0
    gpu_pct = 100 * int(log.allocated[-1]) / arrived if arrived else 100.0
    return Evaluation(
        policy=policy,
        counts=counts,
        seed=seed,
        pods_placed_pct=pods_pct,
        gpu_placed_pct=gpu_pct,
        meets=pods_pct >= target.min_pods_placed_pct and gpu_pct >= target.min_gpu_placed_pct,
        unallocated_pct=tuple(float(v) for v in unallocated_pct_at(log, LOAD_LEVELS)),
        usage=_usage(state, nodes, types),
    )
