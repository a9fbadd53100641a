"""Files a simulation writes: curves as CSV (the published layout), per-arrival logs, a plot."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from snugfit.simulations.metrics import CURVE_LEVELS, allocated_pct_at, ideal_unallocated_pct
from snugfit.simulations.runner import RunResult


def write_curves(path: Path, trace: str, results: Sequence[RunResult]) -> None:
    """Allocated GPU % at each arrived % 0..130, one row per run, like the published CSV."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["workload", "policy", "sharing", "seed", *CURVE_LEVELS])
        for r in results:
            values = allocated_pct_at(r.log, CURVE_LEVELS)
            cells = ["" if np.isnan(v) else f"{v:.2f}" for v in values]
            writer.writerow([trace, r.spec.policy, r.spec.sharing, r.spec.seed, *cells])


def write_arrivals(path: Path, results: Sequence[RunResult]) -> None:
    """Every arrival of every run: GPU milli requested so far and allocated after it."""
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["policy", "seed", "arrival", "placed", "arrived_gpu_milli", "allocated_gpu_milli"]
        )
        for r in results:
            for i in range(len(r.log.arrived)):
                writer.writerow(
                    [
                        r.spec.policy,
                        r.spec.seed,
                        i,
                        int(r.log.placed[i]),
                        int(r.log.arrived[i]),
                        int(r.log.allocated[i]),
                    ]
                )


def plot_curves(path: Path, trace: str, results: Sequence[RunResult]) -> None:
    """Unallocated GPU % against arrived GPU request %, mean over seeds, one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = np.array(CURVE_LEVELS, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    by_policy: dict[str, list[RunResult]] = {}
    for r in results:
        by_policy.setdefault(r.spec.policy, []).append(r)
    for policy, runs in by_policy.items():
        curves = np.array([100 - allocated_pct_at(r.log, CURVE_LEVELS) for r in runs])
        reached = ~np.isnan(curves).all(axis=0)
        mean = np.full(len(levels), np.nan)
        mean[reached] = np.nanmean(curves[:, reached], axis=0)
        ax.plot(levels, mean, label=policy, linewidth=1.4)
    ax.plot(levels, [ideal_unallocated_pct(x) for x in levels], "k:", label="ideal", linewidth=1)
    ax.set_xlim(60, 130)
    ax.set_ylim(0, 45)
    ax.set_xlabel("arrived GPU request (% of cluster GPU capacity)")
    ax.set_ylabel("unallocated GPU (%)")
    ax.set_title(f"GPU packing on trace '{trace}' (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
