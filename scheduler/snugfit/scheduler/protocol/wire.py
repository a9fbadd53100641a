"""The kube-scheduler extender wire format (k8s.io/kube-scheduler/extender/v1).

Top-level keys are Go's capitalised field names (the scheduler's decoder also accepts other
cases); nested Kubernetes objects use their usual camelCase keys. Prioritize replies are a bare
JSON array of {"Host", "Score"} with integer scores in 0..10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

MIN_EXTENDER_PRIORITY = 0
MAX_EXTENDER_PRIORITY = 10
SCORE_END = [b',"Score":%d}' % s for s in range(MAX_EXTENDER_PRIORITY + 1)]  # ends a host's entry
SCORE_SEPARATOR = [end + b"," for end in SCORE_END]  # ends one entry and leads to the next

NODE_NAMES_MEMBER = b',"NodeNames":'  # how Go writes the last member of ExtenderArgs
JsonObject = dict[str, Any]


class WireError(ValueError):
    """A request that does not follow the protocol; the message says what is wrong."""


def _get(obj: JsonObject, key: str) -> Any:
    """Case-insensitive key lookup, as Go's JSON decoder does for these structs."""
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return v
    return None


def _object(value: Any, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a JSON object")
    return value


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise WireError(f"{what} must be a non-empty string")
    return value


@dataclass(frozen=True)
class ExtenderArgs:
    """Filter and prioritize requests: the pod and either node names or full Node objects."""

    pod: JsonObject
    node_names: tuple[str, ...]
    nodes: tuple[JsonObject, ...] | None  # full Node objects when not nodeCacheCapable
    body: bytes = b""  # the request as received, when it sent node names

    @property
    def pod_key(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


def parse_extender_args(body: Any, raw: bytes = b"") -> ExtenderArgs:
    """The request parsed from JSON ``body``; ``raw``, the bytes it was read from, is kept with
    node-names requests (see prioritize_request_after)."""
    args = _object(body, "request body")
    pod = _object(_get(args, "Pod"), "Pod")
    _object(pod.get("metadata"), "Pod.metadata")
    names = _get(args, "NodeNames")
    node_list = _get(args, "Nodes")
    if names is not None:
        if not isinstance(names, list):
            raise WireError("NodeNames must be a list of strings")
        node_names = tuple(names)
        try:
            "".join(node_names)  # refuses anything but strings, cheaper than checking each type
        except TypeError:
            raise WireError("NodeNames[] must be a non-empty string") from None
        if "" in node_names:
            raise WireError("NodeNames[] must be a non-empty string")
        return ExtenderArgs(pod, node_names, None, raw)
    if node_list is not None:
        items = _object(node_list, "Nodes").get("items")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise WireError("Nodes.items must be a list")
        nodes = tuple(_object(n, "Nodes.items[]") for n in items)
        node_names = tuple(
            _string(_object(n.get("metadata"), "Nodes.items[].metadata").get("name"), "node name")
            for n in nodes
        )
        return ExtenderArgs(pod, node_names, nodes)
    raise WireError("request has neither NodeNames nor Nodes")


def prioritize_request_after(filter_args: ExtenderArgs, passed: Sequence[str]) -> bytes:
    """The bytes kube-scheduler sends to prioritize after the filter request ``filter_args``
    whose reply passed ``passed``, or b"" where they cannot be known. Go encodes ExtenderArgs
    with its fields in order, {"Pod":...,"Nodes":null,"NodeNames":[...]}, and kube-scheduler
    sends the same Pod object both times, so the prioritize request is the filter request with
    the node names replaced (seen on kube-scheduler v1.34.4: tests/benchmarks/
    scheduler_node_order.py). That holds only where the filter request ends in the very names
    it was parsed to, encoded here as Go encodes them (no character that Go escapes and orjson
    does not, as in every valid node name): then its last member is the top-level NodeNames,
    and a request equal to the result byte for byte says what this one would, for ``passed``."""
    body = filter_args.body
    tail = orjson.dumps(filter_args.node_names) + b"}"
    split = len(body) - len(tail) - len(NODE_NAMES_MEMBER)
    if not body.endswith(tail) or body[split : split + len(NODE_NAMES_MEMBER)] != NODE_NAMES_MEMBER:
        return b""
    return body[:split] + NODE_NAMES_MEMBER + orjson.dumps(tuple(passed)) + b"}"


@dataclass(frozen=True)
class BindingArgs:
    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str


def parse_binding_args(body: Any) -> BindingArgs:
    args = _object(body, "request body")
    return BindingArgs(
        pod_name=_string(_get(args, "PodName"), "PodName"),
        pod_namespace=_string(_get(args, "PodNamespace"), "PodNamespace"),
        pod_uid=_string(_get(args, "PodUID"), "PodUID"),
        node=_string(_get(args, "Node"), "Node"),
    )


@dataclass
class FilterResult:
    """Nodes that pass and, for the others, a reason a person can read in the pod's events."""

    node_names: list[str] = field(default_factory=list)
    nodes: list[JsonObject] | None = None
    failed: dict[str, str] = field(default_factory=dict)
    failed_unresolvable: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def to_wire(self, cache_capable: bool) -> JsonObject:
        return {
            "NodeNames": self.node_names if cache_capable else None,
            "Nodes": None if cache_capable else {"items": self.nodes or []},
            "FailedNodes": self.failed,
            "FailedAndUnresolvableNodes": self.failed_unresolvable,
            "Error": self.error,
        }


def filter_error(message: str) -> JsonObject:
    return FilterResult(error=message).to_wire(cache_capable=True)


class HostPriorityEncoder:
    """HostPriorityList bytes for hosts given as indexes into one list of names (the cluster's
    nodes). Each host's ``{"Host":name`` is made once per list of names, and a reply is one
    join per score present: the hosts grouped by score, best first, in the order given within
    a score (kube-scheduler adds up each host's scores and reads no order). For 5,000 hosts
    that is a fraction of building and encoding 5,000 objects, or of one concatenation per
    host."""

    def __init__(self, names: Sequence[str]) -> None:
        self._hosts = np.array([b'{"Host":' + orjson.dumps(name) for name in names], dtype=object)

    def encode(self, hosts: NDArray[np.int64], scores: NDArray[np.int64]) -> bytes:
        if len(hosts) != len(scores):
            raise ValueError("one score per host")
        if not len(hosts):
            return b"[]"
        if scores.min() < MIN_EXTENDER_PRIORITY or scores.max() > MAX_EXTENDER_PRIORITY:
            raise ValueError(
                f"scores must be within {MIN_EXTENDER_PRIORITY}..{MAX_EXTENDER_PRIORITY}"
            )
        order = np.argsort(-scores, kind="stable")
        ranked = scores[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], len(ranked)]
        entries = self._hosts[hosts[order]].tolist()
        groups = [
            SCORE_SEPARATOR[score].join(entries[start:end]) + SCORE_END[score]
            for start, end, score in zip(
                starts.tolist(), ends.tolist(), ranked[starts].tolist(), strict=True
            )
        ]
        return b"[" + b",".join(groups) + b"]"


def binding_result(error: str = "") -> JsonObject:
    return {"Error": error}
