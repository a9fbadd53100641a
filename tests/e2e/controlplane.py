"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-scheduler.

The binaries come from ``tests/e2e/kubernetes/build.sh`` (Kubernetes pinned in its go.mod).
Everything else (certificates, tokens, etcd's data, logs, kubeconfig, scheduler configs) lives
in one temporary directory that is removed on exit, as are all processes, even on failure::

    with ControlPlane.start(ensure_binaries()) as cp:
        cp.api.create("/api/v1/nodes", node)
        with cp.start_scheduler({"apiVersion": "kubescheduler.config.k8s.io/v1", ...}):
            ...

Set SNUGFIT_E2E_KEEP=1 to keep the directory (logs included) for a post-mortem.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from kubeapi import KubeApi, poll
from pki import Pki, make_pki
from processes import Process

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SH = REPO_ROOT / "tests" / "e2e" / "kubernetes" / "build.sh"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"  # allocated from, never routed to
APISERVER_READY_S = 120.0
SCHEDULER_READY_S = 60.0


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_scheduler: Path

    @classmethod
    def in_dir(cls, bin_dir: Path) -> Binaries:
        return cls(bin_dir / "etcd", bin_dir / "kube-apiserver", bin_dir / "kube-scheduler")

    def missing(self) -> list[Path]:
        return [p for p in (self.etcd, self.kube_apiserver, self.kube_scheduler) if not _runs(p)]


def ensure_binaries() -> Binaries:
    """The pinned binaries, built by build.sh first when any is missing (never a skip)."""
    binaries = Binaries.in_dir(Path(_build_sh("--print-bin-dir")))
    if binaries.missing():
        binaries = Binaries.in_dir(Path(_build_sh()))
    if binaries.missing():
        raise RuntimeError(f"{BUILD_SH} finished but these are missing: {binaries.missing()}")
    return binaries


def _build_sh(*args: str) -> str:
    # build.sh's progress goes to stderr (shown live); its last stdout line is the bin dir.
    done = subprocess.run(
        ["bash", str(BUILD_SH), *args], stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        command = " ".join([str(BUILD_SH), *args])
        raise RuntimeError(
            f"{command} failed with exit code {done.returncode} (its error is above)"
        )
    return done.stdout.strip().splitlines()[-1]


def _runs(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


class ControlPlane:
    """etcd + kube-apiserver on free loopback ports, an admin client, and schedulers on demand."""

    def __init__(self, binaries: Binaries, workdir: Path) -> None:
        self.binaries = binaries
        self.workdir = workdir
        self.pki: Pki = make_pki(workdir / "pki")
        self.processes: list[Process] = []
        self.apiserver_port, etcd_client, etcd_peer = free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{etcd_client}"
        self._etcd_peer_url = f"http://127.0.0.1:{etcd_peer}"
        self.api = KubeApi(
            f"https://127.0.0.1:{self.apiserver_port}", self.pki.admin_token, self.pki.ca_cert
        )
        self.kubeconfig = workdir / "kubeconfig"
        self._scheduler_numbers = itertools.count()

    @classmethod
    @contextlib.contextmanager
    def start(cls, binaries: Binaries) -> Iterator[ControlPlane]:
        keep = os.environ.get("SNUGFIT_E2E_KEEP") == "1"
        workdir = Path(tempfile.mkdtemp(prefix="snugfit-e2e-"))
        try:
            with cls(binaries, workdir) as control_plane:
                yield control_plane
        finally:
            if keep:
                print(f"SNUGFIT_E2E_KEEP=1: kept {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        try:
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            print(self.log_tails(), file=sys.stderr)
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def start_scheduler(self, config: Mapping[str, Any] | Path, name: str = "") -> Scheduler:
        """Start kube-scheduler with a KubeSchedulerConfiguration (a mapping or YAML file).

        The harness sets ``clientConnection.kubeconfig`` to its admin kubeconfig and turns
        leader election off; everything else is the caller's. Returns once /readyz says 200.
        """
        settings = dict(yaml.safe_load(config.read_text()) if isinstance(config, Path) else config)
        settings["clientConnection"] = {
            **settings.get("clientConnection", {}),
            "kubeconfig": str(self.kubeconfig),
        }
        settings["leaderElection"] = {**settings.get("leaderElection", {}), "leaderElect": False}
        name = name or f"kube-scheduler-{next(self._scheduler_numbers)}"
        config_file = self.workdir / f"{name}.config.json"
        config_file.write_text(json.dumps(settings, indent=2))
        (port,) = free_ports(1)
        process = self._spawn(name, [
            str(self.binaries.kube_scheduler),
            f"--config={config_file}",
            "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--tls-cert-file={self.pki.scheduler_cert}",
            f"--tls-private-key-file={self.pki.scheduler_key}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            "--authentication-skip-lookup",  # no front-proxy CA in this cluster to look up
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--v=2",
        ])  # fmt: skip
        scheduler = Scheduler(self, process, port)
        try:
            scheduler.wait_ready()
        except Exception as err:
            scheduler.stop()
            raise RuntimeError(f"{name} did not turn ready\n{process.log_tail()}") from err
        except BaseException:
            scheduler.stop()
            raise
        return scheduler

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(p.log_tail(lines) for p in self.processes)

    def _spawn(self, name: str, argv: list[str]) -> Process:
        process = Process.spawn(name, argv, self.workdir / f"{name}.log")
        self.processes.append(process)
        return process

    def _start_etcd(self) -> None:
        etcd = self._spawn("etcd", [
            str(self.binaries.etcd),
            "--name=e2e", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}", f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={self._etcd_peer_url}",
            f"--initial-advertise-peer-urls={self._etcd_peer_url}",
            f"--initial-cluster=e2e={self._etcd_peer_url}",
            "--initial-cluster-state=new", "--log-level=warn",
        ])  # fmt: skip
        poll(
            lambda: True if '"health":"true"' in _http_get(f"{self.etcd_url}/health") else None,
            timeout=30, what="etcd /health", give_up=etcd.exit_reason,
        )  # fmt: skip

    def _start_apiserver(self) -> None:
        pki = self.pki
        apiserver = self._spawn("kube-apiserver", [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={pki.apiserver_cert}", f"--tls-private-key-file={pki.apiserver_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={pki.token_file}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--disable-admission-plugins=ServiceAccount",
            "--endpoint-reconciler-type=none",  # no Endpoints pointing at loopback
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            "--profiling=false", "--v=1",
        ])  # fmt: skip
        poll(
            lambda: True if self.api.get_text("/readyz") == "ok" else None,
            timeout=APISERVER_READY_S, what="kube-apiserver /readyz", give_up=self._any_exited,
        )  # fmt: skip
        # Pods go to "default"; the API server creates it just after it turns ready.
        poll(
            lambda: self.api.get("/api/v1/namespaces/default"),
            timeout=30, what="namespace default", give_up=apiserver.exit_reason,
        )  # fmt: skip

    def _write_kubeconfig(self) -> None:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "e2e", "cluster": {
                "server": self.api.server, "certificate-authority": str(self.pki.ca_cert)
            }}],
            "users": [{"name": "admin", "user": {"token": self.pki.admin_token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
            "current-context": "e2e",
        }  # fmt: skip
        self.kubeconfig.write_text(json.dumps(kubeconfig, indent=2))
        self.kubeconfig.chmod(0o600)

    def _any_exited(self) -> str | None:
        return next((r for p in self.processes if (r := p.exit_reason()) is not None), None)


class Scheduler:
    """A running kube-scheduler; stop it (or leave the ``with`` block) to end it."""

    def __init__(self, control_plane: ControlPlane, process: Process, port: int) -> None:
        self.control_plane = control_plane
        self.process = process
        self.port = port

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_ready(self) -> None:
        # Its /readyz is open to anyone; it turns 200 once its informers have synced.
        endpoint = KubeApi(f"https://127.0.0.1:{self.port}", "", self.control_plane.pki.ca_cert)
        poll(
            lambda: True if endpoint.get_text("/readyz") == "ok" else None,
            timeout=SCHEDULER_READY_S, what=f"{self.process.name} /readyz",
            give_up=self.process.exit_reason,
        )  # fmt: skip

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)

    def stop(self) -> None:
        self.process.stop()
        with contextlib.suppress(ValueError):
            self.control_plane.processes.remove(self.process)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback TCP ports (all held open together while they are chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())
    except urllib.error.HTTPError as err:  # polled while not ready: close it now
        with err:
            raise
