"""Filter, prioritize and bind for one pod at a time, scored by the packing core.

The scoring is the simulator's: the same policy object from the same registry, the same
Scheduler.scores and the same GPU choice. Nothing here re-implements a score.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from snugfit.packing.cluster import ClusterState, OverCommitError
from snugfit.packing.demand import PodDemand
from snugfit.packing.feasibility import Reason, explain, feasibility, reason_message
from snugfit.packing.policies import POLICIES, PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler, placement_on
from snugfit.packing.workload import WorkloadLearner
from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.protocol import resources as r
from snugfit.scheduler.protocol.assignment import GpuAssignment
from snugfit.scheduler.protocol.pod_requests import PodRequestError
from snugfit.scheduler.protocol.wire import (
    MAX_EXTENDER_PRIORITY,
    BindingArgs,
    ExtenderArgs,
    FilterResult,
    HostPriorityEncoder,
    prioritize_request_after,
)

log = logging.getLogger("snugfit.extender")
UNRESOLVABLE = (Reason.GPU_MODEL_NOT_ALLOWED, Reason.TOO_FEW_GPUS)
UNKNOWN_NODE = -1
KNOWN_NODE_LISTS = 4  # node lists remembered: those of the last two filter calls and replies
UNUSED_PREPARED_LIMIT = 8  # prepared prioritize replies left unused in a row before preparing stops
I64 = NDArray[np.int64]
KnownNodeList = tuple[tuple[str, ...], I64, NDArray[np.object_]]  # names, their rows, as array

# Binder: (namespace, name, uid, node, assignment annotation) -> awaitable; raises on failure.
Binder = Callable[[str, str, str, str, str], Awaitable[None]]
PodFetcher = Callable[[str, str], Awaitable[dict[str, Any]]]


class PrioritizeReply(NamedTuple):
    body: bytes  # the encoded HostPriorityList
    prepared: bool  # worked out after the filter call before it (see prepare_prioritize)
    unparsed: bool = False  # the request was known by its bytes, without parsing it


@dataclass(frozen=True)
class PreparedReply:
    """A prioritize reply for the nodes one filter call passed, worked out after that filter
    was answered, and what it holds for: the cluster state as it stood (``changes``), the pod
    (UID and resourceVersion) and the number of pods seen (what the learned workload follows).
    ``reply`` and ``request`` (the prioritize request it answers, byte for byte, b"" where
    that cannot be known) are empty while it waits to be worked out."""

    state: ClusterState
    key: tuple[Any, ...]
    names: tuple[str, ...]
    demand: PodDemand
    rows: I64
    filter_args: ExtenderArgs
    reply: bytes = b""
    request: bytes = b""


@dataclass(frozen=True)
class Evaluation:
    """One request checked against the cluster."""

    state: ClusterState
    demand: PodDemand
    rows: I64
    names: NDArray[np.object_]
    codes: I64


def pod_version(state: ClusterState, pod: dict[str, Any]) -> tuple[Any, ...] | None:
    """The pod (UID, resourceVersion) and the cluster (its changes) an answer about the pod
    was worked out for; None for a pod without UID, whose answers are not kept."""
    meta = pod.get("metadata") or {}
    uid = meta.get("uid")
    return None if uid is None else (uid, meta.get("resourceVersion"), state.changes)


def extender_scores(scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """Policy scores mapped onto the extender range 0..10, keeping the best at 10."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = float(scores.min()), float(scores.max())
    if hi == lo:
        return np.full(len(scores), MAX_EXTENDER_PRIORITY, dtype=np.int64)
    scaled = np.floor((scores - lo) * MAX_EXTENDER_PRIORITY / (hi - lo) + 0.5)
    return scaled.astype(np.int64)


class Extender:
    def __init__(self, config: ExtenderConfig, cache: ClusterCache) -> None:
        self.config = config
        self.cache = cache
        self.rng = np.random.default_rng(config.seed)
        self._scheduler: Scheduler | None = None
        self.learner = WorkloadLearner(config.workload_refresh_pods)
        self._state_seen: ClusterState | None = None
        self._rows_known: list[KnownNodeList] = []
        self._rows_state: ClusterState | None = None
        self._checked: tuple[ClusterState, tuple[Any, ...] | None, PodDemand, I64] | None = None
        self._encoded_state: ClusterState | None = None
        self._host_encoder = HostPriorityEncoder(())
        self._to_prepare: PreparedReply | None = None
        self._prepared: PreparedReply | None = None
        self._unused_prepared = 0

    # ---- the policy ------------------------------------------------------------------------
    def scheduler(self) -> Scheduler:
        """The policy, rebuilt (with the target workload learned from the pods seen so far)
        on first use, when the cluster's nodes change, and as pods are seen: on the
        simulator's schedule (``next_refresh``: after every pod while 16 or fewer are seen,
        then as their number grows by an eighth, at least every ``workload_refresh_pods``)."""
        state = self.cache.state()
        stale = self._scheduler is None or state is not self._state_seen
        workload = self.learner.refresh(
            self.cache.shapes,
            self.cache.pods_seen,
            state.models,
            keep_multi_gpu=POLICIES[self.config.policy].learns_workload,
            force=stale,
            memory=self.cache.shape_memory,
        )
        if stale:
            assert workload is not None
            policy = make_policy(self.config.policy, PolicyContext(self.rng, workload))
            self._scheduler, self._state_seen = Scheduler(policy, self.rng), state
        assert self._scheduler is not None
        if workload is not None:
            self._scheduler.retarget(workload)  # keeps the node order for ties
        return self._scheduler

    # ---- filter and prioritize -------------------------------------------------------------
    def _evaluate(self, args: ExtenderArgs) -> Evaluation:
        """State, demand, the requested nodes' rows (-1 if unknown), their names as an array,
        and reason codes (-1 if unknown, 0 where the pod fits)."""
        state = self.cache.state()
        rows, names = self._rows(state, args.node_names)
        demand, reasons = self._check(state, args.pod)
        if state.num_nodes == 0:
            return Evaluation(state, demand, rows, names, np.full(len(rows), UNKNOWN_NODE))
        codes = np.where(rows >= 0, reasons[np.maximum(rows, 0)], UNKNOWN_NODE)
        return Evaluation(state, demand, rows, names, codes)

    def _check(self, state: ClusterState, pod: dict[str, Any]) -> tuple[PodDemand, I64]:
        """The pod's demand and the reason code of every node. kube-scheduler asks filter and
        then prioritize about the same pod; the answer is kept until the cluster changes."""
        key = pod_version(state, pod)
        last = self._checked
        if key is not None and last is not None and last[0] is state and last[1] == key:
            return last[2], last[3]
        demand = self.cache.demand_of(pod)
        reasons = (
            feasibility(state, demand).astype(np.int64)
            if state.num_nodes
            else np.zeros(0, np.int64)
        )
        self._checked = (state, key, demand, reasons)
        return demand, reasons

    def _rows(self, state: ClusterState, names: tuple[str, ...]) -> tuple[I64, NDArray[np.object_]]:
        """Rows of the named nodes (-1 if unknown) and the names as an array. kube-scheduler
        filters nodes in parallel and sends filter the feasible ones in the order they
        finished, a new order for each pod, and then sends prioritize the list filter
        returned. The last few lists asked about and returned by filter are remembered until
        the nodes change, and found again by comparing names, which costs a fraction of
        looking each one up (hashing every name just read, then a random read of the index
        for each)."""
        for known in self._lists_for(state):
            if len(known[0]) == len(names) and known[0] == names:
                return known[1], known[2]
        index = self.cache.indexes()
        rows = np.fromiter(map(index.get, names, repeat(UNKNOWN_NODE)), np.int64, len(names))
        array = np.array(names, dtype=object)
        self._remember(state, names, rows, array)
        return rows, array

    def _remember(
        self, state: ClusterState, names: Sequence[str], rows: I64, array: NDArray[np.object_]
    ) -> tuple[str, ...]:
        """Keep a node list and its rows (the last few), for a request that sends it again."""
        known = (tuple(names), rows, array)
        self._rows_known = [known, *self._lists_for(state)[: KNOWN_NODE_LISTS - 1]]
        return known[0]

    def _lists_for(self, state: ClusterState) -> list[KnownNodeList]:
        """The remembered node lists, forgotten when the nodes (and so their rows) change."""
        if state is not self._rows_state:
            self._rows_known, self._rows_state = [], state
        return self._rows_known

    def filter(self, args: ExtenderArgs) -> FilterResult:
        self._to_prepare = None
        try:
            e = self._evaluate(args)
        except PodRequestError as exc:
            return FilterResult(error=f"snugfit: pod {args.pod_key}: {exc}")
        result = FilterResult(nodes=[] if args.nodes is not None else None)
        for code in np.unique(e.codes[e.codes != Reason.FITS]):
            rejected = e.names[e.codes == code].tolist()
            if code == UNKNOWN_NODE:
                for name in rejected:
                    why = self.cache.node_errors.get(name, "node not yet known to snugfit")
                    result.failed[name] = f"snugfit: {why}"
                continue
            reason = Reason(int(code))
            message = f"snugfit: {reason_message(e.demand, reason)}"
            target = result.failed_unresolvable if reason in UNRESOLVABLE else result.failed
            target.update(dict.fromkeys(rejected, message))
        fitting = np.flatnonzero(e.codes == Reason.FITS)
        if self.config.mode == "narrow" and len(fitting) > 1:
            scores = self.scheduler().scores(e.state, e.demand, e.rows[fitting])
            best = scores.max()
            message = "snugfit: another node packs this pod better"
            result.failed.update(dict.fromkeys(e.names[fitting[scores < best]].tolist(), message))
            fitting = fitting[scores == best]
        passed = e.names[fitting]
        result.node_names = passed.tolist()
        passed_names = self._remember(e.state, result.node_names, e.rows[fitting], passed)
        if args.nodes is not None:
            result.nodes = [args.nodes[p] for p in fitting]
        key = self._reply_key(e.state, args.pod)
        if len(fitting) > 1 and key is not None and self._unused_prepared < UNUSED_PREPARED_LIMIT:
            self._to_prepare = PreparedReply(
                e.state, key, passed_names, e.demand, e.rows[fitting], args
            )
        return result

    # ---- the prioritize reply, prepared between filter and prioritize -----------------------
    def _reply_key(self, state: ClusterState, pod: dict[str, Any]) -> tuple[Any, ...] | None:
        """What a prioritize reply depends on besides its nodes; None for a pod without UID."""
        version = pod_version(state, pod)
        return None if version is None else (*version, self.cache.pods_seen)

    def prepare_prioritize(self) -> bool:
        """Work out the prioritize reply for the nodes the last filter call passed. The server
        calls this once that filter's reply is on its way, so the scoring is done while
        kube-scheduler runs its own score plugins, and the prioritize that follows (for the
        same pod, the same nodes and an unchanged cluster) is answered at once. Stops after
        UNUSED_PREPARED_LIMIT replies in a row go unused (a configuration without a
        prioritize verb), until prioritize is called again. Returns whether a reply was made."""
        job, self._to_prepare = self._to_prepare, None
        if job is None:
            return False
        if self._prepared is not None:
            self._unused_prepared += 1
        self._prepared = replace(
            job,
            reply=self._reply(job.state, job.demand, job.rows),
            request=prioritize_request_after(job.filter_args, job.names),
        )
        return True

    def prioritize_unparsed(self, body: bytes) -> PrioritizeReply | None:
        """The prepared reply for a request ``body`` equal byte for byte to the one it was
        prepared for, while the cluster is as it was; None otherwise (parse the request and
        call prioritize). Comparing the bytes costs a fraction of parsing 5,000 names."""
        prepared = self._prepared
        if prepared is None or not prepared.request or body != prepared.request:
            return None
        reply = self._take_prepared(prepared.names, prepared.filter_args.pod)
        return None if reply is None else PrioritizeReply(reply, True, True)

    def _take_prepared(self, names: tuple[str, ...], pod: dict[str, Any]) -> bytes | None:
        """The prepared reply if it was made for these nodes and this pod, as the cluster
        stands now."""
        prepared, self._prepared = self._prepared, None
        self._to_prepare = None  # a preparation that has not run yet comes too late
        self._unused_prepared = 0
        if prepared is None or len(prepared.names) != len(names):
            return None
        state = self.cache.state()
        if state is not prepared.state or self._reply_key(state, pod) != prepared.key:
            return None
        return prepared.reply if prepared.names == names else None

    def prioritize(self, args: ExtenderArgs) -> PrioritizeReply:
        """The HostPriorityList, encoded: scores 1..10 for the nodes where the pod fits and
        that score above the lowest; the nodes left out get 0 from kube-scheduler, which is
        what they would get here."""
        prepared = self._take_prepared(args.node_names, args.pod)
        if prepared is not None:
            return PrioritizeReply(prepared, True)
        try:
            e = self._evaluate(args)
        except PodRequestError:
            return PrioritizeReply(b"[]", False)
        return PrioritizeReply(
            self._reply(e.state, e.demand, e.rows[e.codes == Reason.FITS]), False
        )

    def _reply(self, state: ClusterState, demand: PodDemand, rows: I64) -> bytes:
        """The encoded scores of the nodes at ``rows``, where the pod fits."""
        if len(rows) == 0:
            return b"[]"
        scaled = extender_scores(self.scheduler().scores(state, demand, rows))
        positive = scaled > 0
        return self._encoder(state).encode(rows[positive], scaled[positive])

    def _encoder(self, state: ClusterState) -> HostPriorityEncoder:
        """Replies by node row, made anew when the nodes change."""
        if self._encoded_state is not state:
            self._host_encoder = HostPriorityEncoder(state.node_names)
            self._encoded_state = state
        return self._host_encoder

    # ---- bind ------------------------------------------------------------------------------
    async def bind(self, args: BindingArgs, fetch_pod: PodFetcher, bind_pod: Binder) -> str:
        """Choose GPUs, reserve them, then bind the pod with a Binding that records them.
        Returns an error message, or "" on success; a failure leaves no reservation behind."""
        pod = self.cache.pods.get(args.pod_uid)
        if pod is None:
            try:
                pod = await fetch_pod(args.pod_namespace, args.pod_name)
            except Exception as exc:
                return f"snugfit: cannot read pod {args.pod_namespace}/{args.pod_name}: {exc}"
            if (pod.get("metadata") or {}).get("uid") != args.pod_uid:
                return (
                    f"snugfit: pod {args.pod_namespace}/{args.pod_name} was replaced (UID changed)"
                )
        index = self.cache.node_index(args.node)
        if index is None:
            return f"snugfit: node {args.node} is not known"
        try:
            demand = self.cache.demand_of(pod)
        except PodRequestError as exc:
            return f"snugfit: pod {args.pod_namespace}/{args.pod_name}: {exc}"
        state = self.cache.state()
        reason = Reason(int(feasibility(state, demand)[index]))
        if reason != Reason.FITS:
            return f"snugfit: pod no longer fits on {args.node}: {explain(state, demand, index, reason)}"
        slots = self.scheduler().policy.choose_gpus(state, demand, index)
        placement = placement_on(state, demand, index, slots)
        try:
            self.cache.assume(args.pod_uid, args.node, placement, demand)
        except OverCommitError as exc:
            return f"snugfit: cannot reserve GPUs on {args.node}: {exc}"
        devices = self.cache.inventories[args.node].devices
        uuids = tuple(devices[s].uuid if s < len(devices) else "" for s in slots)
        assignment = GpuAssignment(args.node, slots, placement.gpu_milli, uuids)
        try:
            await bind_pod(
                args.pod_namespace, args.pod_name, args.pod_uid, args.node, assignment.encode()
            )
        except Exception as exc:
            self.cache.forget(args.pod_uid)
            log.warning(
                "bind failed; reservation released",
                extra={
                    "pod": f"{args.pod_namespace}/{args.pod_name}",
                    "node": args.node,
                    "error": str(exc),
                },
            )
            return f"snugfit: bind of {args.pod_namespace}/{args.pod_name} to {args.node} failed: {exc}"
        log.info(
            "bound",
            extra={
                "pod": f"{args.pod_namespace}/{args.pod_name}",
                "node": args.node,
                "gpus": list(slots),
                "milli": list(placement.gpu_milli),
            },
        )
        return ""


def binding(namespace: str, name: str, uid: str, node: str, assignment: str) -> dict[str, Any]:
    """The Binding that puts the pod on the node and, in the same write, records its GPUs: the
    API server copies a Binding's annotations onto the pod, and refuses a Binding whose UID is
    not the pod's (a pod deleted and recreated under the same name since it was read)."""
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace, "uid": uid,
                     "annotations": {r.ASSIGNMENT_ANNOTATION: assignment}},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }  # fmt: skip
