"""`snugfit plan` from the command line: a whole run on a small workload, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snugfit.cli import app

NODE_TYPES = """\
- {name: small, gpu_model: T4, gpus: 2, gpu_memory_mib: 15360, cpu_milli: 32000,
   memory_mib: 131072, price_per_hour: 1.0}
- {name: big, gpu_model: A100, gpus: 8, gpu_memory_mib: 81920, cpu_milli: 128000,
   memory_mib: 1048576, price_per_hour: 10}
"""
PODS = "".join(
    f"- {{name: p{i}, cpu: 4, memory: 8Gi, gpus: 1, gpu_share: {share}}}\n"
    for i, share in enumerate([1, 0.5, 0.5, 0.3, 1, 1, 0.2, 0.7] * 5)
)


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", *[str(a) for a in args]])
    return result.exit_code, result.output


def test_plan_writes_report_and_summaries(tmp_path: Path) -> None:
    (tmp_path / "types.yaml").write_text(NODE_TYPES)
    (tmp_path / "pods.yaml").write_text("pods:\n" + PODS)
    out = tmp_path / "plan"
    code, output = run(
        "--pods", tmp_path / "pods.yaml", "--catalogue", tmp_path / "types.yaml",
        "--workers", "1", "--output-dir", out,
    )  # fmt: skip
    assert code == 0, output
    assert "snugfit needs" in output and "report.html" in output
    summary = json.loads((out / "summary.json").read_text())
    ours = summary["policies"]["snugfit"]
    assert ours["met"] and ours["pods_placed_pct"] >= 99 and ours["gpus"] >= 28  # 27.9 GPUs asked
    assert (out / "summary.md").read_text().startswith("# Capacity plan: ")
    assert "data:image/png;base64," in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--catalogue", "missing.yaml"], "missing.yaml"),
        (["--arrival", "0"], "arrival must be in (0, 100]"),
        (["--min-pods-placed", "101"], "the targets in [0, 100]"),
        (["--scale", "-1"], "scale must be positive"),
        (["--trace", "nope"], "no shipped trace of that name"),
        (["--seeds", "x"], "seed"),
        (["--kubeconfig", "absent-kubeconfig"], "reading the cluster through absent-kubeconfig"),
    ],
)
def test_plan_errors_are_one_clear_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run(*args)
    assert code == 2
    assert message in output and "Traceback" not in output
