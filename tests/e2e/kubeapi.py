"""A minimal Kubernetes REST client over plain HTTPS (stdlib only), plus bounded polling."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
JsonObject = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer from the API server, with its status code and decoded body."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class KubeApi:
    """Talks JSON to one API server as the bearer of ``token``, trusting only ``ca_cert``."""

    server: str
    token: str
    ca_cert: Path

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> JsonObject:
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._tls()) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as err:
            with err:
                raise ApiError(
                    method, path, err.code, err.read().decode(errors="replace")
                ) from None
        decoded: JsonObject = json.loads(payload) if payload.strip() else {}
        return decoded

    def get(self, path: str, **query: str) -> JsonObject:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: Mapping[str, Any]) -> JsonObject:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> JsonObject:
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path: str) -> JsonObject:
        return self.request("DELETE", path)

    def get_text(self, path: str, timeout: float = 5.0) -> str:
        """GET a plain-text endpoint such as ``/readyz``; raises ApiError unless 200."""
        req = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._tls()) as resp:
                return str(resp.read().decode())
        except urllib.error.HTTPError as err:
            with err:
                raise ApiError("GET", path, err.code, err.read().decode(errors="replace")) from None

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def poll(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    give_up: Callable[[], str | None] = lambda: None,
) -> T:
    """Call ``probe`` until it returns something other than None, for at most ``timeout`` s.

    ``give_up`` is checked between tries; a message from it (say, "etcd exited") ends the wait
    at once. The last exception ``probe`` raised, if any, is chained to the TimeoutError.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
        except (OSError, ApiError) as err:  # not up yet, refused, 503 ...
            result, last_error = None, err
        if result is not None:
            return result
        reason = give_up()
        if reason is not None:
            raise RuntimeError(f"gave up waiting for {what}: {reason}") from last_error
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout:.0f} s waiting for {what}"
            ) from last_error
        time.sleep(interval)
