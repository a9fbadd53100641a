"""The cheapest cluster meeting a target: node counts per type found by bisection over
simulator runs, for single node types and for pairs (a cheap type plus the type that hosts
the pods the cheap one cannot)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import Reason, feasibility
from snugfit.simulations.planning.catalogue import NodeType
from snugfit.simulations.planning.evaluate import Counts, Evaluation, Target, evaluate
from snugfit.simulations.workload_model import TracePod

PRECISION = 0.02  # stop when the bracket is within 2 % of its upper end
GROWTH = 1.25  # an upper end that falls short grows by this factor ...
MAX_GROWTHS = 8  # ... at most this many times (6x in all)


@dataclass(frozen=True)
class Candidate:
    """Node types to size: one alone, or ``cheap`` plus ``big`` for what ``cheap`` cannot host."""

    cheap: str
    big: str | None = None

    @property
    def label(self) -> str:
        return self.cheap if self.big is None else f"{self.cheap} + {self.big}"


@dataclass(frozen=True)
class SearchJob:
    pods: tuple[TracePod, ...]
    types: tuple[NodeType, ...]
    candidate: Candidate
    policy: str
    seeds: tuple[int, ...]
    target: Target


@dataclass(frozen=True)
class SearchResult:
    job_label: str
    policy: str
    counts: Counts | None  # None: no cluster of these types meets the target
    cost_per_hour: float
    evaluations: tuple[Evaluation, ...]  # every run made, for the node-count curves


def hosts(node_type: NodeType, demand: PodDemand) -> bool:
    """Whether an empty node of this type can run the pod."""
    state = ClusterState.from_nodes([node_type.node(0)])
    return bool(feasibility(state, demand)[0] == Reason.FITS)


def misfits(pods: Sequence[TracePod], node_type: NodeType) -> list[TracePod]:
    verdict: dict[PodDemand, bool] = {}
    out = []
    for pod in pods:
        if pod.demand not in verdict:
            verdict[pod.demand] = hosts(node_type, pod.demand)
        if not verdict[pod.demand]:
            out.append(pod)
    return out


def can_meet_alone(pods: Sequence[TracePod], node_type: NodeType, target: Target) -> bool:
    """Whether the pods this type cannot host at all are few enough for the target."""
    lost = misfits(pods, node_type)
    gpu = sum(p.demand.total_gpu_milli for p in pods)
    lost_gpu = sum(p.demand.total_gpu_milli for p in lost)
    pods_ok = 100 * (1 - len(lost) / max(1, len(pods))) >= target.min_pods_placed_pct
    return pods_ok and (gpu == 0 or 100 * (1 - lost_gpu / gpu) >= target.min_gpu_placed_pct)


def lower_bound(pods: Sequence[TracePod], node_type: NodeType, target: Target) -> int:
    """Nodes needed by volume alone (GPU, CPU, memory) for the arriving pods."""
    share = (
        target.arrival_pct / 100 * min(target.min_pods_placed_pct, target.min_gpu_placed_pct) / 100
    )
    gpu = sum(p.demand.total_gpu_milli for p in pods) * share / (1000 * max(1, node_type.gpus))
    cpu = sum(p.demand.cpu_milli for p in pods) * share / node_type.cpu_milli
    memory = sum(p.demand.memory_mib for p in pods) * share / max(1, node_type.memory_mib)
    return max(1, math.ceil(max(gpu, cpu, memory)))


def smallest(meets: Callable[[int], bool], low: int, high: int) -> int | None:
    """The smallest n in [low, ...) with meets(n), assuming more nodes never hurt; the upper
    end grows (a few times at most) until it meets."""
    for _ in range(MAX_GROWTHS + 1):
        if meets(high):
            break
        low, high = high + 1, max(high + 1, math.ceil(GROWTH * high))
    else:
        return None
    while high - low > PRECISION * high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return high


def size_pair(
    meets: Callable[[int, int], bool], cheap: tuple[int, int], big: tuple[int, int]
) -> tuple[int, int] | None:
    """Counts (cheap, big) that meet, from (low, high) brackets for each: grow both until the
    pair meets, then trim the cheap type, then the big one; after a growth, the cheap one
    again from its first lower end. A replay's success is not strictly monotone in node counts
    (one 8-GPU pod more or less placed crosses a 99 % target), so the pair grown from may have
    been short by noise alone, and the cheap type trimmed beside the larger big count then
    stays larger than it needs to be."""
    (a_floor, a_high), (b_low, b_high) = cheap, big
    a_low = a_floor
    for _ in range(MAX_GROWTHS + 1):
        if meets(a_high, b_high):
            break
        a_low, a_high = a_high + 1, math.ceil(GROWTH * a_high)
        b_high = math.ceil(GROWTH * b_high)
    else:
        return None
    a = smallest(lambda n: meets(n, b_high), a_low, a_high)
    b = None if a is None else smallest(partial(meets, a), b_low, b_high)
    if a is None or b is None:
        return None
    if a_low > a_floor:
        a = smallest(lambda n: meets(n, b), a_floor, a)
    return None if a is None else (a, b)


def search(job: SearchJob) -> SearchResult:
    """Size one candidate for one policy (a unit of work for the local pool, Dask or Ray)."""
    by_name = {t.name: t for t in job.types}
    runs: list[Evaluation] = []
    memo: dict[Counts, bool] = {}

    def meets(counts: Counts) -> bool:
        if counts not in memo:
            results = [
                evaluate(job.pods, job.types, counts, job.policy, s, job.target) for s in job.seeds
            ]
            runs.extend(results)
            memo[counts] = all(r.meets for r in results)
        return memo[counts]

    cheap = by_name[job.candidate.cheap]
    label = f"{job.policy}: {job.candidate.label}"
    if job.candidate.big is None:
        if not can_meet_alone(job.pods, cheap, job.target):
            return SearchResult(label, job.policy, None, math.inf, ())
        low = lower_bound(job.pods, cheap, job.target)
        n = smallest(lambda k: meets(((cheap.name, k),)), low, math.ceil(low * 1.08))
        counts: Counts | None = None if n is None else ((cheap.name, n),)
    else:
        big = by_name[job.candidate.big]
        rest = misfits(job.pods, cheap)
        b_low = lower_bound(rest, big, job.target) if rest else 0
        b_high = 3 * b_low + 1  # the other pods spill onto the big type too
        a_high = lower_bound(job.pods, cheap, job.target)
        a_low = max(1, a_high - b_high * big.gpus // max(1, cheap.gpus))
        pair = size_pair(
            lambda a, b: meets(((cheap.name, a), (big.name, b))), (a_low, a_high), (b_low, b_high)
        )
        counts = None if pair is None else ((cheap.name, pair[0]), (big.name, pair[1]))
    cost = math.inf if counts is None else sum(by_name[t].price_per_hour * n for t, n in counts)
    return SearchResult(label, job.policy, counts, cost, tuple(runs))


def candidates(pods: Sequence[TracePod], types: Sequence[NodeType]) -> list[Candidate]:
    """Every type alone, and the cheapest type per GPU paired with each type that hosts some
    pods it cannot."""
    out = [Candidate(t.name) for t in types]
    with_gpus = [t for t in types if t.gpus]
    if not with_gpus:
        return out
    cheapest = min(with_gpus, key=lambda t: t.price_per_hour / t.gpus)
    rest = misfits(pods, cheapest)
    if rest:
        for t in types:
            if t is not cheapest and len(misfits(rest, t)) < len(rest):
                out.append(Candidate(cheapest.name, t.name))
    return out


def cost_lower_bound(
    pods: Sequence[TracePod], types: Sequence[NodeType], candidate: Candidate, target: Target
) -> float:
    """Dollars per hour no cluster of this candidate can go below (volume alone); inf where it
    cannot meet the target at all. Searches run cheapest bound first, and a candidate whose
    bound is above a cluster already found is never searched."""
    by_name = {t.name: t for t in types}
    cheap = by_name[candidate.cheap]
    if candidate.big is None:
        if not can_meet_alone(pods, cheap, target):
            return math.inf
        return lower_bound(pods, cheap, target) * cheap.price_per_hour
    big = by_name[candidate.big]
    rest = misfits(pods, cheap)
    b = lower_bound(rest, big, target) if rest else 0
    share = (
        target.arrival_pct / 100 * min(target.min_pods_placed_pct, target.min_gpu_placed_pct) / 100
    )
    need = [
        (sum(p.demand.total_gpu_milli for p in pods) / 1000, big.gpus, cheap.gpus),
        (sum(p.demand.cpu_milli for p in pods), big.cpu_milli, cheap.cpu_milli),
        (sum(p.demand.memory_mib for p in pods), big.memory_mib, cheap.memory_mib),
    ]
    a = max(
        max(0.0, total * share - b * on_big) / max(on_cheap, 1) for total, on_big, on_cheap in need
    )
    return b * big.price_per_hour + math.floor(a) * cheap.price_per_hour


def cheapest(results: Sequence[SearchResult], policy: str) -> SearchResult | None:
    found = [r for r in results if r.policy == policy and r.counts is not None]
    return min(found, key=lambda r: r.cost_per_hour) if found else None
