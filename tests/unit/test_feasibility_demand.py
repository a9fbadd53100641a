"""Pod demands, per-slot GPU need, feasibility reasons and the summary line."""

from __future__ import annotations

import numpy as np
import pytest

from snugfit.packing.cluster import ClusterState, GpuSpec, NodeSpec
from snugfit.packing.demand import (
    UNREACHABLE,
    PodDemand,
    gpu_need,
    model_mask,
    without_sharing,
)
from snugfit.packing.feasibility import Reason, feasibility, fitting_slots, summarize
from snugfit.packing.placement import Placement
from snugfit.packing.policies import PolicyContext, make_policy
from snugfit.packing.schedule import Scheduler, Unschedulable

A100 = frozenset({"A100"})
H100 = frozenset({"H100"})


def cluster() -> ClusterState:
    """Four nodes, each 4000m / 4096Mi.

    0 "cpu":   no GPU
    1 "a100":  2 x A100 40 GiB, GPU 0 has 600 in use (free [400, 1000])
    2 "mixed": A100 40 GiB + V100 16 GiB
    3 "t4":    1 x T4 of unknown memory (0)
    """
    state = ClusterState.from_nodes(
        [
            NodeSpec("cpu", 4000, 4096),
            NodeSpec("a100", 4000, 4096, (GpuSpec("A100", 40960), GpuSpec("A100", 40960))),
            NodeSpec("mixed", 4000, 4096, (GpuSpec("A100", 40960), GpuSpec("V100", 16384))),
            NodeSpec("t4", 4000, 4096, (GpuSpec("T4", 0),)),
        ]
    )
    state.apply(Placement(1, (0,), (600,), 0, 0))
    return state


R = Reason


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        # CPU pods: only cpu, then memory
        (PodDemand(1000, 1000), [R.FITS] * 4),
        (PodDemand(5000, 5000), [R.INSUFFICIENT_CPU] * 4),  # cpu is checked before memory
        (PodDemand(4000, 5000), [R.INSUFFICIENT_MEMORY] * 4),
        # a GPU pod on a GPU-less node: too few GPUs (not a model mismatch), even with models
        (
            PodDemand(0, 0, 1, 500, allowed_models=H100),
            [R.TOO_FEW_GPUS] + [R.GPU_MODEL_NOT_ALLOWED] * 3,
        ),
        # model before count before cpu: H100 nowhere; A100: cpu node too few, t4 model
        (
            PodDemand(9000, 0, 2, 1000, allowed_models=A100),
            [R.TOO_FEW_GPUS, R.INSUFFICIENT_CPU, R.TOO_FEW_GPUS, R.GPU_MODEL_NOT_ALLOWED],
        ),
        (PodDemand(0, 0, 3, 1000), [R.TOO_FEW_GPUS] * 4),
        # share: a100 has 400 + 1000 free, mixed 1000 + 1000, t4 1000
        (PodDemand(0, 0, 1, 500), [R.TOO_FEW_GPUS, R.FITS, R.FITS, R.FITS]),
        # two whole GPUs: a100 has only one idle GPU
        (
            PodDemand(0, 0, 2, 1000),
            [R.TOO_FEW_GPUS, R.NO_GPU_WITH_ENOUGH_FREE_SHARE, R.FITS, R.TOO_FEW_GPUS],
        ),
        # memory-sized: 20000 MiB -> 489 on a 40 GiB A100, > 1000 on the 16 GiB V100,
        # unknown on the T4 -> only nodes with an A100 fit
        (
            PodDemand(0, 0, 1, gpu_memory_mib=20000),
            [R.TOO_FEW_GPUS, R.FITS, R.FITS, R.NO_GPU_WITH_ENOUGH_FREE_SHARE],
        ),
        # 2 GPUs by memory, 20000 MiB: a100's GPU 0 has 400 < 489 free, mixed has only one
        # GPU big enough
        (
            PodDemand(0, 0, 2, gpu_memory_mib=20000),
            [R.TOO_FEW_GPUS] + [R.NO_GPU_WITH_ENOUGH_FREE_SHARE] * 2 + [R.TOO_FEW_GPUS],
        ),
        # 9000 MiB: ceil(9e6/40960) = 220 on an A100 (400 free is enough), ceil(9e6/16384) =
        # 550 on the V100
        (
            PodDemand(0, 0, 2, gpu_memory_mib=9000),
            [R.TOO_FEW_GPUS, R.FITS, R.FITS, R.TOO_FEW_GPUS],
        ),
    ],
)
def test_feasibility_reasons(demand: PodDemand, expected: list[Reason]) -> None:
    assert [Reason(int(r)) for r in feasibility(cluster(), demand)] == expected


def test_reason_order_and_messages() -> None:
    assert [r.name for r in Reason] == [
        "FITS",
        "GPU_MODEL_NOT_ALLOWED",
        "TOO_FEW_GPUS",
        "INSUFFICIENT_CPU",
        "INSUFFICIENT_MEMORY",
        "NO_GPU_WITH_ENOUGH_FREE_SHARE",
    ]
    assert Reason.INSUFFICIENT_CPU.message == "insufficient cpu"
    assert Reason.FITS.message == "fits"


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        (
            [3, 3, 5],
            "0/3 nodes are available: 2 insufficient cpu, "
            "1 not enough GPUs with the requested free share.",
        ),
        # equal counts: in Reason order
        ([4, 3], "0/2 nodes are available: 1 insufficient cpu, 1 insufficient memory."),
        (
            [0, 1, 2, 2, 0],
            "2/5 nodes are available: 2 fewer GPUs than the pod asks for, "
            "1 no GPU of an allowed model.",
        ),
        ([0, 0], "2/2 nodes are available."),
        ([], "0/0 nodes are available."),
    ],
)
def test_summarize(reasons: list[int], expected: str) -> None:
    assert summarize(np.array(reasons, dtype=np.int8)) == expected


def test_unschedulable_carries_reasons_and_message() -> None:
    state = cluster()
    scheduler = Scheduler(
        make_policy("bestfit", PolicyContext(np.random.default_rng(0))), np.random.default_rng(0)
    )
    result = scheduler.decide(state, PodDemand(0, 0, 3, 1000))
    assert isinstance(result, Unschedulable)
    assert result.reasons.tolist() == [2, 2, 2, 2]
    assert result.message == "0/4 nodes are available: 4 fewer GPUs than the pod asks for."


# ---------------------------------------------------------------- gpu_need
def test_gpu_need_for_a_share_is_the_share_everywhere() -> None:
    need = gpu_need(cluster(), PodDemand(0, 0, 1, 250))
    assert need.shape == (4, 2)
    assert (need == 250).all()


@pytest.mark.parametrize(
    ("gpu_memory", "demand_mib", "expected"),
    [
        (16384, 8192, 500),  # exact
        (16384, 5000, 306),  # 5000*1000/16384 = 305.18 -> ceil 306
        (24576, 5000, 204),  # 203.45 -> 204
        (40960, 1, 1),  # 0.024 -> 1: never rounds to 0
        (16384, 16384, 1000),  # the whole GPU
        (16384, 16385, UNREACHABLE),  # more than the GPU has
        (0, 1000, UNREACHABLE),  # memory unknown
    ],
)
def test_gpu_need_converts_memory_per_gpu(gpu_memory: int, demand_mib: int, expected: int) -> None:
    state = ClusterState.from_nodes([NodeSpec("n", 1000, 1000, (GpuSpec("X", gpu_memory),))])
    need = gpu_need(state, PodDemand(0, 0, 1, gpu_memory_mib=demand_mib))
    assert need.tolist() == [[expected]]


def test_gpu_need_memory_wins_over_share_and_padding_is_unreachable() -> None:
    state = ClusterState.from_nodes(
        [
            NodeSpec("big", 1000, 1000, (GpuSpec("X", 16384), GpuSpec("Y", 81920))),
            NodeSpec("small", 1000, 1000, (GpuSpec("X", 16384),)),
        ]
    )
    need = gpu_need(state, PodDemand(0, 0, 1, 100, gpu_memory_mib=8192))
    # 8192 of 81920 -> 100; the padding slot of "small" has no memory -> unreachable
    assert need.tolist() == [[500, 100], [500, UNREACHABLE]]


def test_model_mask_and_fitting_slots() -> None:
    state = cluster()
    mask = model_mask(state, PodDemand(0, 0, 1, 500, allowed_models=A100))
    assert mask.tolist() == [[False, False], [True, True], [True, False], [False, False]]
    assert model_mask(state, PodDemand(0, 0, 1, 500)).tolist() == [
        [False, False],
        [True, True],
        [True, True],
        [True, False],
    ]
    fits = fitting_slots(state, PodDemand(0, 0, 1, 500, allowed_models=A100))
    assert fits.tolist() == [[False, False], [False, True], [True, False], [False, False]]


# ---------------------------------------------------------------- PodDemand
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu_milli": -1, "memory_mib": 0}, "cpu_milli must not be negative"),
        ({"cpu_milli": 0, "memory_mib": -1}, "memory_mib must not be negative"),
        ({"cpu_milli": 0, "memory_mib": 0, "gpu_count": -1}, "gpu_count must not be negative"),
        ({"cpu_milli": 0, "memory_mib": 0, "gpu_milli": -5}, "gpu_milli must not be negative"),
        (
            {"cpu_milli": 0, "memory_mib": 0, "gpu_count": 1, "gpu_memory_mib": -1},
            "gpu_memory_mib must not be negative",
        ),
        ({"cpu_milli": 0, "memory_mib": 0, "gpu_count": 1, "gpu_milli": 1001}, r"within 0\.\.1000"),
        ({"cpu_milli": 0, "memory_mib": 0, "gpu_count": 1}, "needs gpu_milli or gpu_memory_mib"),
        (
            {"cpu_milli": 0, "memory_mib": 0, "gpu_count": 2, "gpu_milli": 500},
            "fractional share is only allowed with gpu_count == 1",
        ),
    ],
)
def test_pod_demand_validation(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PodDemand(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("demand", "sharing", "total"),
    [
        (PodDemand(100, 0), False, 0),
        (PodDemand(100, 0, 1, 300), True, 300),
        (PodDemand(100, 0, 1, 1000), False, 1000),
        (PodDemand(100, 0, 4, 1000), False, 4000),
        (PodDemand(100, 0, 1, gpu_memory_mib=8000), True, 0),
        (PodDemand(100, 0, 2, gpu_memory_mib=8000), False, 0),
    ],
)
def test_pod_demand_kind_and_total(demand: PodDemand, sharing: bool, total: int) -> None:
    assert demand.is_sharing is sharing
    assert demand.total_gpu_milli == total


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        (PodDemand(100, 64), PodDemand(100, 64)),
        (
            PodDemand(100, 64, 1, 300, allowed_models=A100),
            PodDemand(100, 64, 1, 1000, allowed_models=A100),
        ),
        (PodDemand(100, 64, 1, gpu_memory_mib=8000), PodDemand(100, 64, 1, 1000)),
        (PodDemand(100, 64, 3, 1000), PodDemand(100, 64, 3, 1000)),
        (PodDemand(100, 64, 2, gpu_memory_mib=500), PodDemand(100, 64, 2, 1000)),
    ],
)
def test_without_sharing_takes_every_gpu_whole(demand: PodDemand, expected: PodDemand) -> None:
    result = without_sharing(demand)
    assert result == expected
    assert not result.is_sharing
    if demand.gpu_count == 0:
        assert result is demand
