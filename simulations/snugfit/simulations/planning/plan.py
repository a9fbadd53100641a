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


def in_order(searches: dict[tuple[int, int, int], SearchResult]) -> list[SearchResult]:
    """Searches by (batch, policy, place in batch), whatever order they finished in."""
    return [searches[k] for k in sorted(searches)]


def make_plan(
    inputs: PlanInputs,
    executor: Executor,
    on_step: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PlanResult:
    started = time.perf_counter()
    # per policy, candidates cheapest volume bound first, searched a few at a time (a batch);
    # candidates whose bound exceeds a cluster found are dropped. Policies go on independently:
    # once a policy's searches are done its cluster is final, and the other policies are
    # replayed on it while the slower searches still run.
    bounds = {
        c: cost_lower_bound(inputs.pods, inputs.types, c, inputs.target)
        for c in candidates(inputs.pods, inputs.types)
    }
    queue = {p: sorted((c for c in bounds if bounds[c] < math.inf), key=bounds.__getitem__)
             for p in inputs.policies}  # fmt: skip
    if on_total:
        on_total(sum(len(q) for q in queue.values()) + len(inputs.policies) ** 2)
    per_batch = max(1, executor.slots // len(inputs.policies))
    seed = inputs.seeds[0]
    searches: dict[tuple[int, int, int], SearchResult] = {}  # (batch, policy, place): result
    batches = dict.fromkeys(inputs.policies, 0)
    running = dict.fromkeys(inputs.policies, 0)
    done: dict[tuple[str, Counts, int], Evaluation] = {}  # (policy, counts, seed): replay
    crossing: set[tuple[str, Counts]] = set()
    with executor.session() as session:
        work: dict[int, tuple[int, int, int] | CrossJob] = {}

        def next_batch(policy: str) -> None:
            found = cheapest(in_order(searches), policy)
            pending = queue[policy]
            if found is not None:
                for _ in (c for c in pending if bounds[c] >= found.cost_per_hour):
                    if on_step:
                        on_step(f"{policy}: skipped a candidate that cannot be cheaper")
                pending[:] = [c for c in pending if bounds[c] < found.cost_per_hour]
            if pending:
                index = inputs.policies.index(policy)
                for place, c in enumerate(pending[:per_batch]):
                    job = SearchJob(inputs.pods, inputs.types, c, policy, inputs.seeds,
                                    inputs.target)  # fmt: skip
                    work[session.submit(search, job)] = (batches[policy], index, place)
                    running[policy] += 1
                del pending[:per_batch]
                batches[policy] += 1
            elif found is not None and found.counts is not None:
                cross(found.counts)

        def cross(counts: Counts) -> None:
            for p in inputs.policies:
                if (p, counts, seed) not in done and (p, counts) not in crossing:
                    crossing.add((p, counts))
                    job = CrossJob(inputs.pods, inputs.types, counts, p, seed, inputs.target)
                    work[session.submit(run_cross, job)] = job

        for policy in inputs.policies:
            next_batch(policy)
        while session.running:
            ticket, result = session.next_done()
            what = work.pop(ticket)
            if isinstance(what, CrossJob):
                done[(result.policy, result.counts, result.seed)] = result
                if on_step:
                    on_step(f"{result.policy} replay")
                continue
            searches[what] = result
            if on_step:
                on_step(result.job_label)
            # a policy's own cluster is replayed by its search (replays are deterministic)
            done.update({(e.policy, e.counts, e.seed): e for e in result.evaluations})
            running[result.policy] -= 1
            if not running[result.policy]:
                next_batch(result.policy)
    chosen = {p: cheapest(in_order(searches), p) for p in inputs.policies}
    clusters = {r.counts for r in chosen.values() if r is not None and r.counts is not None}
    wanted = [(p, counts) for counts in sorted(clusters) for p in inputs.policies]
    for _ in range(len(wanted) - len(crossing & set(wanted))):
        if on_step:
            on_step("replay already made by the search")
    return PlanResult(
        inputs,
        tuple(in_order(searches)),
        chosen,
        tuple(done[p, counts, seed] for p, counts in wanted),
        executor.name,
        time.perf_counter() - started,
    )
