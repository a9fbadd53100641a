"""The aiohttp application: extender verbs, health, readiness, metrics; the same factory runs
in production and in tests."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from snugfit.packing.fragmentation import cluster_fragmentation
from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.extender import Extender, binding
from snugfit.scheduler.app.metrics import ExtenderMetrics
from snugfit.scheduler.cache.cluster_cache import ClusterCache
from snugfit.scheduler.kube.client import KubeClient
from snugfit.scheduler.kube.connection import Connection, from_kubeconfig, in_cluster
from snugfit.scheduler.kube.reflector import ReflectorStats, reflect
from snugfit.scheduler.protocol.inventory import INVENTORY_SOURCES
from snugfit.scheduler.protocol.wire import (
    WireError,
    binding_result,
    filter_error,
    parse_binding_args,
    parse_extender_args,
)

log = logging.getLogger("snugfit.server")
EXTENDER = web.AppKey("extender", Extender)
METRICS = web.AppKey("metrics", ExtenderMetrics)
CONFIG = web.AppKey("config", ExtenderConfig)
KUBE = web.AppKey("kube", KubeClient)
# work to do once a reply is sent; it returns whether there was any
AFTER_REPLY: web.RequestKey[Callable[[], bool]] = web.RequestKey("after_reply")
NOT_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"
AFTER_REPLY_WAIT_S = 0.0005  # how often to look whether the reply has left, before that work
AFTER_REPLY_TRIES = 20


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _read_json(request: web.Request) -> Any:
    return _loads(await request.read())


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"body is not valid JSON: {exc}") from None


Verb = Callable[[web.Request], Awaitable[web.Response]]


def _timed(verb: str, handler: Verb) -> Verb:
    """Latency and outcome metrics, and a well-formed reply for every failure."""

    async def wrapped(request: web.Request) -> web.Response:
        metrics = request.app[METRICS]
        started = time.perf_counter()
        outcome = "ok"
        try:
            response = await handler(request)
            if response.status >= 400:
                outcome = "rejected"
        except web.HTTPRequestEntityTooLarge:
            outcome = "rejected"
            response = _json({"Error": "snugfit: request body too large"}, status=413)
        except Exception:
            outcome = "error"
            log.exception("handler failed", extra={"verb": verb})
            response = _json(
                {"Error": f"snugfit: internal error while handling {verb}"}, status=500
            )
        elapsed = time.perf_counter() - started
        metrics.requests.labels(verb, outcome).inc()
        metrics.latency.labels(verb).observe(elapsed)
        response.headers["Server-Timing"] = f"handler;dur={elapsed * 1000:.3f}"
        after = request.get(AFTER_REPLY)
        if after is not None and outcome == "ok":
            try:
                await response.prepare(request)
                await response.write_eof()
            except ConnectionError:
                return response  # the client has gone: nothing to prepare for
            _once_sent(request, after, metrics, verb)
        return response

    return wrapped


def _once_sent(
    request: web.Request, work: Callable[[], bool], metrics: ExtenderMetrics, verb: str
) -> None:
    """Run ``work`` when the reply has left this process (the transport's buffer is empty),
    or after AFTER_REPLY_TRIES looks, so that it does not delay the reply it follows."""
    loop = asyncio.get_running_loop()

    def attempt(tries_left: int) -> None:
        transport = request.transport
        if transport is not None and transport.get_write_buffer_size() and tries_left:
            loop.call_later(AFTER_REPLY_WAIT_S, attempt, tries_left - 1)
            return
        started = time.perf_counter()
        try:
            done = work()
        except Exception:
            log.exception("work after the reply failed", extra={"verb": verb})
            return
        if done:
            metrics.after_reply.labels(verb).observe(time.perf_counter() - started)

    attempt(AFTER_REPLY_TRIES)


async def handle_filter(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        args = parse_extender_args(_loads(body), body)
    except WireError as exc:
        return _json(filter_error(f"snugfit: malformed filter request: {exc}"))
    extender = request.app[EXTENDER]
    result = extender.filter(args)
    request[AFTER_REPLY] = extender.prepare_prioritize
    return _json(result.to_wire(cache_capable=args.nodes is None))


async def handle_prioritize(request: web.Request) -> web.Response:
    body, extender, metrics = await request.read(), request.app[EXTENDER], request.app[METRICS]
    reply = extender.prioritize_unparsed(body)
    if reply is None:
        try:
            args = parse_extender_args(_loads(body))
        except WireError as exc:
            return _json({"Error": f"snugfit: malformed prioritize request: {exc}"}, status=400)
        reply = extender.prioritize(args)
    metrics.prioritize_replies.labels("prepared" if reply.prepared else "computed").inc()
    if reply.unparsed:
        metrics.prioritize_unparsed.inc()
    return web.Response(body=reply.body, content_type="application/json")


async def handle_bind(request: web.Request) -> web.Response:
    try:
        args = parse_binding_args(await _read_json(request))
    except WireError as exc:
        return _json(binding_result(f"snugfit: malformed bind request: {exc}"))
    kube = request.app.get(KUBE)
    if kube is None:
        return _json(binding_result("snugfit: no API server connection"))

    async def fetch(namespace: str, name: str) -> dict[str, Any]:
        return await kube.get(f"/api/v1/namespaces/{namespace}/pods/{name}")

    async def bind(namespace: str, name: str, uid: str, node: str, assignment: str) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/binding"
        await kube.create(path, binding(namespace, name, uid, node, assignment))

    error = await request.app[EXTENDER].bind(args, fetch, bind)
    _refresh_gauges(request.app)
    return _json(binding_result(error))


async def handle_healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def handle_readyz(request: web.Request) -> web.Response:
    cache = request.app[EXTENDER].cache
    if not cache.synced:
        return web.Response(status=503, text="cache not synced with the API server yet")
    return web.Response(text="ok")


def _refresh_gauges(app: web.Application) -> None:
    extender, metrics = app[EXTENDER], app[METRICS]
    cache = extender.cache
    state = cache.state()
    allocated = state.allocated_gpu_milli()
    metrics.gpus_allocated.set(allocated / 1000)
    metrics.gpus_free.set((state.total_gpu_milli() - allocated) / 1000)
    metrics.gpus_idle.set(int(((state.gpu_used == 0) & state.gpu_real).sum()))
    workload = extender.scheduler().policy.context.workload
    if workload is not None:
        metrics.fragmentation.set(cluster_fragmentation(state, workload) / 1000)
    metrics.conflicts.set(len(cache.conflicts))
    metrics.reservations.set(sum(1 for h in cache.held.values() if h.assumed))
    sources = dict.fromkeys(INVENTORY_SOURCES, 0)
    for inventory in cache.inventories.values():
        sources[inventory.source] = sources.get(inventory.source, 0) + 1
    for source, n in sources.items():
        metrics.nodes.labels(source).set(n)


def build_app(
    config: ExtenderConfig, cache: ClusterCache | None = None, connection: Connection | None = None
) -> web.Application:
    """The application; with a connection it watches the API server and can bind."""
    cache = cache or ClusterCache(
        config.model_memory_mib, config.default_model, config.gpushare_unit_mib
    )
    app = web.Application(client_max_size=config.max_request_bytes)
    app[CONFIG] = config
    app[EXTENDER] = Extender(config, cache)
    app[METRICS] = ExtenderMetrics()
    metrics_handler = make_aiohttp_handler(app[METRICS].registry)

    async def handle_metrics(request: web.Request) -> web.StreamResponse:
        _refresh_gauges(request.app)
        return await metrics_handler(request)

    app.router.add_post("/filter", _timed("filter", handle_filter))
    app.router.add_post("/prioritize", _timed("prioritize", handle_prioritize))
    app.router.add_post("/bind", _timed("bind", handle_bind))
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/readyz", handle_readyz)
    app.router.add_get("/metrics", handle_metrics)
    if connection is not None:
        app.cleanup_ctx.append(_watching(connection))
    return app


def _watching(connection: Connection) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        kube = KubeClient(connection, session)
        app[KUBE] = kube
        cache = app[EXTENDER].cache
        metrics, timeout = app[METRICS], app[CONFIG].watch_timeout_s
        tasks = [
            asyncio.create_task(
                _reflect(kube, "/api/v1/nodes", {}, _node_feed(cache, metrics), timeout)
            ),
            asyncio.create_task(
                _reflect(
                    kube,
                    "/api/v1/pods",
                    {"fieldSelector": NOT_TERMINAL},
                    _pod_feed(cache, metrics),
                    timeout,
                )
            ),
        ]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()

    return context


async def _reflect(
    kube: KubeClient, path: str, params: dict[str, str], handler: Any, timeout: int
) -> None:
    await reflect(
        lambda: kube.list_all(path, params),
        lambda version: kube.watch(path, version, timeout, params),
        handler,
        path,
        ReflectorStats(),
    )


class _Feed:
    """What a reflector calls, sent to the cache's methods for one kind of object."""

    def __init__(self, replace: Callable[[list[dict[str, Any]]], None],
                 upsert: Callable[[dict[str, Any]], None], delete: Callable[[dict[str, Any]], None],
                 events: Any) -> None:  # fmt: skip
        self.replace, self._upsert, self._delete, self.events = replace, upsert, delete, events

    def upsert(self, obj: dict[str, Any]) -> None:
        self.events.inc()
        self._upsert(obj)

    def delete(self, obj: dict[str, Any]) -> None:
        self.events.inc()
        self._delete(obj)


def _node_feed(cache: ClusterCache, metrics: ExtenderMetrics) -> _Feed:
    events = metrics.watch_events.labels("nodes")
    return _Feed(cache.replace_nodes, cache.upsert_node, cache.delete_node, events)


def _pod_feed(cache: ClusterCache, metrics: ExtenderMetrics) -> _Feed:
    events = metrics.watch_events.labels("pods")
    return _Feed(cache.replace_pods, cache.upsert_pod, cache.delete_pod, events)


def tls_context(config: ExtenderConfig) -> ssl.SSLContext | None:
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    if config.client_ca_file is not None:
        ctx.load_verify_locations(config.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def connection_for(config: ExtenderConfig) -> Connection:
    return from_kubeconfig(config.kubeconfig) if config.kubeconfig else in_cluster()


def serve(config: ExtenderConfig) -> None:
    app = build_app(config, connection=connection_for(config))
    log.info(
        "starting",
        extra={
            "host": config.host,
            "port": config.port,
            "policy": config.policy,
            "mode": config.mode,
            "tls": config.tls_cert_file is not None,
        },
    )
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        ssl_context=tls_context(config),
        print=None,
        access_log=None,
    )
