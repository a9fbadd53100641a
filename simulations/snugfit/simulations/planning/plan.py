"""A capacity plan: size every candidate for every policy, pick the cheapest per policy, and
replay each policy on each chosen cluster for the report."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from snugfit.simulations.executors import Executor
from snugfit.simulations.planning.catalogue import NodeType
from snugfit.simulations.planning.evaluate import Counts, Evaluation, Target, evaluate
from snugfit.simulations.planning.search import (
    SearchJob,
    SearchResult,
    candidates,
    cheapest,
    cost_lower_bound,
    search,
)
from snugfit.simulations.workload_model import TracePod

POLICY = "snugfit"
BASELINE = "k8s-default"  # the model of the default kube-scheduler


@dataclass(frozen=True)
class PlanInputs:
    workload: str  # where the pods came from, for people
    pods: tuple[TracePod, ...]
    types: tuple[NodeType, ...]
    target: Target
    seeds: tuple[int, ...] = (42,)
    scale: float = 1.0
    policies: tuple[str, ...] = (POLICY, BASELINE)


@dataclass(frozen=True)
class CrossJob:
    pods: tuple[TracePod, ...]
    types: tuple[NodeType, ...]
    counts: Counts
    policy: str
    seed: int
    target: Target


def run_cross(job: CrossJob) -> Evaluation:
    return evaluate(job.pods, job.types, job.counts, job.policy, job.seed, job.target)


@dataclass(frozen=True)
class PlanResult:
    inputs: PlanInputs
    searches: tuple[SearchResult, ...]
    chosen: dict[str, SearchResult | None]
    cross: tuple[Evaluation, ...]  # every policy on every chosen cluster, first seed
    executor: str
    seconds: float

    def cost(self, policy: str) -> float | None:
        found = self.chosen.get(policy)
        return None if found is None else found.cost_per_hour


def make_plan(
    inputs: PlanInputs,
    executor: Executor,
    on_step: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PlanResult:
    started = time.perf_counter()
    # per policy, candidates cheapest volume bound first; a round searches the next few of
    # each policy in parallel, and candidates whose bound exceeds a cluster found are dropped
    bounds = {
        c: cost_lower_bound(inputs.pods, inputs.types, c, inputs.target)
        for c in candidates(inputs.pods, inputs.types)
    }
    queue = {p: sorted((c for c in bounds if bounds[c] < math.inf), key=bounds.__getitem__)
             for p in inputs.policies}  # fmt: skip
    if on_total:
        on_total(sum(len(q) for q in queue.values()) + len(inputs.policies) ** 2)
    per_round = max(1, executor.slots // len(inputs.policies))
    searches: list[SearchResult] = []
    while any(queue.values()):
        jobs = []
        for policy, pending in queue.items():
            jobs += [SearchJob(inputs.pods, inputs.types, c, policy, inputs.seeds, inputs.target)
                     for c in pending[:per_round]]  # fmt: skip
            del pending[:per_round]
        searches += executor.map(search, jobs, lambda r: on_step and on_step(r.job_label))
        for policy, pending in queue.items():
            found = cheapest(searches, policy)
            if found is not None:
                dropped = [c for c in pending if bounds[c] >= found.cost_per_hour]
                pending[:] = [c for c in pending if bounds[c] < found.cost_per_hour]
                for _ in dropped:
                    if on_step:
                        on_step(f"{policy}: skipped a candidate that cannot be cheaper")
    chosen = {p: cheapest(searches, p) for p in inputs.policies}
    clusters = {r.counts for r in chosen.values() if r is not None and r.counts is not None}
    # a policy's own cluster was replayed by its search already (replays are deterministic)
    done = {(e.policy, e.counts, e.seed): e for r in searches for e in r.evaluations}
    wanted = [(p, counts) for counts in sorted(clusters) for p in inputs.policies]
    missing = [
        CrossJob(inputs.pods, inputs.types, counts, p, inputs.seeds[0], inputs.target)
        for p, counts in wanted
        if (p, counts, inputs.seeds[0]) not in done
    ]
    ran = executor.map(run_cross, missing, lambda e: on_step and on_step(f"{e.policy} replay"))
    done.update({(e.policy, e.counts, e.seed): e for e in ran})
    for _ in range(len(wanted) - len(missing)):
        if on_step:
            on_step("replay already made by the search")
    cross = tuple(done[p, counts, inputs.seeds[0]] for p, counts in wanted)
    return PlanResult(
        inputs, tuple(searches), chosen, cross, executor.name, time.perf_counter() - started
    )
