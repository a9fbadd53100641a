"""What the simulator replays: nodes and pods, with optional arrival and departure times."""

from __future__ import annotations

from dataclasses import dataclass

from snugfit.packing.cluster import NodeSpec
from snugfit.packing.demand import PodDemand


@dataclass(frozen=True)
class TracePod:
    name: str
    demand: PodDemand
    created: float | None = None  # seconds from the trace origin
    deleted: float | None = None


@dataclass(frozen=True)
class Trace:
    """A cluster and a workload: where they came from, for reports."""

    nodes: tuple[NodeSpec, ...]
    pods: tuple[TracePod, ...]
    nodes_source: str
    pods_source: str
