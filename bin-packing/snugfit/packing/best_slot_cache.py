"""The GPU a sharing pod takes on each node, per pod shape, kept until the node changes.

Scoring a sharing pod already finds its best GPU on every node it scores; the policy asks for
that GPU again when it looks one arrival ahead, when it weighs the hosts it reserves, and when
it binds. What a node-local policy chooses on a node depends on that node and the pod alone,
so the choice stays valid until the node's version moves (or the policy is retargeted, which
makes a new cache).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState
from snugfit.packing.demand import PodDemand

I64 = NDArray[np.int64]
UNSEEN = -1


class BestSlotCache:
    def __init__(self, max_shapes: int = 512) -> None:
        self.max_shapes = max_shapes
        self._state: ClusterState | None = None
        self._entries: OrderedDict[PodDemand, tuple[I64, I64]] = OrderedDict()

    def _entry(self, state: ClusterState, demand: PodDemand) -> tuple[I64, I64]:
        """(versions, slots) over every node for ``demand``; versions UNSEEN where not known."""
        if state is not self._state:
            self._state, self._entries = state, OrderedDict()
        entry = self._entries.get(demand)
        if entry is None:
            entry = (
                np.full(state.num_nodes, UNSEEN, np.int64),
                np.zeros(state.num_nodes, np.int64),
            )
            self._entries[demand] = entry
            if len(self._entries) > self.max_shapes:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(demand)
        return entry

    def slots(
        self, state: ClusterState, demand: PodDemand, nodes: I64, choose: Callable[[I64], I64]
    ) -> I64:
        """(nodes,): the GPU the pod takes on each node; ``choose(nodes)`` is asked only for
        the nodes that changed since their choice was kept."""
        versions, kept = self._entry(state, demand)
        stale = nodes[versions[nodes] != state.version[nodes]]
        if len(stale):
            kept[stale] = choose(stale)
            versions[stale] = state.version[stale]
        result: I64 = kept[nodes]
        return result

    def keep(self, state: ClusterState, demand: PodDemand, nodes: I64, slots: I64) -> None:
        """Keep choices made elsewhere (while scoring) for the nodes as they are now."""
        versions, kept = self._entry(state, demand)
        kept[nodes] = slots
        versions[nodes] = state.version[nodes]
