"""The one registry of policies by name, used by the simulator and the extender alike."""

from __future__ import annotations

from snugfit.packing.policies.base import Policy, PolicyContext
from snugfit.packing.policies.bestfit import BestFit
from snugfit.packing.policies.clustering import Clustering
from snugfit.packing.policies.dotprod import DotProd
from snugfit.packing.policies.fgd import Fgd
from snugfit.packing.policies.k8s_default import K8sDefault
from snugfit.packing.policies.k8s_mostallocated import K8sMostAllocated
from snugfit.packing.policies.packing import Packing
from snugfit.packing.policies.random import RandomPolicy
from snugfit.packing.policies.snugfit import Snugfit, SnugfitOracle

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        RandomPolicy,
        DotProd,
        Clustering,
        Packing,
        BestFit,
        Fgd,
        K8sDefault,
        K8sMostAllocated,
        Snugfit,
        SnugfitOracle,
    )
}

# Policies that know the whole trace in advance: simulator bounds, never for the live extender.
ORACLES = frozenset({SnugfitOracle.name})

# The policies of the published benchmark, in the order of its result table.
PUBLISHED = ("random", "dotprod", "clustering", "packing", "bestfit", "fgd")


def make_policy(name: str, context: PolicyContext) -> Policy:
    """A fresh policy instance (policies may keep per-run state such as a sampling cursor)."""
    try:
        factory = POLICIES[name]
    except KeyError:
        known = ", ".join(sorted(POLICIES))
        raise ValueError(f"unknown policy {name!r}; known policies: {known}") from None
    return factory(context)
