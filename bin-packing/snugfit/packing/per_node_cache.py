"""Values per key (a pod shape, or a measure) and node, kept until the node changes.

A node-local policy's score of a node, the GPU a sharing pod takes there, and a node's
fragmentation under one target workload depend on that node and the key alone, so they stay
valid until the node's version moves; a new cluster state object starts afresh, and a
retargeted policy makes new caches. Entries are kept for the ``max_shapes`` keys asked about
most recently.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState

I64 = NDArray[np.int64]
S = TypeVar("S", np.int64, np.float64)
UNSEEN = -1


class PerNodeCache(Generic[S]):
    def __init__(self, dtype: type[S], max_shapes: int = 512) -> None:
        self.dtype: type[S] = dtype
        self.max_shapes = max_shapes
        self._state: ClusterState | None = None
        self._entries: OrderedDict[Hashable, tuple[I64, NDArray[S]]] = OrderedDict()

    def _entry(self, state: ClusterState, key: Hashable) -> tuple[I64, NDArray[S]]:
        """(versions, values) over every node for ``key``; versions UNSEEN where not known."""
        if state is not self._state:
            self._state, self._entries = state, OrderedDict()
        entry = self._entries.get(key)
        if entry is None:
            entry = (
                np.full(state.num_nodes, UNSEEN, np.int64),
                np.zeros(state.num_nodes, self.dtype),
            )
            self._entries[key] = entry
            if len(self._entries) > self.max_shapes:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry

    def values(
        self,
        state: ClusterState,
        key: Hashable,
        nodes: I64,
        compute: Callable[[I64], NDArray[S]],
    ) -> NDArray[S]:
        """(nodes,): the value of each node; ``compute(nodes)`` is asked only for the nodes
        that changed since their value was kept."""
        versions, kept = self._entry(state, key)
        stale = nodes[versions[nodes] != state.version[nodes]]
        if len(stale):
            kept[stale] = compute(stale)
            versions[stale] = state.version[stale]
        result: NDArray[S] = kept[nodes]
        return result

    def keep(self, state: ClusterState, key: Hashable, nodes: I64, values: NDArray[S]) -> None:
        """Keep values found elsewhere (a GPU choice made while scoring) for the nodes as they
        are now."""
        versions, kept = self._entry(state, key)
        kept[nodes] = values
        versions[nodes] = state.version[nodes]
