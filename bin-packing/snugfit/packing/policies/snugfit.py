"""snugfit: FGD's measure, learned online, aware of CPU, with a plan for shares and models.

Four changes to FGD (Weng et al., ATC '23), each measured in BENCHMARKS.md:

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

Scores are FGD's published integer scores of the growth. On-plan GPUs of sharing pods, and
for whole-GPU pods nodes that keep the waiting CPU, are lifted above every other score; nodes
with GPUs of a spare model above those. Ties go to the run's fixed node order; GPUs are
chosen by the same scores.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand, gpu_need
from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.model_reserve import ModelReserve
from snugfit.packing.policies.base import F64, I64, PolicyContext
from snugfit.packing.policies.fgd import Fgd
from snugfit.packing.share_plan import SharePlan, share_plan

PLAN_LIFT = 101.0  # above every published score (0..100): on-plan GPUs first
MODEL_LIFT = 1000.0  # above every lifted score: spare models first


def pod_kind(demand: PodDemand) -> str:
    return "sharing" if demand.is_sharing else "whole" if demand.gpu_count else "cpu-only"


def node_use(state: ClusterState, demand: PodDemand, nodes: I64) -> tuple[I64, I64, I64]:
    """Share used and capacity of each GPU of ``nodes``, and their CPU left after the pod."""
    capacity = state.gpu_capacity[nodes]
    return capacity - state.gpu_free[nodes], capacity, state.cpu_free[nodes] - demand.cpu_milli


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

    def __init__(self, context: PolicyContext) -> None:
        known = None if self.learns_workload else context.workload
        super().__init__(PolicyContext(context.rng, known or empty_workload()))
        self.plan = self._plan_for(self.workload)
        self.reserve = ModelReserve(self.workload)

    def _plan_for(self, workload: TargetWorkload) -> SharePlan:
        return share_plan(workload) if self.follows_share_plan else SharePlan.empty()

    def retarget(self, workload: TargetWorkload) -> None:
        super().retarget(workload)
        self.plan = self._plan_for(workload)
        self.reserve = ModelReserve(workload)

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
        preferred = (
            self.reserve.preferred_nodes(state, demand, nodes) if self.reserves_models else None
        )
        if preferred is None:
            return scores
        result: F64 = np.where(preferred, scores + MODEL_LIFT, scores)
        return result


class SnugfitOracle(Snugfit):
    """The same policy given the whole trace's task mix in advance, exactly as FGD gets it
    (95 % of tasks by count): an oracle bound for the simulator only (the extender cannot know
    future pods)."""

    name = "snugfit-oracle"
    learns_workload = False
