"""Benchmark metrics: unallocated GPU % read at given arrived GPU request levels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from snugfit.simulations.replay import ArrivalLog

CURVE_LEVELS = tuple(range(131))  # arrived GPU request, % of capacity, as published
REPORT_LEVELS = (90, 100, 130)


def allocated_pct_at(log: ArrivalLog, levels: Sequence[float]) -> NDArray[np.float64]:
    """Allocated GPU % after the last arrival that keeps the requested GPU share at or below
    each level (% of capacity); the first arrival for levels below it. NaN where the arrivals
    stop more than half a point short of the level (cloning stops just under 130%)."""
    out = np.full(len(levels), np.nan)
    if len(log.arrived) == 0 or log.capacity == 0:
        return out
    targets = np.asarray(levels, dtype=np.float64) / 100 * log.capacity
    index = np.maximum(np.searchsorted(log.arrived, targets, side="right") - 1, 0)
    reached = log.arrived[-1] >= targets - 0.005 * log.capacity
    out[reached] = 100.0 * log.allocated[index[reached]] / log.capacity
    return out


def unallocated_pct_at(log: ArrivalLog, levels: Sequence[float]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = 100.0 - allocated_pct_at(log, levels)
    return result


def ideal_unallocated_pct(level: float) -> float:
    """The physical limit: nothing is unallocated once the requests cover the cluster."""
    return max(0.0, 100.0 - level)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    sd = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return float(arr.mean()), sd
