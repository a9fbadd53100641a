"""Helpers for the simulator tests: files in tmp_path, tiny clusters, the CLI (imported by
test modules as `sim_helpers`; conftest.py exposes the fixtures)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from snugfit.cli import app
from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler

Write = Callable[[str, str], Path]
Cli = Callable[..., Result]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write(name, text) -> path: the text, dedented, as a file in tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def gpus(count: int, model: str = "A", memory: int = 0) -> tuple[GpuSpec, ...]:
    return (GpuSpec(model, memory),) * count


def cluster(*gpu_counts: int, cpu: int = 8000, memory: int = 8192) -> ClusterState:
    """Nodes n0, n1, ... with the given GPU counts (model A) and plenty of CPU and memory."""
    return ClusterState.from_nodes(
        [NodeSpec(f"n{i}", cpu, memory, gpus(g)) for i, g in enumerate(gpu_counts)]
    )


def scheduler(policy: str = "bestfit", seed: int = 0) -> Scheduler:
    rng = np.random.default_rng(seed)
    return Scheduler(make_policy(policy, PolicyContext(rng)), rng)


@pytest.fixture
def cli() -> Cli:
    """cli(*args, env=...) -> click Result of `snugfit ...`, run in this process."""

    def _cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(app, [str(a) for a in args], env=env)

    return _cli


def squash(text: str) -> str:
    """Text without any whitespace, so that messages compare whatever the line wrapping."""
    return "".join(text.split())


def lines_of(text: str) -> Sequence[str]:
    return [line for line in text.splitlines() if line.strip()]
