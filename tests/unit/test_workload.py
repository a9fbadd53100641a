"""FGD's target workload (spec: /tmp/spec-fgd-simulator.md §8)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from snugfit.packing.demand import PodDemand
from snugfit.packing.workload import (
    Shape,
    WorkloadLearner,
    shape_counts,
    shape_memory,
    shape_of,
    target_workload,
)

A100 = frozenset({"A100"})


def shapes_of(
    wl_cpu: np.ndarray, wl_milli: np.ndarray, wl_count: np.ndarray
) -> list[tuple[int, int, int]]:
    return list(zip(wl_cpu.tolist(), wl_milli.tolist(), wl_count.tolist(), strict=True))


def test_shape_of_and_counts() -> None:
    # host memory is not part of a shape; per-GPU memory (for pods sized in it) is, last
    assert shape_of(PodDemand(1000, 4096, 1, 500, allowed_models=A100)) == (1000, 500, 1, A100, 0)
    assert shape_of(PodDemand(1000, 4096, 1, gpu_memory_mib=8000)) == (1000, 0, 1, None, 8000)
    counts = shape_counts([PodDemand(1000, 1), PodDemand(1000, 2), PodDemand(2000, 1)])
    assert counts == Counter({(1000, 0, 0, None, 0): 2, (2000, 0, 0, None, 0): 1})


def test_the_target_carries_each_shapes_mean_host_memory_where_given() -> None:
    """Two CPU-only pods of 1 core with 1 and 3 GiB, one of 2 cores with 8 GiB: means 2 and
    8 GiB, in the target's order; without host memory the target carries none."""
    pods = [PodDemand(1000, 1024), PodDemand(1000, 3072), PodDemand(2000, 8192)]
    assert shape_memory(pods) == Counter({(1000, 0, 0, None, 0): 4096, (2000, 0, 0, None, 0): 8192})
    wl = target_workload(shape_counts(pods), (), memory=shape_memory(pods))
    assert wl.cpu_milli.tolist() == [1000, 2000]
    assert wl.memory_mib is not None and wl.memory_mib.tolist() == [2048.0, 8192.0]
    assert target_workload(shape_counts(pods), ()).memory_mib is None
    learner = WorkloadLearner()
    for pod in pods:
        learned = learner.observe(pod, ())
    assert learned is not None and learned.memory_mib is not None
    assert learned.memory_mib.tolist() == [2048.0, 8192.0]


def test_coverage_cut_and_renormalised_weights() -> None:
    # counts: A 10, B 5, C 5, D 1 -> total 21, 95% = 19.95.
    # Order: A (10); then B and C tie at 5 -> larger cpu first: C (4000m) before B (2000m); D.
    # cumulative: A 10 < 19.95 -> take C: 15 < 19.95 -> take B: 20 >= 19.95 -> stop. D is cut.
    # weights: count / covered = 10/20, 5/20, 5/20.
    counts: Counter[Shape] = Counter(
        {
            (1000, 0, 0, None, 0): 10,  # A
            (2000, 500, 1, None, 0): 5,  # B
            (4000, 1000, 1, None, 0): 5,  # C
            (100, 1000, 8, None, 0): 1,  # D
        }
    )
    wl = target_workload(counts, ("A100",))
    assert shapes_of(wl.cpu_milli, wl.gpu_milli, wl.gpu_count) == [
        (1000, 0, 0),
        (4000, 1000, 1),
        (2000, 500, 1),
    ]
    assert wl.weight.tolist() == [0.5, 0.25, 0.25]
    assert wl.size == 3


def test_full_coverage_keeps_every_shape_with_count_over_total() -> None:
    counts: Counter[Shape] = Counter({(1000, 0, 0, None, 0): 3, (0, 1000, 1, None, 0): 1})
    wl = target_workload(counts, (), coverage=1.0)
    assert wl.weight.tolist() == [0.75, 0.25]


def test_a_single_dominant_shape_is_enough() -> None:
    # 96 of 100 tasks are one shape: it alone covers 95%, weight 96/96 = 1
    counts: Counter[Shape] = Counter({(1000, 0, 0, None, 0): 96, (0, 500, 1, None, 0): 4})
    wl = target_workload(counts, ())
    assert wl.size == 1
    assert wl.weight.tolist() == [1.0]


def test_ties_by_count_then_cpu_then_share_then_gpu_count() -> None:
    counts: Counter[Shape] = Counter(
        {
            (1000, 500, 1, None, 0): 2,
            (1000, 700, 1, None, 0): 2,  # same cpu: larger share first
            (1000, 1000, 1, None, 0): 2,
            (1000, 1000, 2, None, 0): 2,  # same cpu and share: more GPUs first
            (3000, 0, 0, None, 0): 2,  # larger cpu first of all
        }
    )
    wl = target_workload(counts, (), coverage=1.0)
    assert shapes_of(wl.cpu_milli, wl.gpu_milli, wl.gpu_count) == [
        (3000, 0, 0),
        (1000, 1000, 2),
        (1000, 1000, 1),
        (1000, 700, 1),
        (1000, 500, 1),
    ]
    np.testing.assert_allclose(wl.weight, [0.2] * 5)


def test_model_allowed_columns_follow_the_cluster_models_plus_padding() -> None:
    counts: Counter[Shape] = Counter(
        {
            (0, 500, 1, A100, 0): 2,
            (0, 500, 1, frozenset({"V100", "H100"}), 0): 1,
            (0, 500, 1, None, 0): 1,
        }
    )
    wl = target_workload(counts, ("V100", "A100"), coverage=1.0)
    # count 2 first; the count-1 ties are ordered by the joined model names, descending
    # ("H100|V100" > "" for None)
    assert wl.model_allowed.tolist() == [
        [False, True, False],  # A100 only
        [True, False, False],  # the V100 of {V100, H100}; H100 is not in the cluster
        [True, True, False],  # any model; never padding
    ]
    assert wl.weight.tolist() == [0.5, 0.25, 0.25]


def test_empty_counts_give_an_empty_workload() -> None:
    wl = target_workload(Counter(), ("A100",))
    assert wl.size == 0
    assert wl.model_allowed.shape == (0, 2)


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.01])
def test_coverage_must_be_in_range(coverage: float) -> None:
    with pytest.raises(ValueError, match="coverage"):
        target_workload(Counter(), (), coverage)
