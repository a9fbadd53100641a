"""Fixtures for end-to-end tests against a real control plane on loopback.

A missing binary is built (tests/e2e/kubernetes/build.sh), never skipped: in CI a missing tool
is a failure. The build runs once after collection, outside any per-test timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import Binaries, ControlPlane, ensure_binaries

_HERE = Path(__file__).resolve().parent


_BINARIES = pytest.StashKey["Binaries | Exception"]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(_HERE in item.path.parents for item in session.items):
        try:
            session.config.stash[_BINARIES] = ensure_binaries()
        except Exception as err:  # reported by the fixture, so each e2e test errors clearly
            session.config.stash[_BINARIES] = err


@pytest.fixture(scope="session")
def control_plane_binaries(pytestconfig: pytest.Config) -> Binaries:
    """The pinned binaries; a build failure errors every e2e test (it is never a skip)."""
    found = pytestconfig.stash.get(_BINARIES, None)
    if isinstance(found, Exception):
        raise RuntimeError("building the control plane failed") from found
    return found if found is not None else ensure_binaries()


@pytest.fixture(scope="session")
def control_plane(control_plane_binaries: Binaries) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver for the whole session; start schedulers with start_scheduler()."""
    with ControlPlane.start(control_plane_binaries) as cp:
        yield cp
