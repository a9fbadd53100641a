"""Where the API server is and how to authenticate: a kubeconfig file or the in-cluster
service account."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConnectionConfigError(ValueError):
    """The kubeconfig or in-cluster settings are unusable; the message says why."""


@dataclass(frozen=True)
class Connection:
    server: str
    ssl_context: ssl.SSLContext | None
    headers: dict[str, str] = field(default_factory=dict)


def _data_or_file(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        path = Path(entry[key])
        return (path if path.is_absolute() else base / path).read_bytes()
    return None


def _context(
    ca: bytes | None, cert: bytes | None, key: bytes | None, insecure: bool
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert and key:
        with tempfile.TemporaryDirectory() as tmp:  # ssl loads client keys from files only
            cert_path, key_path = Path(tmp, "c.pem"), Path(tmp, "k.pem")
            cert_path.write_bytes(cert)
            key_path.write_bytes(key)
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


def from_kubeconfig(path: Path, context: str | None = None) -> Connection:
    try:
        config = yaml.safe_load(path.read_text())
        name = context or config["current-context"]
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        users = config.get("users") or []
        user: dict[str, Any] = next((u["user"] for u in users if u["name"] == ctx.get("user")), {})
        base = path.parent
        server = cluster["server"].rstrip("/")
        headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
        tls = None
        if server.startswith("https://"):
            tls = _context(
                _data_or_file(cluster, "certificate-authority", base),
                _data_or_file(user, "client-certificate", base),
                _data_or_file(user, "client-key", base),
                bool(cluster.get("insecure-skip-tls-verify")),
            )
    except (OSError, KeyError, StopIteration, TypeError, yaml.YAMLError, ssl.SSLError) as exc:
        raise ConnectionConfigError(
            f"kubeconfig {path}: cannot use it ({type(exc).__name__}: {exc})"
        ) from None
    return Connection(server, tls, headers)


def in_cluster() -> Connection:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        raise ConnectionConfigError(
            "not in a cluster (KUBERNETES_SERVICE_HOST unset) and no kubeconfig given"
        )
    try:
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        ca = (SERVICE_ACCOUNT / "ca.crt").read_bytes()
    except OSError as exc:
        raise ConnectionConfigError(f"service account files unreadable: {exc}") from None
    host = f"[{host}]" if ":" in host else host
    return Connection(
        f"https://{host}:{port}",
        _context(ca, None, None, False),
        {"Authorization": f"Bearer {token}"},
    )
