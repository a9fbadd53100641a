"""The list+watch reflector with scripted listers and watch streams; no real sleeps.

Each fake watch stream is a list of events, optionally ending in an exception. When the script
runs out, the watcher signals ``idle`` and blocks until the test cancels the reflector.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from snugfit.scheduler.kube import reflector
from snugfit.scheduler.kube.client import ApiError, GoneError
from snugfit.scheduler.kube.reflector import ReflectorStats, reflect, watch_from

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(10)]


def obj(name: str, rv: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"metadata": meta}


def event(kind: str, name: str, rv: str | None) -> dict[str, Any]:
    return {"type": kind, "object": obj(name, rv)}


def error_event(code: Any, message: str = "too old resource version") -> dict[str, Any]:
    return {"type": "ERROR", "object": {"kind": "Status", "code": code, "message": message}}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def replace(self, items: list[dict[str, Any]]) -> None:
        self.calls.append(("replace", [i["metadata"]["name"] for i in items]))

    def upsert(self, o: dict[str, Any]) -> None:
        self.calls.append(("upsert", o["metadata"]["name"]))

    def delete(self, o: dict[str, Any]) -> None:
        self.calls.append(("delete", o["metadata"]["name"]))


class Script:
    """Scripted list results and watch streams; records the versions each watch started from."""

    def __init__(self, lists: list[Any], streams: list[list[Any]]) -> None:
        self.lists = list(lists)
        self.streams = list(streams)
        self.watched_from: list[str] = []
        self.idle = asyncio.Event()

    async def lister(self) -> tuple[list[dict[str, Any]], str]:
        if not self.lists:
            await self._block()
            raise AssertionError("unreachable: cancelled while blocked")
        result = self.lists.pop(0)
        if isinstance(result, BaseException):
            raise result
        names, version = result
        return [obj(n, None) for n in names], version

    async def _block(self) -> Any:
        self.idle.set()
        await asyncio.Event().wait()  # until cancelled

    def watcher(self, version: str) -> AsyncIterator[dict[str, Any]]:
        self.watched_from.append(version)
        return self._stream(self.streams.pop(0) if self.streams else None)

    async def _stream(self, script: list[Any] | None) -> AsyncIterator[dict[str, Any]]:
        if script is None:
            await self._block()
            return
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield item


class FakeSleep:
    """Stands in for asyncio in the reflector module: records each back-off delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
def fake_sleep(monkeypatch: pytest.MonkeyPatch) -> FakeSleep:
    fake = FakeSleep()
    monkeypatch.setattr(reflector, "asyncio", SimpleNamespace(sleep=fake.sleep))
    return fake


async def run_until_idle(script: Script, handler: Recorder, **kw: Any) -> ReflectorStats:
    """Run the reflector until the script is used up, then cancel it (and check it stops).
    A reflector that ends by itself (it must run until cancelled) fails the test at once."""
    stats = ReflectorStats()
    task = asyncio.create_task(reflect(script.lister, script.watcher, handler, "pods", stats, **kw))
    idle = asyncio.create_task(script.idle.wait())
    done, _ = await asyncio.wait({task, idle}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    idle.cancel()
    if task in done:
        raise AssertionError(f"the reflector stopped by itself: {task.exception()!r}")
    assert idle in done, "the script was not used up within 5 s"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    return stats


async def test_list_then_watch_events(fake_sleep: FakeSleep) -> None:
    script = Script(
        lists=[(["a", "b"], "10")],
        streams=[
            [
                event("ADDED", "c", "11"),
                event("MODIFIED", "a", "12"),
                event("DELETED", "b", "13"),
            ],
            # the server closed the stream (timeoutSeconds): watch again from the last version
            [event("MODIFIED", "c", "14")],
        ],
    )
    handler = Recorder()
    stats = await run_until_idle(script, handler)
    assert handler.calls == [
        ("replace", ["a", "b"]),
        ("upsert", "c"),
        ("upsert", "a"),
        ("delete", "b"),
        ("upsert", "c"),
    ]
    assert script.watched_from == ["10", "13", "14"]
    assert (stats.lists, stats.relists_after_gone, stats.errors, stats.events) == (1, 0, 0, 4)
    assert fake_sleep.delays == []


async def test_bookmark_moves_the_version_without_calling_the_handler(
    fake_sleep: FakeSleep,
) -> None:
    script = Script(
        lists=[([], "10")],
        streams=[[event("ADDED", "a", "11"), {"type": "BOOKMARK", "object": obj("", "20")}]],
    )
    handler = Recorder()
    await run_until_idle(script, handler)
    assert handler.calls == [("replace", []), ("upsert", "a")]
    assert script.watched_from == ["10", "20"]


async def test_events_without_a_version_keep_the_last_one(fake_sleep: FakeSleep) -> None:
    script = Script(lists=[([], "10")], streams=[[event("ADDED", "a", None)]])
    await run_until_idle(script, Recorder())
    assert script.watched_from == ["10", "10"]


async def test_error_410_in_the_stream_lists_again(fake_sleep: FakeSleep) -> None:
    script = Script(
        lists=[(["a"], "10"), (["a", "b"], "30")],
        streams=[[event("ADDED", "b", "11"), error_event(410)], []],
    )
    handler = Recorder()
    stats = await run_until_idle(script, handler)
    assert handler.calls == [
        ("replace", ["a"]),
        ("upsert", "b"),
        ("replace", ["a", "b"]),
    ]
    assert script.watched_from == ["10", "30", "30"]
    assert (stats.lists, stats.relists_after_gone, stats.errors) == (2, 1, 0)
    assert fake_sleep.delays == []  # a relist after 410 does not wait


async def test_gone_when_opening_the_watch_lists_again(fake_sleep: FakeSleep) -> None:
    script = Script(
        lists=[([], "10"), ([], "40")],
        streams=[[GoneError(410, "Expired")]],
    )
    stats = await run_until_idle(script, Recorder())
    assert script.watched_from == ["10", "40"]
    assert (stats.lists, stats.relists_after_gone, stats.errors) == (2, 1, 0)
    assert fake_sleep.delays == []


@pytest.mark.parametrize(
    "failure",
    [
        error_event(500, "internal error"),
        error_event("503", "unavailable"),
        ApiError(500, "internal error"),
        aiohttp.ClientPayloadError("stream cut"),
        ConnectionResetError("reset"),
        TimeoutError(),
    ],
)
async def test_other_stream_errors_back_off_then_list_again(
    fake_sleep: FakeSleep, failure: Any
) -> None:
    script = Script(
        lists=[(["a"], "10"), (["a"], "20")],
        streams=[[event("ADDED", "b", "11"), failure]],
    )
    handler = Recorder()
    stats = await run_until_idle(script, handler, retry_delay=0.5)
    assert handler.calls == [("replace", ["a"]), ("upsert", "b"), ("replace", ["a"])]
    assert script.watched_from == ["10", "20"]
    assert (stats.lists, stats.relists_after_gone, stats.errors) == (2, 0, 1)
    assert fake_sleep.delays == [0.5]


async def test_back_off_doubles_up_to_the_cap_and_resets_after_a_list(
    fake_sleep: FakeSleep,
) -> None:
    down = ApiError(503, "unavailable")
    script = Script(
        lists=[down, down, down, down, ([], "10"), down, ([], "20")],
        streams=[[ApiError(500, "x")]],
    )
    stats = await run_until_idle(script, Recorder(), retry_delay=1.0, max_delay=4.0)
    # four failed lists: 1, 2, 4, 4 (capped); a list succeeds (reset to 1); its watch fails: 1;
    # the next list fails: 2; then the list succeeds and the watch blocks
    assert fake_sleep.delays == [1.0, 2.0, 4.0, 4.0, 1.0, 2.0]
    assert (stats.lists, stats.errors) == (2, 6)


class FailingRecorder(Recorder):
    """A handler with a bug: upserting the object named "bad" raises KeyError."""

    def upsert(self, o: dict[str, Any]) -> None:
        super().upsert(o)
        if o["metadata"]["name"] == "bad":
            raise KeyError("spec")


@pytest.mark.parametrize(
    ("lists", "streams", "handler", "calls", "watched_from", "error"),
    [
        # the list fails in an unexpected way (KeyError from a malformed page), then succeeds
        (
            [KeyError("resourceVersion"), (["a"], "10")],
            [],
            Recorder,
            [("replace", ["a"])],
            ["10"],
            "resourceVersion",
        ),
        # a watch line that is JSON but not an object: watch_from's event.get fails
        (
            [(["a"], "10"), (["a"], "20")],
            [[event("ADDED", "b", "11"), []]],
            Recorder,
            [("replace", ["a"]), ("upsert", "b"), ("replace", ["a"])],
            ["10", "20"],
            "has no attribute 'get'",
        ),
        # the handler raises on one object
        (
            [(["a"], "10"), (["a"], "20")],
            [[event("ADDED", "bad", "11")]],
            FailingRecorder,
            [("replace", ["a"]), ("upsert", "bad"), ("replace", ["a"])],
            ["10", "20"],
            "spec",
        ),
    ],
)
async def test_unexpected_errors_are_logged_and_retried(
    fake_sleep: FakeSleep,
    caplog: pytest.LogCaptureFixture,
    lists: list[Any],
    streams: list[list[Any]],
    handler: type[Recorder],
    calls: list[tuple[str, Any]],
    watched_from: list[str],
    error: str,
) -> None:
    script = Script(lists=lists, streams=streams)
    recorder = handler()
    with caplog.at_level(logging.WARNING, logger="snugfit.reflector"):
        await run_until_idle(script, recorder, retry_delay=0.5)
    # it did not die: it listed again and watched from the new list
    assert recorder.calls == calls
    assert script.watched_from == watched_from
    # it backed off like for any other error (a persistent bug must not spin)
    assert fake_sleep.delays == [0.5]

    def mentions(record: logging.LogRecord) -> bool:
        texts = [record.getMessage(), str(record.__dict__.get("error", ""))]
        if record.exc_info is not None:
            texts.append(str(record.exc_info[1]))
        return any(error in text for text in texts)

    assert any(
        r.name == "snugfit.reflector" and r.levelno >= logging.WARNING and mentions(r)
        for r in caplog.records
    )


async def test_zero_retry_delay_needs_no_patch() -> None:
    script = Script(lists=[ApiError(500, "x"), ([], "10")], streams=[])
    stats = await run_until_idle(script, Recorder(), retry_delay=0)
    assert (stats.lists, stats.errors) == (1, 1)


async def test_cancellation_during_back_off_stops_it() -> None:
    started = asyncio.Event()

    async def lister() -> tuple[list[dict[str, Any]], str]:
        started.set()
        raise ApiError(500, "down")

    def watcher(version: str) -> AsyncIterator[dict[str, Any]]:
        raise AssertionError("never watched")

    task = asyncio.create_task(reflect(lister, watcher, Recorder(), "nodes", retry_delay=3600))
    await asyncio.wait_for(started.wait(), timeout=5)  # it is now in its hour-long back-off
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_watch_from_returns_the_last_version() -> None:
    script = Script(lists=[], streams=[[event("ADDED", "a", "5"), event("DELETED", "a", "6")]])
    handler = Recorder()
    stats = ReflectorStats()
    assert await watch_from(script.watcher, handler, "4", stats) == "6"
    assert handler.calls == [("upsert", "a"), ("delete", "a")]
    assert stats.events == 2


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (error_event(410, "too old"), GoneError, 410),
        (error_event(500, "boom"), ApiError, 500),
        ({"type": "ERROR", "object": {}}, ApiError, 0),
        ({"type": "ERROR"}, ApiError, 0),
    ],
)
async def test_watch_from_raises_on_error_events(
    error: dict[str, Any], kind: type[ApiError], status: int
) -> None:
    script = Script(lists=[], streams=[[event("ADDED", "a", "5"), error]])
    handler = Recorder()
    with pytest.raises(kind) as caught:
        await watch_from(script.watcher, handler, "4", ReflectorStats())
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert handler.calls == [("upsert", "a")]
