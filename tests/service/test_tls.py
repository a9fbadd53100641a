"""The extender over HTTPS (kube-scheduler's enableHTTPS + tlsConfig), with and without the
client-certificate check, against certificates made by the openssl CLI."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from snugfit.scheduler.app.config import ExtenderConfig
from snugfit.scheduler.app.server import build_app, tls_context

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio]

SERVER_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
CLIENT_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def issue(tmp: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (tmp / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    ext.write_text(extensions)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
            "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(ext))  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = tmp / "ca.crt", tmp / "ca.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(ca_key), "-out", str(ca_cert), "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    server = issue(tmp, "server", (ca_cert, ca_key), SERVER_EXT)
    client = issue(tmp, "client", (ca_cert, ca_key), CLIENT_EXT)
    return {"ca": ca_cert, "server_cert": server[0], "server_key": server[1],
            "client_cert": client[0], "client_key": client[1]}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serving(config: ExtenderConfig) -> AsyncIterator[str]:
    runner = web.AppRunner(build_app(config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", config.port, ssl_context=tls_context(config))
    await site.start()
    try:
        yield f"https://127.0.0.1:{config.port}"
    finally:
        await runner.cleanup()


def client_context(pki: dict[str, Path], with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    if with_cert:
        ctx.load_cert_chain(pki["client_cert"], pki["client_key"])
    return ctx


async def test_https_serves_the_verbs(pki: dict[str, Path]) -> None:
    config = ExtenderConfig(port=free_port(), tls_cert_file=pki["server_cert"],
                            tls_key_file=pki["server_key"]).validate()  # fmt: skip
    async for url in serving(config):
        async with aiohttp.ClientSession() as session:
            ctx = client_context(pki, with_cert=False)
            async with session.get(f"{url}/healthz", ssl=ctx) as response:
                assert response.status == 200
            body = {"Pod": {"metadata": {"name": "p"}, "spec": {}}, "NodeNames": ["n1"]}
            async with session.post(f"{url}/filter", json=body, ssl=ctx) as response:
                reply = await response.json()
            assert reply["FailedNodes"] == {"n1": "snugfit: node not yet known to snugfit"}
            with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port
                async with session.get(f"http://127.0.0.1:{config.port}/healthz") as response:
                    await response.read()


async def test_client_certificate_is_required_when_a_client_ca_is_set(pki: dict[str, Path]) -> None:
    config = ExtenderConfig(port=free_port(), tls_cert_file=pki["server_cert"],
                            tls_key_file=pki["server_key"], client_ca_file=pki["ca"]).validate()  # fmt: skip
    async for url in serving(config):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(
                    f"{url}/healthz", ssl=client_context(pki, with_cert=False)
                ) as r:
                    await r.read()
        ctx = client_context(pki, with_cert=True)
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz", ssl=ctx) as r:
            assert r.status == 200
