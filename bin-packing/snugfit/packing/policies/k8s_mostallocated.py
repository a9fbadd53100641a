"""Model of kube-scheduler's built-in bin packing: NodeResourcesFit MostAllocated.

As the upstream bin-packing guide configures it: cpu, memory and the GPU extended resource,
weight 1 each (the GPU counts only for pods that request GPUs), with BalancedAllocation still
enabled and the same node sampling as the default profile.
"""

from __future__ import annotations

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand
from snugfit.packing.policies.base import F64, I64
from snugfit.packing.policies.k8s_default import K8sDefault
from snugfit.packing.policies.k8s_resources import balanced_allocation, most_allocated


class K8sMostAllocated(K8sDefault):
    name = "k8s-mostallocated"

    def score(self, state: ClusterState, demand: PodDemand, nodes: I64) -> F64:
        fit = most_allocated(state, demand, nodes, score_gpus=True)
        return (fit + balanced_allocation(state, demand, nodes)).astype(float)
