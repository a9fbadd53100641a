"""The published benchmark's arrival sequence (FGD, USENIX ATC '23).

Every pod of the list, whatever its phase, sorted by name and shuffled with the run's seed;
then clones drawn with replacement from the name-sorted list are appended (not shuffled in)
until the GPU request reaches ``inflation`` x cluster capacity. As in the published
simulator, cloning stops at the first clone whose per-GPU share would cross the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from snugfit.simulations.workload_model import TracePod

BENCHMARK_SEEDS = tuple(range(42, 52))
INFLATION = 1.3


def arrival_sequence(
    pods: Sequence[TracePod],
    capacity_gpu_milli: int,
    rng: np.random.Generator,
    inflation: float = INFLATION,
) -> list[TracePod]:
    if not pods:
        return []
    by_name = sorted(pods, key=lambda p: p.name)
    order = rng.permutation(len(by_name))
    arrivals = [by_name[i] for i in order]
    requested = sum(p.demand.total_gpu_milli for p in arrivals)
    limit = inflation * capacity_gpu_milli
    has_gpu_pods = any(p.demand.gpu_count for p in by_name)
    clone = 0
    while requested < limit and has_gpu_pods:
        source = by_name[int(rng.integers(len(by_name)))]
        if requested + source.demand.gpu_milli > limit:
            break
        requested += source.demand.total_gpu_milli
        arrivals.append(replace(source, name=f"{source.name}-clone-{clone}"))
        clone += 1
    return arrivals
