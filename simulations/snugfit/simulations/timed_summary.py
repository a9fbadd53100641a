"""Summary and files of timed replays: allocation over time, waiting and failed pods, GPU-hours
stranded."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from snugfit.simulations.metrics import mean_sd
from snugfit.simulations.runner import TimedResult
from snugfit.simulations.timed import stranded_gpu_hours, time_weighted_mean

COLUMNS = (
    "mean allocated GPU %",
    "peak allocated GPU %",
    "placed",
    "failed",
    "p95 wait s",
    "stranded GPU-h",
)


def run_metrics(r: TimedResult) -> dict[str, float]:
    log = r.log
    cap = max(log.capacity, 1)
    return {
        "mean_allocated_gpu_pct": 100 * time_weighted_mean(log.times, log.allocated) / cap,
        "peak_allocated_gpu_pct": 100 * float(log.allocated.max(initial=0)) / cap,
        "placed": float(log.placed),
        "failed": float(log.failed),
        "wait_p95_s": float(np.percentile(log.waits, 95)) if len(log.waits) else 0.0,
        "stranded_gpu_hours": stranded_gpu_hours(log),
    }


def summarize_timed(results: Sequence[TimedResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """policy -> metric -> (mean, sd) over seeds."""
    by_policy: dict[str, list[dict[str, float]]] = {}
    for r in results:
        by_policy.setdefault(r.spec.policy, []).append(run_metrics(r))
    return {
        policy: {key: mean_sd([m[key] for m in runs]) for key in runs[0]}
        for policy, runs in by_policy.items()
    }


def to_json(trace: str, results: Sequence[TimedResult]) -> dict[str, Any]:
    summary = summarize_timed(results)
    seconds: dict[str, list[float]] = {}
    for r in results:
        seconds.setdefault(r.spec.policy, []).append(r.seconds)
    return {
        "trace": trace,
        "mode": "timed",
        "policies": {
            policy: {
                **{k: {"mean": round(m, 3), "sd": round(sd, 3)} for k, (m, sd) in metrics.items()},
                "seconds": round(float(np.mean(seconds[policy])), 3),
            }
            for policy, metrics in summary.items()
        },
    }


def table_rows(results: Sequence[TimedResult]) -> list[list[str]]:
    rows = []
    for policy, m in summarize_timed(results).items():
        rows.append(
            [
                policy,
                f"{m['mean_allocated_gpu_pct'][0]:.2f}",
                f"{m['peak_allocated_gpu_pct'][0]:.2f}",
                f"{m['placed'][0]:.0f}",
                f"{m['failed'][0]:.0f}",
                f"{m['wait_p95_s'][0]:.0f}",
                f"{m['stranded_gpu_hours'][0]:.1f}",
            ]
        )
    return rows


def write_timeline(path: Path, results: Sequence[TimedResult]) -> None:
    """Every event of every run: time, GPU milli allocated, GPU milli waiting."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["policy", "seed", "time_s", "allocated_gpu_milli", "pending_gpu_milli"])
        for r in results:
            for t, a, p in zip(r.log.times, r.log.allocated, r.log.pending_gpu, strict=True):
                writer.writerow([r.spec.policy, r.spec.seed, f"{t:.0f}", int(a), int(p)])


def plot_timeline(path: Path, trace: str, results: Sequence[TimedResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    seen: set[str] = set()
    for r in results:
        if r.spec.policy in seen:
            continue  # first seed of each policy
        seen.add(r.spec.policy)
        hours = r.log.times / 3600
        pct = 100 * r.log.allocated / max(r.log.capacity, 1)
        ax.step(hours, pct, where="post", label=r.spec.policy, linewidth=1)
    ax.set_xlabel("trace time (hours)")
    ax.set_ylabel("allocated GPU (%)")
    ax.set_title(f"GPU allocation over time, trace '{trace}'")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
