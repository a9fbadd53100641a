"""Per-policy summary of benchmark runs, as printed, written as JSON and compared with the
published table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from snugfit.simulations.metrics import REPORT_LEVELS, mean_sd, unallocated_pct_at
from snugfit.simulations.published import published_at_100
from snugfit.simulations.runner import RunResult


@dataclass(frozen=True)
class PolicySummary:
    policy: str
    seeds: tuple[int, ...]
    unallocated: dict[int, tuple[float, float]]  # level -> (mean, sd)
    seconds: float  # mean wall time per run
    placed_pct: float  # mean share of arrivals placed
    published_100: float | None


def summarize(trace: str, results: Sequence[RunResult]) -> list[PolicySummary]:
    """One summary per policy, in the order the policies first appear."""
    by_policy: dict[str, list[RunResult]] = {}
    for r in results:
        by_policy.setdefault(r.spec.policy, []).append(r)
    summaries = []
    for policy, runs in by_policy.items():
        levels = [unallocated_pct_at(r.log, REPORT_LEVELS) for r in runs]
        unallocated = {
            level: mean_sd([float(v[i]) for v in levels]) for i, level in enumerate(REPORT_LEVELS)
        }
        summaries.append(
            PolicySummary(
                policy=policy,
                seeds=tuple(r.spec.seed for r in runs),
                unallocated=unallocated,
                seconds=mean_sd([r.seconds for r in runs])[0],
                placed_pct=mean_sd(
                    [100.0 * r.log.placed.mean() if len(r.log.placed) else 0.0 for r in runs]
                )[0],
                published_100=published_at_100(trace, policy) if runs[0].spec.sharing else None,
            )
        )
    return summaries


def _round(x: float) -> float | None:
    return None if x != x else round(x, 3)  # NaN -> null


def to_json(trace: str, sharing: bool, summaries: Sequence[PolicySummary]) -> dict[str, Any]:
    return {
        "trace": trace,
        "sharing": sharing,
        "policies": {
            s.policy: {
                "unallocated_gpu_pct": {
                    str(level): {"mean": _round(m), "sd": _round(sd)}
                    for level, (m, sd) in s.unallocated.items()
                },
                "seconds": round(s.seconds, 3),
                "placed_pct": round(s.placed_pct, 3),
                "seeds": list(s.seeds),
                "published_unallocated_gpu_pct_100": s.published_100,
            }
            for s in summaries
        },
    }
