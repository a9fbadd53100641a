"""Model of stock kube-scheduler: LeastAllocated + BalancedAllocation, node sampling.

Upstream adds TaintToleration (constant 300 without PreferNoSchedule taints) and plugins that
skip plain pods; only LeastAllocated + BalancedAllocation order the nodes, so only they are
modelled. GPUs go to the first free slots, as a device plugin hands them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import F64, I64, Policy, PolicyContext
from snugfit.packing.policies.k8s_resources import (
    NodeSampler,
    balanced_allocation,
    least_allocated,
)


@dataclass(frozen=True)
class K8sArgs:
    """percentage_of_nodes_to_score as in KubeSchedulerConfiguration (0 = adaptive)."""

    percentage_of_nodes_to_score: int = 0


class K8sDefault(Policy):
    name = "k8s-default"
    tie_break = "uniform"

    def __init__(self, context: PolicyContext, args: K8sArgs | None = None) -> None:
        super().__init__(context)
        self.args = args or K8sArgs()
        self.sampler = NodeSampler(self.args.percentage_of_nodes_to_score)

    def candidates(self, state: ClusterState, feasible: I64) -> I64:
        return self.sampler.sample(state.num_nodes, feasible)

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        total = least_allocated(state, demand, nodes) + balanced_allocation(state, demand, nodes)
        return total.astype(float)

    def choose_gpus(self, state: ClusterState, demand: PodDemand, node: int) -> tuple[int, ...]:
        return gpu_choice.first_fit(state, demand, node)
