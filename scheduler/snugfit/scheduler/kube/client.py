"""The few API calls the extender makes: list, watch, get, JSON patch, create."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from snugfit.scheduler.kube.connection import Connection


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"API server answered {status}: {message}")
        self.status = status
        self.message = message


class GoneError(ApiError):
    """410: the resource version is too old; list again."""


async def _raise_for(response: aiohttp.ClientResponse) -> None:
    if response.status < 400:
        return
    text = await response.text()
    try:
        message = orjson.loads(text).get("message", text)
    except orjson.JSONDecodeError:
        message = text[:500]
    raise (GoneError if response.status == 410 else ApiError)(response.status, message)


class KubeClient:
    def __init__(self, connection: Connection, session: aiohttp.ClientSession) -> None:
        self.connection = connection
        self.session = session

    def _url(self, path: str) -> str:
        return self.connection.server + path

    def _kw(self, **extra: Any) -> dict[str, Any]:
        kw: dict[str, Any] = {"headers": {**self.connection.headers, **extra.pop("headers", {})}}
        if self.connection.ssl_context is not None:
            kw["ssl"] = self.connection.ssl_context
        kw.update(extra)
        return kw

    async def get(self, path: str) -> dict[str, Any]:
        async with self.session.get(self._url(path), **self._kw()) as resp:
            await _raise_for(resp)
            result: dict[str, Any] = orjson.loads(await resp.read())
            return result

    async def list_all(
        self, path: str, params: dict[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """All items (following continue tokens) and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        query = {**(params or {}), "limit": "500"}
        while True:
            async with self.session.get(self._url(path), **self._kw(params=query)) as resp:
                await _raise_for(resp)
                page = orjson.loads(await resp.read())
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, page["metadata"]["resourceVersion"]
            query = {**query, "continue": token}

    async def watch(
        self, path: str, resource_version: str, timeout_s: int, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events from ``resource_version`` until the server closes the stream."""
        query = {
            **(params or {}),
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout_s + 30)
        async with self.session.get(
            self._url(path), **self._kw(params=query, timeout=timeout)
        ) as resp:
            await _raise_for(resp)
            async for line in resp.content:
                if line.strip():
                    yield orjson.loads(line)

    async def _send(self, method: str, path: str, body: Any, content_type: str) -> dict[str, Any]:
        headers = {"Content-Type": content_type}
        request = self.session.request(
            method, self._url(path), data=orjson.dumps(body), **self._kw(headers=headers)
        )
        async with request as resp:
            await _raise_for(resp)
            result: dict[str, Any] = orjson.loads(await resp.read())
            return result

    async def json_patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._send("PATCH", path, ops, "application/json-patch+json")

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send("POST", path, body, "application/json")


TRANSIENT = (
    ApiError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    orjson.JSONDecodeError,
    ConnectionError,
)
