"""The service with an API connection, against a small fake API server on loopback: paged
lists, watch streams, readiness, and bind through the real KubeClient (JSON merge patch,
Binding).

The fake server pages lists one item at a time (continue tokens) and serves each watch from a
queue the test feeds; the cache signals every applied pod event, so nothing waits on a clock.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import orjson
import pytest
from aiohttp import web
from service_objects import assignment, gpu_node, gpu_used, pod

from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.server import build_app
from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.kube.connection import Connection

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(15)]
MILLI = "snugfit.io/gpu-milli"


class FakeApi:
    def __init__(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        self.items = {"nodes": nodes, "pods": pods}
        self.queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = {
            "nodes": asyncio.Queue(),
            "pods": asyncio.Queue(),
        }
        self.watching = {"nodes": asyncio.Event(), "pods": asyncio.Event()}
        self.list_queries: list[tuple[str, dict[str, str]]] = []
        self.watch_queries: list[tuple[str, dict[str, str]]] = []
        self.patches: list[tuple[str, str, Any]] = []
        self.bindings: list[tuple[str, Any]] = []
        self.headers: set[str | None] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/{resource}", self.list_or_watch)
        app.router.add_patch("/api/v1/namespaces/{ns}/pods/{name}", self.patch)
        app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/binding", self.bind)
        return app

    async def list_or_watch(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info["resource"]
        query = dict(request.query)
        self.headers.add(request.headers.get("X-Test"))
        if query.get("watch") == "1":
            return await self.watch(request, resource, query)
        self.list_queries.append((resource, query))
        start = int(query.get("continue", "0"))
        items = self.items[resource]
        page = items[start : start + 1]  # one item a page: the client must follow continue
        meta: dict[str, Any] = {"resourceVersion": "100"}
        if start + 1 < len(items):
            meta["continue"] = str(start + 1)
        return web.json_response({"kind": "List", "metadata": meta, "items": page})

    async def watch(
        self, request: web.Request, resource: str, query: dict[str, str]
    ) -> web.StreamResponse:
        self.watch_queries.append((resource, query))
        response = web.StreamResponse()
        await response.prepare(request)
        self.watching[resource].set()
        while (item := await self.queues[resource].get()) is not None:
            await response.write(orjson.dumps(item) + b"\n")
        return response

    async def patch(self, request: web.Request) -> web.Response:
        path = f"{request.match_info['ns']}/{request.match_info['name']}"
        self.patches.append((path, request.content_type, await request.json()))
        return web.json_response({})

    async def bind(self, request: web.Request) -> web.Response:
        self.bindings.append((request.path, await request.json()))
        return web.json_response({}, status=201)

    def stop_watches(self) -> None:
        for queue in self.queues.values():
            queue.put_nowait(None)


class SignallingCache(ClusterCache):
    """Sets ``pod_event`` after each pod event is applied."""

    def __init__(self) -> None:
        super().__init__({})
        self.pod_event = asyncio.Event()

    def upsert_pod(self, pod: Any) -> None:
        super().upsert_pod(pod)
        self.pod_event.set()


async def test_lists_watches_and_binds_through_the_api(
    aiohttp_server: Any, aiohttp_client: Any
) -> None:
    half = pod("half", {MILLI: "500"}, node="gpu-2", annotations=assignment("gpu-2", [0], [500]))
    waiting = pod("p", {MILLI: "500", "cpu": "1"})
    api = FakeApi([gpu_node("gpu-1", 1), gpu_node("gpu-2", 2)], [half, waiting])
    api_server = await aiohttp_server(api.app())
    cache = SignallingCache()
    connection = Connection(f"http://127.0.0.1:{api_server.port}", None, {"X-Test": "yes"})
    client = await aiohttp_client(build_app(ExtenderConfig(policy="packing"), cache, connection))
    try:
        await asyncio.wait_for(api.watching["nodes"].wait(), 5)
        await asyncio.wait_for(api.watching["pods"].wait(), 5)
        # both lists were read page by page before the watches started: ready
        assert (await client.get("/readyz")).status == 200
        assert [q.get("continue") for r, q in api.list_queries if r == "nodes"] == [None, "1"]
        pod_lists = [q for r, q in api.list_queries if r == "pods"]
        assert pod_lists[0]["fieldSelector"] == "status.phase!=Succeeded,status.phase!=Failed"
        assert all(q["limit"] == "500" for _, q in api.list_queries)
        watches = {r: q for r, q in api.watch_queries}
        assert watches["pods"]["resourceVersion"] == "100"
        assert watches["pods"]["allowWatchBookmarks"] == "true"
        assert watches["nodes"]["timeoutSeconds"] == "300"
        assert api.headers == {"yes"}  # the connection's headers (auth) on every call
        assert gpu_used(cache.state(), "gpu-2") == [500, 0]
        assert set(cache.pods) == {"uid-half", "uid-p"}

        # filter sees the listed nodes
        args = {"Pod": waiting, "NodeNames": ["gpu-1", "gpu-2"]}
        reply = await (await client.post("/filter", json=args)).json()
        assert (reply["NodeNames"], reply["Error"]) == (["gpu-1", "gpu-2"], "")

        # bind: one Binding with the pod's UID, carrying the assignment; no patch
        bind = {"PodName": "p", "PodNamespace": "default", "PodUID": "uid-p", "Node": "gpu-2"}
        assert await (await client.post("/bind", json=bind)).json() == {"Error": ""}
        value = '{"node":"gpu-2","gpus":[{"index":0,"uuid":"GPU-gpu-2-0","milli":500}]}'
        assert api.patches == []
        assert api.bindings == [
            (
                "/api/v1/namespaces/default/pods/p/binding",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {
                        "name": "p",
                        "namespace": "default",
                        "uid": "uid-p",
                        "annotations": {"snugfit.io/gpu-assignment": value},
                    },
                    "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-2"},
                },
            )
        ]
        assert gpu_used(cache.state(), "gpu-2") == [1000, 0]
        assert cache.held["uid-p"].assumed

        # the watch shows the pod bound with its annotation: the reservation is confirmed
        bound = copy.deepcopy(waiting)
        bound["spec"]["nodeName"] = "gpu-2"
        bound["metadata"]["annotations"]["snugfit.io/gpu-assignment"] = value
        bound["metadata"]["resourceVersion"] = "101"
        cache.pod_event.clear()
        api.queues["pods"].put_nowait({"type": "MODIFIED", "object": bound})
        await asyncio.wait_for(cache.pod_event.wait(), 5)
        assert not cache.held["uid-p"].assumed
        assert gpu_used(cache.state(), "gpu-2") == [1000, 0]
        text = await (await client.get("/metrics")).text()
        assert 'snugfit_watch_events_total{resource="pods"} 1.0' in text
        assert json.loads(value)["gpus"][0]["uuid"] == "GPU-gpu-2-0"
    finally:
        await client.close()  # stops the reflectors
        api.stop_watches()
