"""snugfit: FGD's measure, learned online, aware of CPU and host memory, with a plan for shares
and models, looking one arrival ahead.

Six changes to FGD (Weng et al., ATC '23), each measured in BENCHMARKS.md:

- The target workload is learned from the pods seen so far (``learns_workload``), not read
  from the whole trace: the live extender cannot know future pods, and neither may this. Shapes
  taking several GPUs stay in it however rare, so nodes are kept whole for them.
- Pods that take no GPU share (CPU-only pods and pods taking whole GPUs) are scored with the
  CPU-capped measure: free GPU share that a shape could not fill before the node's CPU runs
  out counts as fragmented. FGD sees CPU only when a node falls below a shape's whole request,
  so it spreads CPU-only pods over nodes at random and strands GPUs behind exhausted CPU;
  this puts them where CPU is plentiful relative to the GPUs left. Sharing pods keep FGD's
  measure, whose choice of partly used GPU the capped one does not improve.
- Sharing pods go first to GPUs where they are on the share plan of the learned mix (see
  ``share_plan``): shares that the tightest offline packing of the mix puts together, on nodes
  that keep CPU for the pods that would complete their partly used GPUs. Pods taking whole
  GPUs go first to nodes that keep that CPU too. Among those, and when there is none, FGD's
  score decides.
- Pods that may use several GPU models go first to models with spare capacity (see
  ``model_reserve``): the learned mix says how much of what is still free the pods that
  require a model will claim, and the others leave that much of it to them.
- Pods go first to nodes where they leave the hosts of rare multi-GPU shapes to those shapes
  (see ``host_reserve``): an 8-GPU pod asking for 120 cores fits only the few 128-core nodes,
  which CPU-heavy pods would otherwise open while the cluster is still mostly free.
- Among the best few nodes of the best lift tier (FGD's published scores round the growth,
  so many tie), the placement whose
  exact growth, plus what it does for the next pod of the learned mix, is least goes first
  (see ``lookahead``); nodes where the pod would open an idle node are set aside where some
  would not. The growth there also counts the share that the node's CPU and host memory
  would strand at the mix's host per GPU share (``balanced_kinds``): among nodes that FGD's
  measure scores alike, the pod goes where it leaves CPU and memory for the GPUs still free
  (without it, where every GPU pod shares GPUs, nodes ran out of CPU with whole GPUs idle,
  and 8-GPU nodes ran out of host memory with GPUs waiting for partners).

Scores are FGD's published integer scores of the growth. On-plan GPUs of sharing pods, and
for whole-GPU pods nodes that keep the waiting CPU, are lifted above every other score; nodes
with GPUs of a spare model, and that leave the claimed hosts, above those; the look-ahead's
pick above the rest of its tier. Ties go to the run's fixed node order; GPUs are chosen by
the same scores.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, gpu_need
from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.host_reserve import Bool, HostReserve
from snugfit.packing.lookahead import (
    HostPerShare,
    NextGrowthCache,
    host_per_gpu_share,
    host_stranded_share,
    next_pod_gain,
    opens_idle_node,
)
from snugfit.packing.model_reserve import ModelReserve
from snugfit.packing.policies.base import F64, I64, PolicyContext
from snugfit.packing.policies.fgd import Fgd, first_fit_after, fragmentation_with
from snugfit.packing.share_plan import SharePlan, share_plan

PLAN_LIFT = 101.0  # above every published score (0..100): on-plan GPUs first
MODEL_LIFT = 1000.0  # above every lifted score: spare models first
LOOKAHEAD_NODES = 8  # candidates that look-ahead ranks


def pod_kind(demand: PodDemand) -> str:
    return "sharing" if demand.is_sharing else "whole" if demand.gpu_count else "cpu-only"


def node_use(state: ClusterState, demand: PodDemand, nodes: I64) -> tuple[I64, I64, I64]:
    """Share used and capacity of each GPU of ``nodes``, and their CPU left after the pod."""
    capacity = state.gpu_capacity[nodes]
    return capacity - state.gpu_free[nodes], capacity, state.cpu_free[nodes] - demand.cpu_milli


def lift_tier(scores: F64) -> F64:
    """Which lifts a score carries (model, plan): equal tiers differ only in published score."""
    result: F64 = 10 * np.floor(scores / MODEL_LIFT) + np.floor(
        np.mod(scores, MODEL_LIFT) / PLAN_LIFT
    )
    return result


def best_candidates(scores: F64, band: float = np.inf) -> I64:
    """Indices of the best ``LOOKAHEAD_NODES`` scores in the best's lift tier and within
    ``band`` published-score points of the best, best first (equal scores: the earlier index
    first; -inf: set aside, never). With no band, however far below the best their scores
    are: the look-ahead key holds the exact growth that those scores round."""
    ranked = np.flatnonzero((scores > -np.inf) & (scores >= scores.max() - band))
    if len(ranked) == 0:
        return ranked
    k = min(LOOKAHEAD_NODES, len(ranked))
    cut = np.partition(scores[ranked], len(ranked) - k)[len(ranked) - k]  # the k-th best
    top = ranked[scores[ranked] >= cut]
    order = top[np.argsort(-scores[top], kind="stable")][:LOOKAHEAD_NODES]
    tier = lift_tier(scores[order])
    result: I64 = order[tier == tier[0]]
    return result


def empty_workload() -> TargetWorkload:
    """No shapes yet: every node scores the same until the first pod is seen."""
    none = np.zeros(0, dtype=np.int64)
    return TargetWorkload(none, none, none, np.zeros((0, 1), dtype=bool), np.zeros(0))


class Snugfit(Fgd):
    name = "snugfit"
    learns_workload = True
    capped_kinds: frozenset[str] = frozenset({"cpu-only", "whole"})  # see pod_kind
    follows_share_plan: bool = True
    reserves_models: bool = True
    reserves_hosts: bool = True
    looks_ahead: bool = True
    sets_aside_idle_nodes: bool = True  # in look-ahead, see look_ahead
    look_ahead_band: float = np.inf  # see best_candidates
    # in look-ahead (see look_ahead_growth): the pods whose growth counts the share their
    # node's host strands, and whether host memory counts there besides CPU
    balanced_kinds: frozenset[str] = frozenset({"sharing", "whole", "cpu-only"})
    balances_memory: bool = True

    def __init__(self, context: PolicyContext) -> None:
        known = None if self.learns_workload else context.workload
        super().__init__(PolicyContext(context.rng, known or empty_workload()))
        self.plan = self._plan_for(self.workload)
        self.reserve = ModelReserve(self.workload)
        self.hosts = HostReserve(self.workload)
        self.next_growth = NextGrowthCache(self.workload)
        self.host_per_share = host_per_gpu_share(self.workload)

    def _plan_for(self, workload: TargetWorkload) -> SharePlan:
        return share_plan(workload) if self.follows_share_plan else SharePlan.empty()

    def retarget(self, workload: TargetWorkload) -> None:
        super().retarget(workload)
        self.plan = self._plan_for(workload)
        self.reserve = ModelReserve(workload)
        self.hosts = HostReserve(workload)
        self.next_growth = NextGrowthCache(workload)
        self.host_per_share = host_per_gpu_share(workload)

    def cpu_capped(self, demand: PodDemand) -> bool:
        return pod_kind(demand) in self.capped_kinds

    def slot_scores(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        scores = super().slot_scores(state, demand, nodes)
        used, capacity, cpu_after = node_use(state, demand, nodes)
        need = gpu_need(state, demand)[nodes]
        on_plan = self.plan.on_plan(used, capacity, need, cpu_after)
        result: F64 = np.where(on_plan & (scores >= 0), scores + PLAN_LIFT, scores)
        return result

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        scores = super().score(state, demand, nodes)
        if pod_kind(demand) != "whole":
            return scores
        keeps = self.plan.keeps_waiting_cpu(*node_use(state, demand, nodes))
        result: F64 = np.where(keeps & (scores >= 0), scores + PLAN_LIFT, scores)
        return result

    def rescore(self, state: ClusterState, demand: PodDemand, nodes: I64, scores: F64) -> F64:
        preferred = self.preferred_nodes(state, demand, nodes)
        lifted: F64 = (
            scores if preferred is None else np.where(preferred, scores + MODEL_LIFT, scores)
        )
        return self.look_ahead(state, demand, nodes, lifted) if self.looks_ahead else lifted

    def preferred_nodes(self, state: ClusterState, demand: PodDemand, nodes: I64) -> Bool | None:
        """Nodes lifted above the rest: those with GPUs of a spare model (``model_reserve``)
        and, among them, those that leave the hosts of rare multi-GPU shapes to those shapes
        (``host_reserve``); None when neither narrows the choice."""
        models = (
            self.reserve.preferred_nodes(state, demand, nodes) if self.reserves_models else None
        )
        if not self.reserves_hosts:
            return models
        hosts = self.hosts.preferred_nodes(
            state, demand, nodes, lambda on: self.free_after(state, demand, on)
        )
        if models is None or hosts is None:
            return models if hosts is None else hosts
        both = models & hosts
        return both if both.any() else models

    def look_ahead(self, state: ClusterState, demand: PodDemand, nodes: I64, scores: F64) -> F64:
        """Among the nodes ``best_candidates``, those with the least look-ahead key (see
        ``lookahead``) are lifted above the others. Where some of them would open an idle node
        (``opens_idle_node``) and some would not, those that would are set aside and the best
        candidates of the rest are ranked instead. The key's exact growth is
        ``look_ahead_growth``."""
        if self.workload.size == 0 or len(nodes) < 2:
            return scores
        best = scores.max()
        result = scores.copy()
        candidates = best_candidates(scores, self.look_ahead_band)
        opens = (
            opens_idle_node(state, demand, nodes[candidates])
            if self.sets_aside_idle_nodes
            else None
        )
        if opens is not None and opens.any() and not opens.all():
            rest = scores.copy()
            rest[candidates[opens]] = -np.inf  # set aside
            candidates = best_candidates(rest, self.look_ahead_band)
            if len(candidates) == 1:
                result[candidates] = best + 1
                return result
        if len(candidates) < 2:
            return scores
        chosen = nodes[candidates]
        k = len(chosen)
        both = np.concatenate([chosen, chosen])
        free_after = self.free_after(state, demand, chosen)
        cpu_after = state.cpu_free[chosen] - demand.cpu_milli
        growth = self.look_ahead_growth(state, demand, chosen, free_after, cpu_after)
        free = np.concatenate([state.gpu_free[chosen], free_after])
        cpu = np.concatenate([state.cpu_free[chosen], cpu_after])
        next_growth = self.next_growth.growth(state, both, free, cpu)
        key = growth + next_pod_gain(next_growth[:k], next_growth[k:], self.workload.weight)
        result[candidates[key <= key.min() + 1e-6]] = best + 1  # equal keys: the node order decides
        return result

    def look_ahead_growth(
        self, state: ClusterState, demand: PodDemand, nodes: I64, free_after: I64, cpu_after: I64
    ) -> F64:
        """(nodes,): the exact growth look-ahead ranks by, in the measure that scored the pod,
        plus (``balanced_kinds``) the growth of the share that the node's CPU and host memory
        strand at the mix's host per GPU share (``host_stranded_share``)."""
        capped = self.cpu_capped(demand)
        now = self.fragmentation_now(state, nodes, capped)
        after = fragmentation_with(state, nodes, free_after, cpu_after, self.workload, capped)
        growth: F64 = after - now
        if pod_kind(demand) in self.balanced_kinds:
            per_share = self.host_per_share
            if not self.balances_memory:
                per_share = HostPerShare(per_share.cpu, 0.0)
            memory = state.memory_free[nodes]
            growth += host_stranded_share(
                free_after, cpu_after, memory - demand.memory_mib, per_share
            ) - host_stranded_share(state.gpu_free[nodes], state.cpu_free[nodes], memory, per_share)
        return growth

    def free_after(self, state: ClusterState, demand: PodDemand, nodes: I64) -> I64:
        """(nodes, slots): free GPU share of each node after the pod takes the GPUs it would
        choose there (the best slot score for a sharing pod, else the first that fit)."""
        if not demand.is_sharing:
            return first_fit_after(state, demand, nodes)
        free = state.gpu_free[nodes].copy()
        slot = self.sharing_slots(state, demand, nodes)
        rows = np.arange(len(nodes))
        free[rows, slot] -= gpu_need(state, demand)[nodes][rows, slot]
        return free


class SnugfitOracle(Snugfit):
    """The same policy given the whole trace's task mix in advance, exactly as FGD gets it
    (95 % of tasks by count): an oracle bound for the simulator only (the extender cannot know
    future pods)."""

    name = "snugfit-oracle"
    learns_workload = False
