"""The same plan on a real Dask cluster (a scheduler and two worker processes started here)
gives exactly the local pool's numbers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import small_inputs

from snugfit.simulations.executors import DaskCluster
from snugfit.simulations.planning.plan import PlanResult, make_plan
from snugfit.simulations.planning.report import summary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_address() -> Iterator[str]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"], **quiet,
    )  # fmt: skip
    workers = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
         "--nthreads", "1", "--no-dashboard"], **quiet,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the Dask scheduler did not start within 60 s")
        yield address
    finally:
        for process in (workers, scheduler):
            process.terminate()
        for process in (workers, scheduler):
            process.wait(timeout=30)


def comparable(plan: PlanResult) -> dict[str, Any]:
    out = summary(plan)
    del out["executor"], out["seconds"]
    out["runs"] = sorted(
        (r.policy, r.counts, r.seed, r.pods_placed_pct, r.gpu_placed_pct)
        for s in plan.searches
        for r in s.evaluations
    )
    return out


def test_dask_cluster_gives_the_local_numbers(small_plan: PlanResult, dask_address: str) -> None:
    cluster = DaskCluster(dask_address)
    try:
        cluster.client.wait_for_workers(2, timeout=60)
        workers = cluster.client.scheduler_info()["workers"]
        assert len(workers) == 2
        distributed = make_plan(small_inputs(), cluster)
    finally:
        cluster.close()
    assert distributed.executor.startswith("Dask cluster at tcp://127.0.0.1:")
    assert comparable(distributed) == comparable(small_plan)
