"""A throwaway PKI for a loopback control plane, made with the openssl CLI.

Everything lives in one directory that the caller removes: a CA, serving certificates for
127.0.0.1 (kube-apiserver, kube-scheduler), a service-account key pair and a static token file
whose only user is an admin in ``system:masters``.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_DAYS = "2"
_SERVING_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


@dataclass(frozen=True)
class Pki:
    """Paths of the files a loopback control plane needs, and the admin's bearer token."""

    ca_cert: Path
    apiserver_cert: Path
    apiserver_key: Path
    scheduler_cert: Path
    scheduler_key: Path
    service_account_key: Path
    service_account_pub: Path
    token_file: Path
    admin_token: str


def make_pki(directory: Path) -> Pki:
    """Write a fresh CA, serving certificates, service-account keys and token file."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ca(directory)
    apiserver_cert, apiserver_key = _serving(directory, "kube-apiserver", ca_cert, ca_key)
    scheduler_cert, scheduler_key = _serving(directory, "kube-scheduler", ca_cert, ca_key)
    sa_key = directory / "sa.key"
    sa_pub = directory / "sa.pub"
    _ec_key(sa_key)
    _openssl("pkey", "-in", str(sa_key), "-pubout", "-out", str(sa_pub))
    admin_token = secrets.token_hex(24)
    token_file = directory / "tokens.csv"
    token_file.write_text(f'{admin_token},admin,admin-uid,"system:masters"\n')
    return Pki(
        ca_cert=ca_cert,
        apiserver_cert=apiserver_cert,
        apiserver_key=apiserver_key,
        scheduler_cert=scheduler_cert,
        scheduler_key=scheduler_key,
        service_account_key=sa_key,
        service_account_pub=sa_pub,
        token_file=token_file,
        admin_token=admin_token,
    )


def _ca(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "ca.key", directory / "ca.crt"
    _ec_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", _DAYS,
        "-subj", "/CN=snugfit-e2e-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _serving(directory: Path, name: str, ca_cert: Path, ca_key: Path) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.{suffix}" for suffix in ("key", "csr", "crt"))
    extensions = directory / f"{name}.ext"
    extensions.write_text(_SERVING_EXTENSIONS)
    _ec_key(key)
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-set_serial", str(secrets.randbits(63)), "-days", _DAYS,
        "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def _ec_key(path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError(
            "the openssl CLI is not on PATH; the e2e harness needs it for certificates"
        )
    done = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
