"""List, then watch from that resourceVersion (with bookmarks); on 410 list again; on other
errors wait and start over. The handler sees replace / upsert / delete."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from snugfit.scheduler.kube.client import TRANSIENT, ApiError, GoneError

log = logging.getLogger("snugfit.reflector")


class Handler(Protocol):
    def replace(self, items: list[dict[str, Any]]) -> None: ...
    def upsert(self, obj: dict[str, Any]) -> None: ...
    def delete(self, obj: dict[str, Any]) -> None: ...


Lister = Callable[[], Awaitable[tuple[list[dict[str, Any]], str]]]
Watcher = Callable[[str], AsyncIterator[dict[str, Any]]]


@dataclass
class ReflectorStats:
    lists: int = 0
    relists_after_gone: int = 0
    errors: int = 0
    events: int = 0


async def watch_from(
    watcher: Watcher, handler: Handler, version: str, stats: ReflectorStats
) -> str:
    """Apply one watch stream; return the last resourceVersion seen. Raises GoneError on 410."""
    async for event in watcher(version):
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code", 0))
            raise (GoneError if code == 410 else ApiError)(code, str(obj.get("message", "")))
        version = (obj.get("metadata") or {}).get("resourceVersion", version)
        stats.events += 1
        if kind in ("ADDED", "MODIFIED"):
            handler.upsert(obj)
        elif kind == "DELETED":
            handler.delete(obj)
    return version


async def reflect(
    lister: Lister,
    watcher: Watcher,
    handler: Handler,
    name: str,
    stats: ReflectorStats | None = None,
    retry_delay: float = 1.0,
    max_delay: float = 30.0,
) -> None:
    """Run forever (until cancelled)."""
    stats = stats or ReflectorStats()
    delay = retry_delay
    while True:
        try:
            items, version = await lister()
            stats.lists += 1
            handler.replace(items)
            delay = retry_delay
            while True:
                version = await watch_from(watcher, handler, version, stats)
        except GoneError:
            stats.relists_after_gone += 1
            log.info("watch expired; listing again", extra={"resource": name})
        except TRANSIENT as exc:
            stats.errors += 1
            log.warning(
                "watch failed; retrying",
                extra={"resource": name, "error": str(exc), "delay_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
        except Exception as exc:  # a bug or a malformed object must not end the watch for good
            stats.errors += 1
            log.exception(
                "unexpected error in watch; retrying", extra={"resource": name, "error": str(exc)}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
