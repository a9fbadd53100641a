"""The cluster as the extender sees it: nodes with their GPU inventories, and the pods that
hold resources on them, as one ClusterState for the packing core.

All methods run on the event loop without awaiting, so each is atomic with respect to request
handlers. A placement is *assumed* at bind before any API call and either confirmed by the pod
watch or forgotten on failure, so no failed bind leaves an allocation behind and two binds in
flight never get the same GPU share.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from snugfit.packing import gpu_choice
from snugfit.packing.cluster import ClusterState, OverCommitError
from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.packing.schedule import placement_on
from snugfit.packing.workload import Shape, shape_of
from snugfit.scheduler.protocol.assignment import read_assignment
from snugfit.scheduler.protocol.inventory import InventoryError, NodeInventory, node_inventory
from snugfit.scheduler.protocol.pod_requests import PodRequestError, pod_demand

log = logging.getLogger("snugfit.cache")
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Held:
    """Resources a pod holds on a node; ``assumed`` until the watch shows the pod bound."""

    node: str
    placement: Placement
    assumed: bool


def pod_uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


class ClusterCache:
    def __init__(
        self,
        model_memory_mib: Mapping[str, int],
        default_model: str = "unknown",
        gpushare_unit_mib: int = 1024,
    ) -> None:
        self.model_memory_mib = dict(model_memory_mib)
        self.default_model = default_model
        self.gpushare_unit_mib = gpushare_unit_mib
        self.inventories: dict[str, NodeInventory] = {}
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> last seen pod object (non-terminal)
        self.held: dict[str, Held] = {}  # uid -> resources held
        self.shapes: Counter[Shape] = Counter()  # pod shapes seen, for fragmentation targets
        self.conflicts = 0  # recorded assignments that no longer fit (counted, logged)
        self.node_errors: dict[str, str] = {}
        self._state: ClusterState | None = None
        self._index: dict[str, int] = {}
        self.nodes_synced = False
        self.pods_synced = False

    # ---- views -------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self.nodes_synced and self.pods_synced

    def state(self) -> ClusterState:
        """The current ClusterState (rebuilt after node changes, updated in place otherwise)."""
        if self._state is None:
            self._rebuild()
        assert self._state is not None
        return self._state

    def node_index(self, name: str) -> int | None:
        return self.indexes().get(name)

    def indexes(self) -> dict[str, int]:
        """Node name -> row of the ClusterState."""
        self.state()
        return self._index

    def demand_of(self, pod: Mapping[str, Any]) -> PodDemand:
        return pod_demand(dict(pod), self.state().models, self.gpushare_unit_mib)

    # ---- nodes -------------------------------------------------------------------------
    def replace_nodes(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        self.inventories.clear()
        self.node_errors.clear()
        for node in nodes:
            self._put_node(node)
        self.nodes_synced = True
        self._state = None

    def upsert_node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        before = self.inventories.get(name)
        self._put_node(node)
        if self.inventories.get(name) != before:
            self._state = None

    def delete_node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        if self.inventories.pop(name, None) is not None:
            self._state = None

    def _put_node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        try:
            self.inventories[name] = node_inventory(node, self.model_memory_mib, self.default_model)
            self.node_errors.pop(name, None)
        except InventoryError as exc:
            self.inventories.pop(name, None)
            self.node_errors[name] = str(exc)
            log.warning("node inventory unreadable", extra={"node": name, "error": str(exc)})

    # ---- pods --------------------------------------------------------------------------
    def replace_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        assumed = {uid: h for uid, h in self.held.items() if h.assumed}
        self.pods.clear()
        self.held.clear()
        self.shapes.clear()
        for pod in pods:
            self._put_pod(pod)
        for uid, h in assumed.items():  # binds still in flight keep their reservation
            if uid not in self.held:
                self.held[uid] = h
        self.pods_synced = True
        self._state = None

    def upsert_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        old = self.held.get(uid)
        self._put_pod(pod)
        new = self.held.get(uid)
        if self._state is not None and old != new:
            if old is not None:
                self._unapply(old)
            if new is not None and not self._apply(uid, new):
                self.held.pop(uid, None)

    def delete_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        self.pods.pop(uid, None)
        held = self.held.pop(uid, None)
        if held is not None and self._state is not None:
            self._unapply(held)

    def _put_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        phase = (pod.get("status") or {}).get("phase")
        node = (pod.get("spec") or {}).get("nodeName")
        if phase in TERMINAL_PHASES:
            self.pods.pop(uid, None)
            self.held.pop(uid, None)
            return
        if uid not in self.pods:
            self._count_shape(pod)
        self.pods[uid] = dict(pod)
        if not node:
            return  # pending: holds nothing, unless a bind is in flight (kept as assumed)
        placement = self._recorded_placement(pod, node)
        if placement is not None:
            self.held[uid] = Held(node, placement, assumed=False)

    def _count_shape(self, pod: Mapping[str, Any]) -> None:
        try:
            demand = pod_demand(dict(pod), (), self.gpushare_unit_mib)
        except PodRequestError:
            return
        if demand.gpu_count:
            self.shapes[shape_of(demand)] += 1

    def _recorded_placement(self, pod: Mapping[str, Any], node: str) -> Placement | None:
        """What a bound pod holds: its recorded GPUs, or first free ones if it has none
        (a pod bound by another scheduler), or CPU and memory only."""
        index = self._index.get(node) if self._state is not None else None
        try:
            demand = pod_demand(dict(pod), (), self.gpushare_unit_mib)
        except PodRequestError:
            demand = PodDemand(0, 0)
        assignment = read_assignment(dict(pod))
        held = self.held.get(pod_uid(pod))
        if assignment is not None and assignment.node == node:
            return Placement(
                -1, assignment.slots, assignment.milli, demand.cpu_milli, demand.memory_mib
            )
        if held is not None and held.node == node:
            return held.placement
        if demand.gpu_count and index is not None:
            state = self.state()
            try:
                return placement_on(
                    state, demand, index, gpu_choice.first_fit(state, demand, index)
                )
            except ValueError:
                pass  # does not fit: count its CPU and memory only
        return Placement(-1, (), (), demand.cpu_milli, demand.memory_mib)

    # ---- bind-time reservations ----------------------------------------------------------
    def assume(self, uid: str, node: str, placement: Placement) -> None:
        """Reserve a placement for a pod being bound; raises OverCommitError if it no longer fits."""
        if uid in self.held:
            raise OverCommitError(f"pod {uid} already holds resources on {self.held[uid].node}")
        held = Held(node, placement, assumed=True)
        self.state().apply(placement)
        self.held[uid] = held

    def forget(self, uid: str) -> None:
        """Drop a reservation whose bind failed (confirmed placements stay)."""
        held = self.held.get(uid)
        if held is not None and held.assumed:
            del self.held[uid]
            if self._state is not None:
                self._unapply(held)

    # ---- state maintenance ----------------------------------------------------------------
    def _rebuild(self) -> None:
        names = sorted(self.inventories)
        self._state = ClusterState.from_nodes([self.inventories[n].spec for n in names])
        self._index = {n: i for i, n in enumerate(names)}
        for uid in list(self.held):
            held = self.held[uid]
            pod = self.pods.get(uid)
            if pod is not None and not held.assumed:
                fresh = self._recorded_placement(pod, held.node)
                held = Held(held.node, fresh or held.placement, held.assumed)
            if not self._apply(uid, held):
                del self.held[uid]

    def _apply(self, uid: str, held: Held) -> bool:
        state = self._state
        index = self._index.get(held.node)
        if state is None or index is None:
            return True  # node unknown (yet): nothing to account on it
        placement = Placement(
            index,
            held.placement.gpu_slots,
            held.placement.gpu_milli,
            held.placement.cpu_milli,
            held.placement.memory_mib,
        )
        try:
            state.apply(placement)
        except (OverCommitError, IndexError) as exc:
            self.conflicts += 1
            log.error("recorded assignment does not fit", extra={"pod": uid, "error": str(exc)})
            return False
        self.held[uid] = Held(held.node, placement, held.assumed)
        return True

    def _unapply(self, held: Held) -> None:
        state = self._state
        index = self._index.get(held.node)
        if state is None or index is None or held.placement.node != index:
            return
        state.remove(held.placement)
