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
from dataclasses import dataclass, replace
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
    """What a pod holds on a node: its GPUs as recorded (``slots`` and ``milli``; None for a
    pod bound without a record, which gets the first free GPUs that fit), plus CPU and memory.
    ``assumed`` until the watch shows the pod bound."""

    node: str
    demand: PodDemand
    slots: tuple[int, ...] | None
    milli: tuple[int, ...]
    assumed: bool


def pod_uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


class ClusterCache:
    def __init__(
        self, model_memory_mib: Mapping[str, int], default_model: str = "unknown",
        gpushare_unit_mib: int = 1024,
    ) -> None:  # fmt: skip
        self.model_memory_mib = dict(model_memory_mib)
        self.default_model = default_model
        self.gpushare_unit_mib = gpushare_unit_mib
        self.inventories: dict[str, NodeInventory] = {}
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> last seen pod object (non-terminal)
        self.held: dict[str, Held] = {}  # uid -> what the pod holds (or is being bound to)
        self.applied: dict[str, Placement] = {}  # uid -> what is counted in the state
        self.conflicts: set[str] = set()  # pods whose recorded GPUs do not fit (logged once)
        self.shapes: Counter[Shape] = Counter()  # pod shapes seen, for fragmentation targets
        self.shape_memory: Counter[Shape] = Counter()  # their host memory (MiB), summed
        self.pods_seen = 0  # pods counted in shapes
        self.node_errors: dict[str, str] = {}
        self._state: ClusterState | None = None
        self._index: dict[str, int] = {}
        self._models: tuple[str, ...] | None = None  # GPU models of the inventories, sorted
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
        self._models = None
        self.node_errors.clear()
        for node in nodes:
            self._put_node(node)
        self.nodes_synced = True
        self._state = None

    def upsert_node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        before = self.inventories.get(name)
        self._put_node(node)
        if self.inventories.get(name) != before:  # status-only updates keep both
            self._state = self._models = None

    def delete_node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        if self.inventories.pop(name, None) is not None:
            self._state = self._models = None

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
        in_flight = {uid: h for uid, h in self.held.items() if h.assumed}
        self.pods.clear()
        self.held.clear()
        self.conflicts.clear()
        self.shapes.clear()
        self.shape_memory.clear()
        self.pods_seen = 0
        for pod in pods:
            self._put_pod(pod)
        for uid, h in in_flight.items():  # binds still in flight keep their reservation
            self.held.setdefault(uid, h)
        self.pods_synced = True
        self._state = None

    def upsert_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        old = self.held.get(uid)
        self._put_pod(pod)
        if self._state is not None and self.held.get(uid) != old:
            self._unapply(uid)
            self._apply(uid)

    def delete_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        self.pods.pop(uid, None)
        self.held.pop(uid, None)
        self.conflicts.discard(uid)
        self._release(uid)

    def _put_pod(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        phase = (pod.get("status") or {}).get("phase")
        node = (pod.get("spec") or {}).get("nodeName")
        if phase in TERMINAL_PHASES:
            self.pods.pop(uid, None)
            self.held.pop(uid, None)
            self.conflicts.discard(uid)
            self._release(uid)
            return
        demand = self._demand(pod)
        if uid not in self.pods:
            shape = shape_of(demand)
            self.shapes[shape] += 1
            self.shape_memory[shape] += demand.memory_mib
            self.pods_seen += 1
        self.pods[uid] = dict(pod)
        held = self.held.get(uid)
        if not node:
            return  # pending: holds nothing, unless a bind is in flight (kept as assumed)
        assignment = read_assignment(dict(pod))
        holding = replace(demand, allowed_models=None)
        if assignment is not None and assignment.node == node:
            self.held[uid] = Held(node, holding, assignment.slots, assignment.milli, False)
        elif held is not None and held.node == node:
            self.held[uid] = replace(held, assumed=False)
        else:
            self.held[uid] = Held(node, holding, None, (), False)

    def _known_models(self) -> tuple[str, ...]:
        """The GPU models of the known nodes, kept until a node changes: a pod event must not
        cost a pass over every node's GPUs."""
        if self._models is None:
            inventories = self.inventories.values()
            self._models = tuple(sorted({g.model for inv in inventories for g in inv.spec.gpus}))
        return self._models

    def _demand(self, pod: Mapping[str, Any]) -> PodDemand:
        try:
            return pod_demand(dict(pod), self._known_models(), self.gpushare_unit_mib)
        except PodRequestError:
            return PodDemand(0, 0)

    # ---- bind-time reservations ----------------------------------------------------------
    def assume(self, uid: str, node: str, placement: Placement, demand: PodDemand) -> None:
        """Reserve a placement for a pod being bound; OverCommitError if it no longer fits."""
        if uid in self.applied:
            raise OverCommitError(f"pod {uid} already holds resources on {self.held[uid].node}")
        self.state().apply(placement)
        holding = replace(demand, allowed_models=None)
        self.held[uid] = Held(node, holding, placement.gpu_slots, placement.gpu_milli, True)
        self.applied[uid] = placement

    def forget(self, uid: str) -> None:
        """Drop a reservation whose bind failed (placements the watch confirmed stay)."""
        held = self.held.get(uid)
        if held is not None and held.assumed:
            del self.held[uid]
            self._release(uid)

    # ---- state maintenance ----------------------------------------------------------------
    def _rebuild(self) -> None:
        names = sorted(self.inventories)
        self._state = ClusterState.from_nodes([self.inventories[n].spec for n in names])
        # Keys copied so that they lie side by side in memory: a filter call looks every node's
        # name up, and each lookup reads the key it finds, which costs a cache miss per node
        # where the keys are the names parsed out of each Node object, scattered among them.
        self._index = {n.encode().decode(): i for i, n in enumerate(names)}
        self.applied.clear()
        # recorded GPUs first, so that pods without a record take what is left
        for uid in sorted(self.held, key=lambda u: (self.held[u].slots is None, u)):
            self._apply(uid)

    def _placement(self, held: Held, index: int) -> Placement:
        demand = held.demand
        if held.slots is not None:
            return Placement(index, held.slots, held.milli, demand.cpu_milli, demand.memory_mib)
        state = self.state()
        if demand.gpu_count:
            try:
                return placement_on(
                    state, demand, index, gpu_choice.first_fit(state, demand, index)
                )
            except ValueError:
                pass  # its GPUs do not fit: the apply below reports the conflict
        return Placement(index, (), (), demand.cpu_milli, demand.memory_mib)

    def _apply(self, uid: str) -> None:
        held = self.held.get(uid)
        index = None if held is None else self._index.get(held.node)
        if held is None or index is None or self._state is None or uid in self.applied:
            return  # nothing held, or on a node not known (yet)
        placement = self._placement(held, index)
        try:
            if held.demand.gpu_count and not placement.gpu_slots:
                raise OverCommitError("no free GPUs for a pod bound without a GPU record")
            self._state.apply(placement)
        except (OverCommitError, IndexError) as exc:
            if uid not in self.conflicts:
                log.error(
                    "pod's GPUs do not fit",
                    extra={"pod": uid, "node": held.node, "error": str(exc)},
                )
            self.conflicts.add(uid)
            return
        self.conflicts.discard(uid)
        self.applied[uid] = placement

    def _release(self, uid: str) -> None:
        """Stop counting a pod; pods whose GPUs did not fit are tried again, as they may now."""
        if self._state is None:
            return
        self._unapply(uid)
        for other in sorted(self.conflicts):
            self._apply(other)

    def _unapply(self, uid: str) -> None:
        placement = self.applied.pop(uid, None)
        if placement is not None and self._state is not None:
            self._state.remove(placement)
