"""The aiohttp service end to end (test client over loopback), and Extender.bind directly.

The cluster (A100 80 GB GPUs from the agent annotation, 16 cores, 64Gi each):
    gpu-1     1 GPU, free
    gpu-2     2 GPUs; GPU 0 holds the 500-milli pod "half" (1 core, 1Gi); free [500, 1000]
    gpu-4     4 GPUs, free
    cpu-only  no GPU, 4 cores, 8Gi
    broken    an unreadable inventory annotation (not in the state)
"ghost" is a node kube-scheduler knows and the cache does not.

Scores use the "packing" policy, whose integer tiers are easy to work by hand, for a pod asking
nvidia.com/gpu: 1:
    gpu-1: all idle, f = 1 free GPU     -> max(33 - 1, 1)  = 32
    gpu-2: needs u = 1 idle GPU         -> max(50 - 1, 33) = 49
    gpu-4: all idle, f = 4              -> max(33 - 4, 4)  = 29
    on 0..10: floor((s - 29) * 10 / (49 - 29) + 0.5) -> gpu-1 2, gpu-2 10, gpu-4 0
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import numpy as np
import orjson
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from service_objects import assert_same_state, assignment, gpu_node, gpu_used, pod, snapshot

from snugfit.packing.demand import PodDemand
from snugfit.packing.placement import Placement
from snugfit.scheduler.app import logs
from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.extender import (
    UNUSED_PREPARED_LIMIT,
    Extender,
    binding,
    extender_scores,
)
from snugfit.scheduler.app.metrics import ExtenderMetrics
from snugfit.scheduler.app.server import (
    AFTER_REPLY_TRIES,
    AFTER_REPLY_WAIT_S,
    EXTENDER,
    KUBE,
    _once_sent,
    build_app,
)
from snugfit.scheduler.cache.cluster_cache import ClusterCache, Held
from snugfit.scheduler.kube.client import ApiError
from snugfit.scheduler.protocol.inventory import INVENTORY_SOURCES
from snugfit.scheduler.protocol.wire import BindingArgs

pytestmark = pytest.mark.timeout(10)
aio = pytest.mark.asyncio

GPU = "nvidia.com/gpu"
MEM = "snugfit.io/gpu-memory"
MILLI = "snugfit.io/gpu-milli"
FILTER_KEYS = {"NodeNames", "Nodes", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}
ALL = ["gpu-1", "gpu-2", "gpu-4", "cpu-only", "ghost"]
PACKING = ExtenderConfig(policy="packing")


def broken_node() -> dict[str, Any]:
    node = gpu_node("broken", 1)
    node["metadata"]["annotations"]["snugfit.io/gpu-inventory"] = "{"
    return node


NODES = {
    "gpu-1": gpu_node("gpu-1", 1),
    "gpu-2": gpu_node("gpu-2", 2),
    "gpu-4": gpu_node("gpu-4", 4),
    "cpu-only": gpu_node("cpu-only", cpu="4", memory="8Gi"),
    "broken": broken_node(),
    "ghost": gpu_node("ghost", 8),
}
HALF = pod(
    "half",
    {MILLI: "500", "cpu": "1", "memory": "1Gi"},
    node="gpu-2",
    annotations=assignment("gpu-2", [0], [500]),
)


def cache_without(left_out: str) -> ClusterCache:
    """Every node of NODES but one, with HALF on gpu-2."""
    cache = ClusterCache(PACKING.model_memory_mib)
    cache.replace_nodes([n for name, n in NODES.items() if name != left_out])
    cache.replace_pods([HALF])
    return cache


def make_cache() -> ClusterCache:
    return cache_without("ghost")


async def client_for(
    aiohttp_client: Any, config: ExtenderConfig = PACKING, cache: ClusterCache | None = None
) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(build_app(config, cache or make_cache()))
    return client


def names_args(the_pod: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {"Pod": the_pod, "Nodes": None, "NodeNames": names}


def nodes_args(the_pod: dict[str, Any], names: list[str]) -> dict[str, Any]:
    items = [NODES[n] for n in names]
    return {"Pod": the_pod, "Nodes": {"metadata": {}, "items": items}, "NodeNames": None}


async def post(client: TestClient[Any, Any], path: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await client.post(path, data=data, headers={"Content-Type": "application/json"})
    text = await response.text()
    assert "Traceback" not in text
    assert response.content_type == "application/json"
    return response.status, json.loads(text)


# ---- filter --------------------------------------------------------------------------------
TWO_GPUS = pod("p", {GPU: "2", "cpu": "1"})
# One sentence per reason, the same for every node it rejects (so kube-scheduler's summary line
# groups them); the numbers are the pod's.
TWO_GPUS_FAILED = {
    "gpu-2": "snugfit: fewer than 2 GPUs with 1 of a GPU free",  # free [500, 1000]
    "ghost": "snugfit: node not yet known to snugfit",
}
TWO_GPUS_UNRESOLVABLE = {
    "gpu-1": "snugfit: fewer than 2 GPUs",
    "cpu-only": "snugfit: fewer than 2 GPUs",
}
NO_GPU = "snugfit: no GPU"  # too few GPUs, for a pod that asks for one


@aio
async def test_filter_names_mode(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    status, reply = await post(client, "/filter", names_args(TWO_GPUS, ALL))
    assert status == 200
    assert reply == {
        "NodeNames": ["gpu-4"],
        "Nodes": None,
        "FailedNodes": TWO_GPUS_FAILED,
        "FailedAndUnresolvableNodes": TWO_GPUS_UNRESOLVABLE,
        "Error": "",
    }


@aio
async def test_filter_full_nodes_mode(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    status, reply = await post(client, "/filter", nodes_args(TWO_GPUS, ALL))
    assert status == 200
    assert reply == {
        "NodeNames": None,
        "Nodes": {"items": [NODES["gpu-4"]]},
        "FailedNodes": TWO_GPUS_FAILED,
        "FailedAndUnresolvableNodes": TWO_GPUS_UNRESOLVABLE,
        "Error": "",
    }


@aio
@pytest.mark.parametrize(
    ("the_pod", "passing", "failed", "unresolvable"),
    [
        # cpu: gpu-2 has 16000 - 1000 = 15000m free
        (
            pod("p", {GPU: "1", "cpu": "15500m"}),
            ["gpu-1", "gpu-4"],
            {"gpu-2": "snugfit: insufficient cpu for 15500m"},
            {"cpu-only": NO_GPU},
        ),
        # memory: 70Gi = 71680Mi; the largest node has 65536Mi
        (
            pod("p", {"memory": "70Gi"}),
            [],
            dict.fromkeys(
                ["gpu-1", "gpu-2", "gpu-4", "cpu-only"], "snugfit: insufficient memory for 71680Mi"
            ),
            {},
        ),
        # GPU memory: 61440 MiB of an 81920 MiB GPU = 750 milli; gpu-2 still has GPU 1
        (pod("p", {MEM: "61440"}), ["gpu-1", "gpu-2", "gpu-4"], {}, {"cpu-only": NO_GPU}),
        # 90000 MiB is more than any GPU has
        (
            pod("p", {MEM: "90000"}),
            [],
            dict.fromkeys(
                ["gpu-1", "gpu-2", "gpu-4"], "snugfit: no GPU with 90000Mi of GPU memory free"
            ),
            {"cpu-only": NO_GPU},
        ),
        # a share of 0.3 GPU where gpu-2's free half would do but the pod wants a T4
        (
            pod("p", {MILLI: "300"}, annotations={"snugfit.io/gpu-models": "Tesla-T4"}),
            [],
            {},
            {
                **dict.fromkeys(
                    ["gpu-1", "gpu-2", "gpu-4"], "snugfit: no GPU of the allowed models (Tesla-T4)"
                ),
                "cpu-only": NO_GPU,
            },
        ),
        # CPU-only pods fit every node with room, GPU or not
        (pod("p", {"cpu": "2"}), ["gpu-1", "gpu-2", "gpu-4", "cpu-only"], {}, {}),
    ],
)
async def test_filter_reasons(
    aiohttp_client: Any,
    the_pod: dict[str, Any],
    passing: list[str],
    failed: dict[str, str],
    unresolvable: dict[str, str],
) -> None:
    client = await client_for(aiohttp_client)
    names = ["gpu-1", "gpu-2", "gpu-4", "cpu-only"]
    _, reply = await post(client, "/filter", names_args(the_pod, names))
    assert reply["NodeNames"] == passing
    assert reply["FailedNodes"] == failed
    assert reply["FailedAndUnresolvableNodes"] == unresolvable
    assert reply["Error"] == ""


@aio
async def test_filter_names_a_node_whose_inventory_is_unreadable(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    _, reply = await post(client, "/filter", names_args(TWO_GPUS, ["broken", "gpu-4"]))
    assert reply["NodeNames"] == ["gpu-4"]
    assert reply["FailedNodes"]["broken"].startswith(
        "snugfit: snugfit.io/gpu-inventory is not a valid inventory"
    )


@aio
@pytest.mark.parametrize("args", [names_args, nodes_args])
async def test_filter_pod_request_error_is_an_error_reply(aiohttp_client: Any, args: Any) -> None:
    client = await client_for(aiohttp_client)
    bad = pod("p", {MEM: "1000", MILLI: "500"}, namespace="ml")
    status, reply = await post(client, "/filter", args(bad, ["gpu-1"]))
    assert status == 200
    assert set(reply) == FILTER_KEYS
    assert reply["Error"] == (
        "snugfit: pod ml/p: pod asks for GPU share in more than one way: "
        "snugfit.io/gpu-memory, snugfit.io/gpu-milli"
    )


@aio
@pytest.mark.parametrize("args", [names_args, nodes_args])
async def test_narrow_mode_keeps_only_the_best_scored_nodes(aiohttp_client: Any, args: Any) -> None:
    config = ExtenderConfig(policy="packing", mode="narrow")
    client = await client_for(aiohttp_client, config)
    _, reply = await post(client, "/filter", args(pod("p", {GPU: "1"}), ALL))
    if args is names_args:
        assert (reply["NodeNames"], reply["Nodes"]) == (["gpu-2"], None)
    else:
        assert (reply["NodeNames"], reply["Nodes"]) == (None, {"items": [NODES["gpu-2"]]})
    # packing scores gpu-1 32, gpu-2 49, gpu-4 29
    assert reply["FailedNodes"] == {
        "gpu-1": "snugfit: another node packs this pod better",
        "gpu-4": "snugfit: another node packs this pod better",
        "ghost": "snugfit: node not yet known to snugfit",
    }
    assert reply["FailedAndUnresolvableNodes"] == {"cpu-only": NO_GPU}


@aio
async def test_narrow_mode_keeps_ties_and_single_nodes(aiohttp_client: Any) -> None:
    config = ExtenderConfig(policy="packing", mode="narrow")
    client = await client_for(aiohttp_client, config)
    # CPU-only pods score 0 everywhere under packing: all tie, all kept
    _, reply = await post(client, "/filter", names_args(pod("p", {"cpu": "1"}), ALL[:4]))
    assert reply["NodeNames"] == ALL[:4]
    assert reply["FailedNodes"] == {}
    _, reply = await post(client, "/filter", names_args(pod("p", {GPU: "4"}), ["gpu-4"]))
    assert reply["NodeNames"] == ["gpu-4"]


# ---- prioritize ----------------------------------------------------------------------------
@aio
@pytest.mark.parametrize("args", [names_args, nodes_args])
async def test_prioritize_scores(aiohttp_client: Any, args: Any) -> None:
    client = await client_for(aiohttp_client)
    status, reply = await post(client, "/prioritize", args(pod("p", {GPU: "1", "cpu": "1"}), ALL))
    assert status == 200
    # gpu-4 (lowest, 0), cpu-only (infeasible) and ghost (unknown) are left out: kube-scheduler
    # adds nothing for a host missing from the list, the same as a score of 0; best first
    assert reply == [{"Host": "gpu-2", "Score": 10}, {"Host": "gpu-1", "Score": 2}]


@aio
async def test_prioritize_names_nodes_that_joined_since_the_last_reply(aiohttp_client: Any) -> None:
    cache = make_cache()
    client = await client_for(aiohttp_client, cache=cache)
    one_gpu = pod("p", {GPU: "1", "cpu": "1"})
    _, reply = await post(client, "/prioritize", names_args(one_gpu, ALL))
    assert [e["Host"] for e in reply] == ["gpu-2", "gpu-1"]
    cache.upsert_node(NODES["ghost"])  # a new row, ahead of gpu-1 to gpu-4 by name
    cache.delete_node(NODES["gpu-1"])
    _, reply = await post(client, "/prioritize", names_args(pod("big", {GPU: "8"}), ALL))
    assert reply == [{"Host": "ghost", "Score": 10}]
    _, reply = await post(client, "/prioritize", names_args(one_gpu, ALL))
    fresh_client = await client_for(aiohttp_client, cache=cache_without("gpu-1"))
    assert reply == (await post(fresh_client, "/prioritize", names_args(one_gpu, ALL)))[1]


@aio
@pytest.mark.parametrize("seed", range(4))
async def test_node_lists_in_any_order_and_filter_replies_reread_after_node_changes(
    aiohttp_client: Any, seed: int
) -> None:
    """kube-scheduler sends filter its feasible nodes in the order its parallel filtering
    finished them, and prioritize the list filter returned: any order gets the same answers
    per node, and a filter reply sent back after the nodes changed is read afresh."""
    order = [ALL[i] for i in np.random.default_rng(seed).permutation(len(ALL))]
    one_gpu = pod("p", {GPU: "1", "cpu": "1"})
    cache = make_cache()
    client = await client_for(aiohttp_client, cache=cache)
    reference = await client_for(aiohttp_client)
    _, shuffled = await post(client, "/filter", names_args(one_gpu, order))
    _, sorted_reply = await post(reference, "/filter", names_args(one_gpu, ALL))
    assert shuffled["NodeNames"] == [n for n in order if n in sorted_reply["NodeNames"]]
    assert shuffled["FailedNodes"] == sorted_reply["FailedNodes"]
    assert shuffled["FailedAndUnresolvableNodes"] == sorted_reply["FailedAndUnresolvableNodes"]

    def by_host(reply: list[dict[str, Any]]) -> dict[str, int]:
        return {e["Host"]: e["Score"] for e in reply}

    passed = shuffled["NodeNames"]
    _, scores = await post(client, "/prioritize", names_args(one_gpu, passed))
    _, expected = await post(reference, "/prioritize", names_args(one_gpu, sorted(passed)))
    assert by_host(scores) == by_host(expected)
    cache.upsert_node(NODES["ghost"])  # a new row ahead of the others: every row moves
    cache.delete_node(NODES["gpu-4"])
    fresh_client = await client_for(aiohttp_client, cache=cache_without("gpu-4"))
    _, scores = await post(client, "/prioritize", names_args(one_gpu, passed))
    _, expected = await post(fresh_client, "/prioritize", names_args(one_gpu, passed))
    assert by_host(scores) == by_host(expected)
    assert "gpu-4" not in by_host(scores)


ONE_GPU = pod("p", {GPU: "1", "cpu": "1"})


def passed_names(reply: dict[str, Any]) -> list[str]:
    if reply["NodeNames"] is not None:
        return list(reply["NodeNames"])
    return [n["metadata"]["name"] for n in reply["Nodes"]["items"]]


def replies_by_source(m: dict[tuple[str, frozenset[Any]], float]) -> dict[str, float]:
    name = "snugfit_extender_prioritize_replies_total"
    return {s: m.get((name, frozenset({("source", s)})), 0.0) for s in ("prepared", "computed")}


@aio
@pytest.mark.parametrize("args", [names_args, nodes_args])
async def test_prioritize_after_filter_is_the_reply_prepared_once_filter_was_answered(
    aiohttp_client: Any, args: Any
) -> None:
    client = await client_for(aiohttp_client)
    _, passed = await post(client, "/filter", args(ONE_GPU, ALL))
    names = passed_names(passed)
    assert names == ["gpu-1", "gpu-2", "gpu-4"]
    _, reply = await post(client, "/prioritize", args(ONE_GPU, names))
    fresh = await client_for(aiohttp_client)
    assert reply == (await post(fresh, "/prioritize", args(ONE_GPU, names)))[1]
    m = await scrape(client)
    assert replies_by_source(m) == {"prepared": 1, "computed": 0}
    assert sample(m, "snugfit_extender_after_reply_seconds_count", verb="filter") == 1
    # requests encoded as kube-scheduler encodes them (orjson here): the names-mode prioritize
    # request is known by its bytes, without parsing it; full Nodes requests are parsed
    assert sample(m, "snugfit_extender_prioritize_unparsed_total") == (args is names_args)


@aio
async def test_a_prepared_prioritize_reply_is_not_used_once_the_cluster_the_pod_or_the_nodes_differ(
    aiohttp_client: Any,
) -> None:
    cache = make_cache()
    client = await client_for(aiohttp_client, cache=cache)
    names = passed_names((await post(client, "/filter", names_args(ONE_GPU, ALL)))[1])
    _, before = await post(client, "/prioritize", names_args(ONE_GPU, names))
    await post(client, "/filter", names_args(ONE_GPU, ALL))
    other = pod("other", {GPU: "1", "cpu": "1"}, node="gpu-4",
                annotations=assignment("gpu-4", [0], [1000]))  # fmt: skip
    cache.upsert_pod(other)  # the cluster changes between filter and prioritize
    _, after = await post(client, "/prioritize", names_args(ONE_GPU, names))
    assert after != before
    reference = make_cache()
    reference.replace_pods([HALF, other])
    fresh = await client_for(aiohttp_client, cache=reference)
    assert after == (await post(fresh, "/prioritize", names_args(ONE_GPU, names)))[1]
    await post(client, "/filter", names_args(ONE_GPU, ALL))  # then another pod asks
    two = pod("q", {GPU: "2", "cpu": "1"})
    _, reply = await post(client, "/prioritize", names_args(two, names))
    assert reply == (await post(fresh, "/prioritize", names_args(two, names)))[1]
    await post(client, "/filter", names_args(ONE_GPU, ALL))  # then other nodes, as many
    others = [*names[:2], "cpu-only"]
    _, reply = await post(client, "/prioritize", names_args(ONE_GPU, others))
    assert reply == (await post(fresh, "/prioritize", names_args(ONE_GPU, others)))[1]
    assert replies_by_source(await scrape(client)) == {"prepared": 1, "computed": 3}


@aio
async def test_a_prepared_prioritize_reply_is_not_used_once_a_new_pod_moves_the_learned_mix(
    aiohttp_client: Any,
) -> None:
    """The snugfit policy scores against the mix of the pods seen so far: a pending pod seen
    between filter and prioritize can change it."""
    config = ExtenderConfig(policy="snugfit")
    cache = make_cache()
    client = await client_for(aiohttp_client, config, cache)
    small = pod("small", {MILLI: "250", "cpu": "1"})
    names = passed_names((await post(client, "/filter", names_args(small, ALL)))[1])
    whole = pod("whole", {GPU: "1", "cpu": "1"})
    cache.upsert_pod(whole)  # pending: the state is unchanged, the pods seen are not
    _, reply = await post(client, "/prioritize", names_args(small, names))
    reference = make_cache()
    reference.replace_pods([HALF, whole])
    fresh = await client_for(aiohttp_client, config, reference)
    _, expected = await post(fresh, "/prioritize", names_args(small, names))
    assert reply == expected
    before = await client_for(aiohttp_client, config)
    assert reply != (await post(before, "/prioritize", names_args(small, names)))[1]


@aio
async def test_without_prioritize_calls_filter_stops_preparing_replies_until_one_comes(
    aiohttp_client: Any,
) -> None:
    client = await client_for(aiohttp_client)
    prepared = "snugfit_extender_after_reply_seconds_count"
    for _ in range(UNUSED_PREPARED_LIMIT + 3):
        await post(client, "/filter", names_args(ONE_GPU, ALL))
    assert sample(await scrape(client), prepared, verb="filter") == UNUSED_PREPARED_LIMIT + 1
    await post(client, "/prioritize", names_args(ONE_GPU, ["gpu-1", "gpu-2"]))
    names = passed_names((await post(client, "/filter", names_args(ONE_GPU, ALL)))[1])
    await post(client, "/prioritize", names_args(ONE_GPU, names))
    m = await scrape(client)
    assert sample(m, prepared, verb="filter") == UNUSED_PREPARED_LIMIT + 2
    assert replies_by_source(m) == {"prepared": 1, "computed": 1}


class FakeTransport:
    def __init__(self, buffered: list[int]) -> None:
        self.buffered = buffered  # what the write buffer holds at each look

    def get_write_buffer_size(self) -> int:
        return self.buffered.pop(0) if self.buffered else 0


class FakeRequest:
    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport


@aio
@pytest.mark.parametrize(("buffered", "looks"), [([0], 1), ([5, 2, 0], 3), ([9] * 40, 21)])
async def test_work_after_a_reply_waits_until_the_reply_has_left(
    buffered: list[int], looks: int
) -> None:
    """The prepared reply is worked out once the filter reply's bytes are all handed to the
    kernel, or after AFTER_REPLY_TRIES more looks at most (a reader that has stalled)."""
    transport = FakeTransport(list(buffered))
    done: list[int] = []
    _once_sent(FakeRequest(transport), lambda: done.append(len(buffered) - len(transport.buffered)) or True,  # type: ignore[arg-type]
               ExtenderMetrics(), "filter")  # fmt: skip
    assert done == ([1] if looks == 1 else [])  # an empty buffer: at once
    await asyncio.sleep(AFTER_REPLY_WAIT_S * (AFTER_REPLY_TRIES + 10) * 2)
    assert done == [looks]


@aio
async def test_a_filter_that_passes_one_node_prepares_nothing(aiohttp_client: Any) -> None:
    """kube-scheduler does not ask prioritize about a pod that fits on one node only."""
    client = await client_for(aiohttp_client)
    await post(client, "/filter", names_args(TWO_GPUS, ALL))
    m = await scrape(client)
    assert ("snugfit_extender_after_reply_seconds_count", frozenset({("verb", "filter")})) not in m


@aio
async def test_prioritize_a_bad_pod_scores_zero(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    bad = pod("p", {MEM: "1000", MILLI: "500"})
    status, reply = await post(client, "/prioritize", names_args(bad, ["gpu-1", "gpu-4"]))
    assert (status, reply) == (200, [])


@aio
@pytest.mark.parametrize("policy", ["snugfit", "fgd", "bestfit", "packing", "dotprod", "random"])
@pytest.mark.parametrize(
    "requests", [{GPU: "1"}, {MILLI: "300", "cpu": "2"}, {MEM: "20000"}, {"cpu": "1"}]
)
async def test_prioritize_lists_feasible_nodes_with_ints_up_to_ten(
    aiohttp_client: Any, policy: str, requests: dict[str, str]
) -> None:
    client = await client_for(aiohttp_client, ExtenderConfig(policy=policy))
    _, reply = await post(client, "/prioritize", names_args(pod("p", requests), ALL))
    scores = {e["Host"]: e["Score"] for e in reply}
    assert len(scores) == len(reply)  # each host once
    # best first, and in request order within a score
    assert list(scores) == sorted(scores, key=lambda host: (-scores[host], ALL.index(host)))
    assert all(type(s) is int and 1 <= s <= 10 for s in scores.values())
    assert "ghost" not in scores
    if GPU in requests or MILLI in requests or MEM in requests:
        assert "cpu-only" not in scores  # infeasible
    assert max(scores.values()) == 10  # something fits, so the best gets 10


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], []),
        ([5.0], [10]),
        ([3.0, 3.0], [10, 10]),
        ([32.0, 49.0, 29.0], [2, 10, 0]),  # (32 - 29) * 10 / 20 + 0.5 = 2.0
        ([0.0, 25.0, 100.0], [0, 3, 10]),  # 2.5 + 0.5 = 3.0
        ([-1.0, 0.0, 1.0], [0, 5, 10]),
    ],
)
def test_extender_scores(scores: list[float], expected: list[int]) -> None:
    out = extender_scores(np.array(scores, dtype=np.float64))
    assert out.tolist() == expected
    assert out.dtype == np.int64


@aio
async def test_filter_before_any_node_is_known(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client, cache=ClusterCache({}))
    status, reply = await post(client, "/filter", names_args(TWO_GPUS, ["gpu-1"]))
    assert status == 200
    assert reply["NodeNames"] == []
    assert reply["FailedNodes"] == {"gpu-1": "snugfit: node not yet known to snugfit"}
    assert (reply["FailedAndUnresolvableNodes"], reply["Error"]) == ({}, "")
    status, reply = await post(client, "/prioritize", names_args(TWO_GPUS, ["gpu-1"]))
    assert (status, reply) == (200, [])


@aio
async def test_filter_when_every_inventory_is_unreadable(aiohttp_client: Any) -> None:
    cache = ClusterCache({})
    cache.replace_nodes([broken_node()])
    client = await client_for(aiohttp_client, cache=cache)
    status, reply = await post(client, "/filter", names_args(TWO_GPUS, ["broken", "gpu-1"]))
    assert (status, reply["NodeNames"], reply["Error"]) == (200, [], "")
    assert reply["FailedNodes"]["broken"].startswith(
        "snugfit: snugfit.io/gpu-inventory is not a valid inventory"
    )
    assert reply["FailedNodes"]["gpu-1"] == "snugfit: node not yet known to snugfit"
    status, reply = await post(client, "/prioritize", names_args(TWO_GPUS, ["broken", "gpu-1"]))
    assert (status, reply) == (200, [])


@aio
async def test_filter_with_no_node_names(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client, cache=ClusterCache({}))
    status, reply = await post(client, "/filter", names_args(TWO_GPUS, []))
    assert (status, reply["NodeNames"], reply["Error"]) == (200, [], "")


# ---- health, readiness, metrics ------------------------------------------------------------
@aio
async def test_healthz_and_readyz(aiohttp_client: Any) -> None:
    cache = ClusterCache({})
    client = await client_for(aiohttp_client, cache=cache)
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/readyz")
    assert response.status == 503
    assert "not synced" in await response.text()
    cache.replace_nodes([NODES["gpu-1"]])
    assert (await client.get("/readyz")).status == 503
    cache.replace_pods([])
    response = await client.get("/readyz")
    assert (response.status, await response.text()) == (200, "ok")
    assert (await client.get("/healthz")).status == 200


@aio
async def test_readyz_needs_pods_too(aiohttp_client: Any) -> None:
    cache = ClusterCache({})
    client = await client_for(aiohttp_client, cache=cache)
    cache.replace_pods([])
    assert (await client.get("/readyz")).status == 503
    cache.replace_nodes([])
    assert (await client.get("/readyz")).status == 200


async def scrape(client: TestClient[Any, Any]) -> dict[tuple[str, frozenset[Any]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def sample(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@aio
async def test_metrics_after_calls(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    await post(client, "/filter", names_args(TWO_GPUS, ALL))
    await post(client, "/filter", b"{")
    await post(client, "/prioritize", names_args(TWO_GPUS, ALL))
    await post(client, "/prioritize", b"{")
    await post(client, "/bind", b"{}")
    m = await scrape(client)
    total = "snugfit_extender_requests_total"
    assert sample(m, total, verb="filter", outcome="ok") == 2  # a malformed filter is a 200
    assert sample(m, total, verb="prioritize", outcome="ok") == 1
    assert sample(m, total, verb="prioritize", outcome="rejected") == 1
    assert sample(m, total, verb="bind", outcome="ok") == 1
    latency = "snugfit_extender_request_seconds"
    assert sample(m, f"{latency}_count", verb="filter") == 2
    assert sample(m, f"{latency}_count", verb="prioritize") == 2
    assert sample(m, f"{latency}_bucket", verb="filter", le="+Inf") == 2
    assert sample(m, f"{latency}_bucket", verb="filter", le="2.5") <= 2
    # the cluster: 7 GPUs, half of one in use
    assert sample(m, "snugfit_gpu_allocated") == 0.5
    assert sample(m, "snugfit_gpu_free") == 6.5
    assert sample(m, "snugfit_gpu_idle_whole") == 6
    assert sample(m, "snugfit_nodes", source="agent") == 3
    assert sample(m, "snugfit_nodes", source="none") == 1
    assert sample(m, "snugfit_assignment_conflicts") == 0
    assert sample(m, "snugfit_reservations_in_flight") == 0


@aio
async def test_metrics_on_an_empty_cache(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client, ExtenderConfig(), cache=ClusterCache({}))
    m = await scrape(client)
    assert sample(m, "snugfit_gpu_allocated") == 0
    assert sample(m, "snugfit_gpu_free") == 0


@aio
async def test_node_gauge_forgets_sources_that_are_gone(aiohttp_client: Any) -> None:
    cache = make_cache()
    client = await client_for(aiohttp_client, cache=cache)
    m = await scrape(client)
    # every source is reported, 0 included
    assert {s: sample(m, "snugfit_nodes", source=s) for s in INVENTORY_SOURCES} == {
        "agent": 3,
        "gfd": 0,
        "capacity": 0,
        "none": 1,
    }
    cache.replace_nodes([NODES["cpu-only"]])
    m = await scrape(client)
    assert sample(m, "snugfit_nodes", source="agent") == 0
    assert sample(m, "snugfit_nodes", source="none") == 1


# ---- malformed requests --------------------------------------------------------------------
@aio
@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/filter", b"{not json", 200, "snugfit: malformed filter request: body is not valid JSON"),
        ("/filter", b"", 200, "snugfit: malformed filter request: body is not valid JSON"),
        ("/filter", b"[]", 200, "snugfit: malformed filter request: request body must be a JSON"),
        (
            "/filter",
            b'{"Pod": {"metadata": {}}}',
            200,
            "snugfit: malformed filter request: request has neither NodeNames nor Nodes",
        ),
        (
            "/filter",
            b'{"Pod": {"metadata": {}}, "NodeNames": "gpu-1"}',
            200,
            "snugfit: malformed filter request: NodeNames must be a list of strings",
        ),
        (
            "/prioritize",
            b"{not json",
            400,
            "snugfit: malformed prioritize request: body is not valid JSON",
        ),
        (
            "/prioritize",
            b'{"Pod": 1, "NodeNames": []}',
            400,
            "snugfit: malformed prioritize request: Pod must be a JSON object",
        ),
        ("/bind", b"nope", 200, "snugfit: malformed bind request: body is not valid JSON"),
        (
            "/bind",
            b'{"PodName": "p"}',
            200,
            "snugfit: malformed bind request: PodNamespace must be a non-empty string",
        ),
    ],
)
async def test_malformed_requests_get_well_formed_replies(
    aiohttp_client: Any, path: str, body: bytes, status: int, error: str
) -> None:
    client = await client_for(aiohttp_client)
    got_status, reply = await post(client, path, body)
    assert got_status == status
    assert isinstance(reply, dict)
    assert reply["Error"].startswith(error)
    if path == "/filter":
        assert set(reply) == FILTER_KEYS
        assert reply["NodeNames"] == [] and reply["FailedNodes"] == {}
    else:
        assert set(reply) == {"Error"}


@aio
@pytest.mark.parametrize("path", ["/filter", "/prioritize", "/bind"])
async def test_request_too_large(aiohttp_client: Any, path: str) -> None:
    config = ExtenderConfig(policy="packing", max_request_bytes=1024)
    client = await client_for(aiohttp_client, config)
    body = orjson.dumps(names_args(pod("p", {"cpu": "1"}), ["n" * 40] * 100))
    assert len(body) > 4096
    status, reply = await post(client, path, body)
    assert (status, reply) == (413, {"Error": "snugfit: request body too large"})
    m = await scrape(client)
    verb = path.strip("/")
    assert sample(m, "snugfit_extender_requests_total", verb=verb, outcome="rejected") == 1


@aio
async def test_a_handler_failure_is_a_json_500_without_details(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(PACKING, make_cache())

    def explode(args: Any) -> Any:
        raise RuntimeError("secret detail")

    app[EXTENDER].filter = explode  # type: ignore[method-assign]
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="snugfit.server"):
        status, reply = await post(client, "/filter", names_args(TWO_GPUS, ALL))
    assert (status, reply) == (500, {"Error": "snugfit: internal error while handling filter"})
    assert "handler failed" in caplog.text
    m = await scrape(client)
    assert sample(m, "snugfit_extender_requests_total", verb="filter", outcome="error") == 1


@aio
@pytest.mark.parametrize(
    "spec",
    [
        {"containers": 5},
        {"containers": [{"name": "c", "resources": "lots"}]},
    ],
)
async def test_filter_wrong_shaped_pod_is_a_200_error(aiohttp_client: Any, spec: Any) -> None:
    client = await client_for(aiohttp_client)
    bad = {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}
    status, reply = await post(client, "/filter", names_args(bad, ["gpu-1"]))
    assert status == 200
    assert set(reply) == FILTER_KEYS
    assert reply["Error"].startswith(
        "snugfit: pod default/p: pod spec is not shaped as Kubernetes sends it: "
    )
    assert reply["NodeNames"] == [] and reply["FailedNodes"] == {}
    status, reply = await post(client, "/prioritize", names_args(bad, ["gpu-1"]))
    assert (status, reply) == (200, [])
    m = await scrape(client)
    assert sample(m, "snugfit_extender_requests_total", verb="filter", outcome="ok") == 1


# ---- bind over HTTP ------------------------------------------------------------------------
class FakeKube:
    """Stands in for KubeClient: records created objects (it has no patch methods: the
    extender binds with one Binding that carries the assignment)."""

    def __init__(self, pods: dict[str, dict[str, Any]], fail_create: bool = False) -> None:
        self.pods = pods
        self.fail_create = fail_create
        self.created: list[tuple[str, dict[str, Any]]] = []

    async def get(self, path: str) -> dict[str, Any]:
        return self.pods[path]

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_create:
            raise ApiError(422, "the server rejected our request")
        self.created.append((path, body))
        return body


BIND_P = {"PodName": "p", "PodNamespace": "default", "PodUID": "uid-p", "Node": "gpu-2"}
P_SHARE = pod("p", {MILLI: "500", "cpu": "1"}, annotations={"team": "ml"})
P_VALUE = '{"node":"gpu-2","gpus":[{"index":0,"uuid":"GPU-gpu-2-0","milli":500}]}'


@aio
async def test_bind_without_an_api_connection(aiohttp_client: Any) -> None:
    client = await client_for(aiohttp_client)
    assert await post(client, "/bind", BIND_P) == (
        200,
        {"Error": "snugfit: no API server connection"},
    )


@aio
async def test_bind_creates_one_binding_that_carries_the_assignment(aiohttp_client: Any) -> None:
    cache = make_cache()
    cache.upsert_pod(P_SHARE)
    app = build_app(PACKING, cache)
    kube = FakeKube({})
    app[KUBE] = kube  # type: ignore[misc]
    client = await aiohttp_client(app)
    assert await post(client, "/bind", BIND_P) == (200, {"Error": ""})
    path = "/api/v1/namespaces/default/pods/p"
    # best fit: GPU 0 (500 free) before GPU 1 (1000 free); one Binding, naming the pod's UID
    # and carrying the assignment, which the API server copies onto the pod as it binds it
    assert kube.created == [
        (
            f"{path}/binding",
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {
                    "name": "p",
                    "namespace": "default",
                    "uid": "uid-p",
                    "annotations": {"snugfit.io/gpu-assignment": P_VALUE},
                },
                "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-2"},
            },
        )
    ]
    assert gpu_used(cache.state(), "gpu-2") == [1000, 0]
    m = await scrape(client)
    assert sample(m, "snugfit_reservations_in_flight") == 1
    assert sample(m, "snugfit_gpu_allocated") == 1.0
    assert sample(m, "snugfit_extender_requests_total", verb="bind", outcome="ok") == 1


@aio
async def test_bind_failure_over_http_releases_the_reservation(aiohttp_client: Any) -> None:
    cache = make_cache()
    cache.upsert_pod(P_SHARE)
    before = snapshot(cache.state())
    app = build_app(PACKING, cache)
    app[KUBE] = FakeKube({}, fail_create=True)  # type: ignore[misc]
    client = await aiohttp_client(app)
    assert await post(client, "/bind", BIND_P) == (
        200,
        {
            "Error": "snugfit: bind of default/p to gpu-2 failed: "
            "API server answered 422: the server rejected our request"
        },
    )
    assert_same_state(before, snapshot(cache.state()))
    assert "uid-p" not in cache.held


# ---- Extender.bind directly ----------------------------------------------------------------
class Calls:
    def __init__(self) -> None:
        self.fetched: list[tuple[str, str]] = []
        self.bound: list[tuple[str, str, str, str, str]] = []


def fakes(
    calls: Calls, fetched: dict[str, Any] | None = None, error: Exception | None = None
) -> tuple[Any, Any]:
    async def fetch(namespace: str, name: str) -> dict[str, Any]:
        calls.fetched.append((namespace, name))
        if fetched is None:
            raise ApiError(404, f'pods "{name}" not found')
        return fetched

    async def bind(namespace: str, name: str, uid: str, node: str, value: str) -> None:
        calls.bound.append((namespace, name, uid, node, value))
        if error is not None:
            raise error

    return fetch, bind


@aio
async def test_extender_bind_records_the_reservation_and_the_assignment() -> None:
    cache = make_cache()
    cache.upsert_pod(P_SHARE)
    extender = Extender(PACKING, cache)
    calls = Calls()
    error = await extender.bind(BindingArgs("p", "default", "uid-p", "gpu-2"), *fakes(calls))
    assert error == ""
    assert calls.fetched == []  # the pod was in the cache
    [(namespace, name, uid, node, value)] = calls.bound
    assert (namespace, name, uid, node) == ("default", "p", "uid-p", "gpu-2")
    assert json.loads(value) == {
        "node": "gpu-2",
        "gpus": [{"index": 0, "uuid": "GPU-gpu-2-0", "milli": 500}],
    }
    assert value == P_VALUE
    index = cache.node_index("gpu-2")
    assert index == 2  # broken is not in the state: cpu-only, gpu-1, gpu-2, gpu-4
    # the intent (node, the pod's demand, its GPUs) and what is counted in the state
    assert cache.held["uid-p"] == Held("gpu-2", PodDemand(1000, 0, 1, 500), (0,), (500,), True)
    assert cache.applied["uid-p"] == Placement(index, (0,), (500,), 1000, 0)
    assert gpu_used(cache.state(), "gpu-2") == [1000, 0]
    # the watch then shows the pod bound with that annotation: confirmed, not counted twice
    confirmed = copy.deepcopy(P_SHARE)
    confirmed["spec"]["nodeName"] = "gpu-2"
    confirmed["status"]["phase"] = "Running"
    confirmed["metadata"]["annotations"]["snugfit.io/gpu-assignment"] = value
    cache.upsert_pod(confirmed)
    assert cache.held["uid-p"].assumed is False
    assert gpu_used(cache.state(), "gpu-2") == [1000, 0]
    assert cache.state().cpu_used[index] == 2000


@aio
async def test_extender_bind_fetches_a_pod_it_has_not_seen() -> None:
    cache = make_cache()
    extender = Extender(PACKING, cache)
    calls = Calls()
    fetch, bind = fakes(calls, fetched=pod("p", {GPU: "2"}))
    error = await extender.bind(BindingArgs("p", "default", "uid-p", "gpu-4"), fetch, bind)
    assert error == ""
    assert calls.fetched == [("default", "p")]
    assert json.loads(calls.bound[0][4])["gpus"] == [
        {"index": 0, "uuid": "GPU-gpu-4-0", "milli": 1000},
        {"index": 1, "uuid": "GPU-gpu-4-1", "milli": 1000},
    ]
    assert gpu_used(cache.state(), "gpu-4") == [1000, 1000, 0, 0]


@aio
@pytest.mark.parametrize(
    ("args", "fetched", "error"),
    [
        (
            BindingArgs("q", "default", "uid-q", "gpu-4"),
            None,
            'snugfit: cannot read pod default/q: API server answered 404: pods "q" not found',
        ),
        (
            BindingArgs("q", "default", "uid-q", "gpu-4"),
            pod("q", {GPU: "1"}, uid="uid-other"),
            "snugfit: pod default/q was replaced (UID changed)",
        ),
        (
            BindingArgs("p", "default", "uid-p", "ghost"),
            None,
            "snugfit: node ghost is not known",
        ),
        (
            BindingArgs("p", "default", "uid-p", "broken"),
            None,
            "snugfit: node broken is not known",
        ),
        (
            BindingArgs("big", "default", "uid-big", "gpu-1"),
            None,
            "snugfit: pod no longer fits on gpu-1: pod needs 2 GPUs, node has 1",
        ),
        (
            BindingArgs("bad", "default", "uid-bad", "gpu-1"),
            None,
            "snugfit: pod default/bad: snugfit.io/gpu-milli per GPU is above 1000",
        ),
    ],
)
async def test_extender_bind_refusals_leave_no_trace(
    args: BindingArgs, fetched: dict[str, Any] | None, error: str
) -> None:
    cache = make_cache()
    cache.upsert_pod(P_SHARE)
    cache.upsert_pod(pod("big", {GPU: "2"}))
    cache.upsert_pod(pod("bad", {MILLI: "1500"}))
    before, held = snapshot(cache.state()), dict(cache.held)
    calls = Calls()
    assert await Extender(PACKING, cache).bind(args, *fakes(calls, fetched)) == error
    assert calls.bound == []
    assert_same_state(before, snapshot(cache.state()))
    assert cache.held == held


@aio
async def test_extender_bind_failure_leaves_no_reservation() -> None:
    cache = make_cache()
    cache.upsert_pod(P_SHARE)
    before, held = snapshot(cache.state()), dict(cache.held)
    calls = Calls()
    fetch, bind = fakes(calls, error=ApiError(409, "Operation cannot be fulfilled"))
    error = await Extender(PACKING, cache).bind(
        BindingArgs("p", "default", "uid-p", "gpu-2"), fetch, bind
    )
    assert error == (
        "snugfit: bind of default/p to gpu-2 failed: "
        "API server answered 409: Operation cannot be fulfilled"
    )
    assert len(calls.bound) == 1
    assert_same_state(before, snapshot(cache.state()))
    assert cache.held == held
    # and the pod can be bound again afterwards
    calls = Calls()
    error = await Extender(PACKING, cache).bind(
        BindingArgs("p", "default", "uid-p", "gpu-2"), *fakes(calls)
    )
    assert error == ""


@aio
async def test_concurrent_binds_for_the_last_half_gpu_never_over_commit() -> None:
    """Both binds are in flight (parked in fetch) before either reserves; one wins."""
    cache = ClusterCache({})
    cache.replace_nodes([gpu_node("n1", 1)])
    cache.replace_pods(
        [pod("x", {MILLI: "500"}, node="n1", annotations=assignment("n1", [0], [500]))]
    )
    extender = Extender(PACKING, cache)
    pods = {"a": pod("a", {MILLI: "500"}), "b": pod("b", {MILLI: "500"})}
    both_fetching, release = asyncio.Event(), asyncio.Event()
    fetching: list[str] = []
    bound: list[str] = []

    async def fetch(namespace: str, name: str) -> dict[str, Any]:
        fetching.append(name)
        if len(fetching) == 2:
            both_fetching.set()
        await both_fetching.wait()
        return pods[name]

    async def bind(namespace: str, name: str, uid: str, node: str, value: str) -> None:
        bound.append(name)
        await release.wait()  # the API calls are in flight

    tasks = [
        asyncio.create_task(extender.bind(BindingArgs(n, "default", f"uid-{n}", "n1"), fetch, bind))
        for n in ("a", "b")
    ]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1  # the loser is refused while the winner's bind is still in flight
    assert gpu_used(cache.state(), "n1") == [1000]
    release.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results) == [
        "",
        "snugfit: pod no longer fits on n1: pod needs 1 GPU(s) with "
        "500m of a GPU free each; free per GPU: 0m",
    ]
    assert sorted(fetching) == ["a", "b"]
    assert len(bound) == 1
    winner = bound[0]
    assert results[("a", "b").index(winner)] == ""
    assert gpu_used(cache.state(), "n1") == [1000]
    assert int(cache.state().gpu_used.max()) <= 1000
    assert cache.held[f"uid-{winner}"] == Held("n1", PodDemand(0, 0, 1, 500), (0,), (500,), True)
    assert cache.applied[f"uid-{winner}"] == Placement(0, (0,), (500,), 0, 0)
    assert set(cache.held) == {"uid-x", f"uid-{winner}"}


@aio
async def test_concurrent_binds_where_the_first_fails_let_the_second_retry() -> None:
    cache = ClusterCache({})
    cache.replace_nodes([gpu_node("n1", 1)])
    cache.replace_pods([pod("a", {MILLI: "600"}), pod("b", {MILLI: "600"})])
    before = snapshot(cache.state())
    extender = Extender(PACKING, cache)
    in_flight, release = asyncio.Event(), asyncio.Event()

    async def fetch(namespace: str, name: str) -> dict[str, Any]:
        raise AssertionError("in the cache")

    async def failing_bind(*args: Any) -> None:
        in_flight.set()
        await release.wait()
        raise ApiError(500, "etcd timeout")

    first = asyncio.create_task(
        extender.bind(BindingArgs("a", "default", "uid-a", "n1"), fetch, failing_bind)
    )
    await in_flight.wait()  # a holds its reservation while its API calls are in flight
    second = await extender.bind(BindingArgs("b", "default", "uid-b", "n1"), fetch, failing_bind)
    assert second.startswith("snugfit: pod no longer fits on n1")
    release.set()
    assert (await first).endswith("failed: API server answered 500: etcd timeout")
    assert_same_state(before, snapshot(cache.state()))
    assert cache.held == {}

    async def ok_bind(*args: Any) -> None:
        return None

    retry = await extender.bind(BindingArgs("b", "default", "uid-b", "n1"), fetch, ok_bind)
    assert retry == ""
    assert gpu_used(cache.state(), "n1") == [600]


# ---- the Binding ---------------------------------------------------------------------------
def test_binding_names_the_uid_and_carries_the_assignment() -> None:
    assert binding("ns", "p", "uid-p", "n1", "V") == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "uid-p",
            "annotations": {"snugfit.io/gpu-assignment": "V"},
        },
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }


# ---- logs ----------------------------------------------------------------------------------
def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.LogRecord(
        "snugfit.server", logging.WARNING, "f.py", 1, "bound %s", ("p",), None
    )
    record.__dict__.update({"node": "gpu-2", "gpus": [0]})
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["level"] == "warning"
    assert entry["logger"] == "snugfit.server"
    assert entry["msg"] == "bound p"
    assert (entry["node"], entry["gpus"]) == ("gpu-2", [0])
    assert entry["ts"].endswith("Z")
