"""A capacity plan: size every candidate for every policy, pick the cheapest per policy, and
replay each policy on each chosen cluster for the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from snugfit.simulations.planning.catalogue import NodeType
from snugfit.simulations.planning.evaluate import Counts, Evaluation, Target, evaluate
from snugfit.simulations.planning.executors import Executor
from snugfit.simulations.planning.search import (
    SearchJob,
    SearchResult,
    candidates,
    cheapest,
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
    jobs = [
        SearchJob(inputs.pods, inputs.types, c, p, inputs.seeds, inputs.target)
        for p in inputs.policies
        for c in candidates(inputs.pods, inputs.types)
    ]
    if on_total:
        on_total(len(jobs) + len(inputs.policies) ** 2)
    searches = executor.map(search, jobs, lambda r: on_step and on_step(r.job_label))
    chosen = {p: cheapest(searches, p) for p in inputs.policies}
    clusters = {r.counts for r in chosen.values() if r is not None and r.counts is not None}
    cross_jobs = [
        CrossJob(inputs.pods, inputs.types, counts, p, inputs.seeds[0], inputs.target)
        for counts in sorted(clusters)
        for p in inputs.policies
    ]
    cross = executor.map(run_cross, cross_jobs, lambda e: on_step and on_step(f"{e.policy} replay"))
    return PlanResult(
        inputs, tuple(searches), chosen, tuple(cross), executor.name, time.perf_counter() - started
    )
