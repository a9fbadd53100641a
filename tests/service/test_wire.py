"""The extender wire format: requests parsed in both modes, replies with Go's exact keys."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snugfit.scheduler.protocol.wire import (
    BindingArgs,
    FilterResult,
    HostPriorityEncoder,
    WireError,
    binding_result,
    filter_error,
    parse_binding_args,
    parse_extender_args,
    prioritize_request_after,
)

POD = {"metadata": {"name": "p", "namespace": "team"}, "spec": {"containers": None}}
N1 = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4"}}}
N2 = {"metadata": {"name": "n2"}}
FILTER_KEYS = {"NodeNames", "Nodes", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}


@pytest.mark.parametrize(
    ("body", "names", "nodes"),
    [
        # nodeCacheCapable: names only, Nodes is null
        ({"Pod": POD, "Nodes": None, "NodeNames": ["n1", "n2"]}, ("n1", "n2"), None),
        ({"Pod": POD, "NodeNames": []}, (), None),
        # not cache-capable: full Node objects, NodeNames is null
        (
            {"Pod": POD, "Nodes": {"metadata": {}, "items": [N1, N2]}, "NodeNames": None},
            ("n1", "n2"),
            (N1, N2),
        ),
        ({"Pod": POD, "Nodes": {"items": None}}, (), ()),
        ({"Pod": POD, "Nodes": {}}, (), ()),
        # Go's decoder matches keys case-insensitively: lowercase and odd cases are accepted
        ({"pod": POD, "nodenames": ["n1"]}, ("n1",), None),
        ({"pod": POD, "nodes": {"items": [N1]}, "nodenames": None}, ("n1",), (N1,)),
        ({"POD": POD, "NODENAMES": ["n2"]}, ("n2",), None),
        # both filled (never sent): the names win
        ({"Pod": POD, "Nodes": {"items": [N1]}, "NodeNames": ["n2"]}, ("n2",), None),
    ],
)
def test_parse_extender_args(
    body: dict[str, Any], names: tuple[str, ...], nodes: tuple[Any, ...] | None
) -> None:
    args = parse_extender_args(body)
    assert args.pod is POD
    assert args.node_names == names
    assert args.nodes == nodes
    assert args.pod_key == "team/p"


def test_pod_key_defaults() -> None:
    assert parse_extender_args({"Pod": {"metadata": {}}, "NodeNames": []}).pod_key == "default/?"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request body must be a JSON object"),
        ("Pod", "request body must be a JSON object"),
        (None, "request body must be a JSON object"),
        (7, "request body must be a JSON object"),
        ({"NodeNames": ["n1"]}, "Pod must be a JSON object"),
        ({"Pod": None, "NodeNames": ["n1"]}, "Pod must be a JSON object"),
        ({"Pod": ["x"], "NodeNames": ["n1"]}, "Pod must be a JSON object"),
        ({"Pod": {}, "NodeNames": ["n1"]}, "Pod.metadata must be a JSON object"),
        ({"Pod": {"metadata": "p"}, "NodeNames": ["n1"]}, "Pod.metadata must be a JSON object"),
        ({"Pod": POD, "NodeNames": "n1"}, "NodeNames must be a list of strings"),
        ({"Pod": POD, "NodeNames": {"n1": 1}}, "NodeNames must be a list of strings"),
        ({"Pod": POD, "NodeNames": ["n1", 2]}, "NodeNames[] must be a non-empty string"),
        ({"Pod": POD, "NodeNames": [""]}, "NodeNames[] must be a non-empty string"),
        ({"Pod": POD, "NodeNames": ["n1", None]}, "NodeNames[] must be a non-empty string"),
        ({"Pod": POD, "NodeNames": [["n1"]]}, "NodeNames[] must be a non-empty string"),
        ({"Pod": POD, "Nodes": ["n1"]}, "Nodes must be a JSON object"),
        ({"Pod": POD, "Nodes": {"items": {"n1": N1}}}, "Nodes.items must be a list"),
        ({"Pod": POD, "Nodes": {"items": ["n1"]}}, "Nodes.items[] must be a JSON object"),
        ({"Pod": POD, "Nodes": {"items": [{}]}}, "Nodes.items[].metadata must be a JSON object"),
        (
            {"Pod": POD, "Nodes": {"items": [{"metadata": {"uid": "x"}}]}},
            "node name must be a non-empty string",
        ),
        ({"Pod": POD, "Nodes": {"items": [{"metadata": {"name": 3}}]}}, "node name must be"),
        ({"Pod": POD}, "request has neither NodeNames nor Nodes"),
        ({"Pod": POD, "Nodes": None, "NodeNames": None}, "request has neither NodeNames nor Nodes"),
    ],
)
def test_malformed_extender_args(body: Any, message: str) -> None:
    with pytest.raises(WireError) as caught:
        parse_extender_args(body)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_filter_result_names_mode_exact_keys() -> None:
    result = FilterResult(
        node_names=["n1"], failed={"n2": "full"}, failed_unresolvable={"n3": "no GPU"}
    )
    wire = result.to_wire(cache_capable=True)
    assert wire == {
        "NodeNames": ["n1"],
        "Nodes": None,
        "FailedNodes": {"n2": "full"},
        "FailedAndUnresolvableNodes": {"n3": "no GPU"},
        "Error": "",
    }
    # as sent: null (not absent) for the other mode's field, like Go without omitempty
    assert orjson.loads(orjson.dumps(wire)) == wire
    assert set(orjson.loads(orjson.dumps(wire))) == FILTER_KEYS


def test_filter_result_nodes_mode_exact_keys() -> None:
    result = FilterResult(node_names=["n1"], nodes=[N1], failed={"n2": "full"})
    assert result.to_wire(cache_capable=False) == {
        "NodeNames": None,
        "Nodes": {"items": [N1]},
        "FailedNodes": {"n2": "full"},
        "FailedAndUnresolvableNodes": {},
        "Error": "",
    }


def test_filter_result_nodes_mode_never_null() -> None:
    """Neither field set would silently drop every node, so Nodes is an empty list, not null."""
    assert FilterResult().to_wire(cache_capable=False)["Nodes"] == {"items": []}
    assert FilterResult().to_wire(cache_capable=True)["NodeNames"] == []


def test_filter_error() -> None:
    assert filter_error("snugfit: boom") == {
        "NodeNames": [],
        "Nodes": None,
        "FailedNodes": {},
        "FailedAndUnresolvableNodes": {},
        "Error": "snugfit: boom",
    }


def test_host_priorities_are_a_bare_list_of_int_scores() -> None:
    encoder = HostPriorityEncoder(["n0", "n1", 'odd "name"', "n3"])
    wire = encoder.encode(np.array([1, 3, 2]), np.array([10, 3, 0]))
    assert wire == (
        b'[{"Host":"n1","Score":10},{"Host":"n3","Score":3},{"Host":"odd \\"name\\"","Score":0}]'
    )
    assert orjson.loads(wire)[2] == {"Host": 'odd "name"', "Score": 0}
    assert encoder.encode(np.array([], np.int64), np.array([], np.int64)) == b"[]"
    with pytest.raises(ValueError, match="one score per host"):
        encoder.encode(np.array([1]), np.array([], np.int64))
    with pytest.raises(ValueError, match=r"within 0\.\.10"):
        encoder.encode(np.array([1]), np.array([11]))


@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12, unique=True).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.lists(
                st.tuples(st.integers(0, len(names) - 1), st.integers(0, 10)),
                max_size=len(names),
                unique_by=lambda pair: pair[0],
            ),
        )
    )
)
def test_host_priorities_hold_every_host_once_best_first(
    case: tuple[list[str], list[tuple[int, int]]],
) -> None:
    names, scored = case
    hosts = np.array([h for h, _ in scored], np.int64)
    scores = np.array([s for _, s in scored], np.int64)
    reply = orjson.loads(HostPriorityEncoder(names).encode(hosts, scores))
    assert sorted((e["Host"], e["Score"]) for e in reply) == sorted(
        (names[h], s) for h, s in scored
    )
    assert [e["Score"] for e in reply] == sorted((s for _, s in scored), reverse=True)
    for score in set(scores.tolist()):  # the order given, within a score
        given_order = [names[h] for h, s in scored if s == score]
        assert [e["Host"] for e in reply if e["Score"] == score] == given_order


@pytest.mark.parametrize(
    "body",
    [
        {"PodName": "p", "PodNamespace": "ns", "PodUID": "u-1", "Node": "n1"},
        {"podname": "p", "podnamespace": "ns", "poduid": "u-1", "node": "n1"},
    ],
)
def test_parse_binding_args(body: dict[str, str]) -> None:
    assert parse_binding_args(body) == BindingArgs("p", "ns", "u-1", "n1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (["p"], "request body must be a JSON object"),
        ({"PodNamespace": "ns", "PodUID": "u", "Node": "n"}, "PodName must be a non-empty string"),
        ({"PodName": "p", "PodUID": "u", "Node": "n"}, "PodNamespace must be a non-empty string"),
        (
            {"PodName": "p", "PodNamespace": "ns", "PodUID": 5, "Node": "n"},
            "PodUID must be a non-empty string",
        ),
        (
            {"PodName": "p", "PodNamespace": "ns", "PodUID": "u", "Node": ""},
            "Node must be a non-empty string",
        ),
    ],
)
def test_malformed_binding_args(body: Any, message: str) -> None:
    with pytest.raises(WireError, match=message):
        parse_binding_args(body)


def test_binding_result() -> None:
    assert binding_result() == {"Error": ""}
    assert binding_result("snugfit: no") == {"Error": "snugfit: no"}


# ---- the prioritize request that follows a filter request ------------------------------------
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
TRICKY_TEXT = st.text(
    st.sampled_from('ab-."[]{},:\\<>&\u2028é'), min_size=1, max_size=8
) | st.sampled_from(["NodeNames", '"NodeNames":[', "]}", 'a\\"b'])
PODS = st.builds(
    lambda meta, rest: {"metadata": meta, **rest},
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3),
    st.dictionaries(TRICKY_TEXT, JSON_VALUES, max_size=3),
)
DNS_NAMES = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?", fullmatch=True)


def go_json(value: Any) -> bytes:
    """As Go's encoding/json writes it: compact, with <, >, & and U+2028/9 escaped in strings."""
    out = orjson.dumps(value)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        out = out.replace(char.encode(), escaped.encode())
    return out


ENCODINGS = {
    "go": lambda pod, names: go_json({"Pod": pod, "Nodes": None, "NodeNames": names}),
    "names first": lambda pod, names: orjson.dumps({"NodeNames": names, "Pod": pod, "Nodes": None}),
    "nodes last": lambda pod, names: orjson.dumps({"Pod": pod, "NodeNames": names, "Nodes": None}),
    "spaced": lambda pod, names: json.dumps(
        {"Pod": pod, "Nodes": None, "NodeNames": names}
    ).encode(),
    "ascii": lambda pod, names: json.dumps(
        {"Pod": pod, "Nodes": None, "NodeNames": names}, separators=(",", ":")
    ).encode(),
}


@given(
    pod=PODS,
    names=st.lists(TRICKY_TEXT | DNS_NAMES, max_size=6, unique=True),
    passed=st.lists(TRICKY_TEXT | DNS_NAMES, max_size=6, unique=True),
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_a_prioritize_request_derived_from_a_filter_request_says_what_it_should(
    pod: dict[str, Any], names: list[str], passed: list[str], encoding: str
) -> None:
    """Whatever the filter request held and however it was encoded, bytes derived from it
    parse to its pod with the passed names, or are not derived at all."""
    body = ENCODINGS[encoding](pod, names)
    args = parse_extender_args(orjson.loads(body), body)
    derived = prioritize_request_after(args, passed)
    if derived:
        again = parse_extender_args(orjson.loads(derived))
        assert (again.pod, again.node_names, again.nodes) == (args.pod, tuple(passed), None)


@given(pod=PODS, names=st.lists(DNS_NAMES, max_size=6, unique=True), data=st.data())
def test_the_prioritize_request_after_a_go_encoded_filter_request_is_known(
    pod: dict[str, Any], names: list[str], data: st.DataObject
) -> None:
    """kube-scheduler's own requests (Go's encoding, node names as Kubernetes allows them)."""
    passed = data.draw(st.lists(st.sampled_from(names), unique=True) if names else st.just([]))
    args = parse_extender_args(orjson.loads(go_json({"Pod": pod, "Nodes": None, "NodeNames": names})),
                               go_json({"Pod": pod, "Nodes": None, "NodeNames": names}))  # fmt: skip
    derived = prioritize_request_after(args, passed)
    assert derived == go_json({"Pod": pod, "Nodes": None, "NodeNames": passed})


def test_no_prioritize_request_is_derived_without_the_filter_request_bytes() -> None:
    full = {"Pod": POD, "Nodes": {"items": [N1]}, "NodeNames": None}
    assert prioritize_request_after(parse_extender_args(full, orjson.dumps(full)), ["n1"]) == b""
    names = {"Pod": POD, "Nodes": None, "NodeNames": ["n1"]}
    assert prioritize_request_after(parse_extender_args(names), ["n1"]) == b""
