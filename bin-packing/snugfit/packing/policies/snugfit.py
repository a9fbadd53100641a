"""snugfit: FGD's fragmentation measure, learned online and aware of CPU.

Two changes to FGD (Weng et al., ATC '23), each measured in BENCHMARKS.md:

- The target workload is learned from the pods seen so far (``learns_workload``), not read
  from the whole trace: the live extender cannot know future pods, and neither may this. Shapes
  taking several GPUs stay in it however rare, so nodes are kept whole for them.
- Pods that take no GPU share (CPU-only pods and pods taking whole GPUs) are scored with the
  CPU-capped measure: free GPU share that a shape could not fill before the node's CPU runs
  out counts as fragmented. FGD sees CPU only when a node falls below a shape's whole request,
  so it spreads CPU-only pods over nodes at random and strands GPUs behind exhausted CPU;
  this puts them where CPU is plentiful relative to the GPUs left. Sharing pods keep FGD's
  measure, whose choice of partly used GPU the capped one does not improve.

Scores are FGD's published integer scores of the growth, ties broken by the run's fixed node
order, GPUs chosen as FGD chooses them.
"""

from __future__ import annotations

import numpy as np

from snugfit.packing.demand import PodDemand
from snugfit.packing.fragmentation import TargetWorkload
from snugfit.packing.policies.base import PolicyContext
from snugfit.packing.policies.fgd import Fgd


def pod_kind(demand: PodDemand) -> str:
    return "sharing" if demand.is_sharing else "whole" if demand.gpu_count else "cpu-only"


def empty_workload() -> TargetWorkload:
    """No shapes yet: every node scores the same until the first pod is seen."""
    none = np.zeros(0, dtype=np.int64)
    return TargetWorkload(none, none, none, np.zeros((0, 1), dtype=bool), np.zeros(0))


class Snugfit(Fgd):
    name = "snugfit"
    learns_workload = True
    capped_kinds: frozenset[str] = frozenset({"cpu-only", "whole"})  # see pod_kind

    def __init__(self, context: PolicyContext) -> None:
        known = None if self.learns_workload else context.workload
        super().__init__(PolicyContext(context.rng, known or empty_workload()))

    def cpu_capped(self, demand: PodDemand) -> bool:
        return pod_kind(demand) in self.capped_kinds


class SnugfitOracle(Snugfit):
    """The same policy given the whole trace's task mix in advance, exactly as FGD gets it
    (95 % of tasks by count): an oracle bound for the simulator only (the extender cannot know
    future pods)."""

    name = "snugfit-oracle"
    learns_workload = False
