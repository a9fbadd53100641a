"""Replay without departures, and the benchmark's metrics, on a cluster small enough to follow
by hand."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from sim_helpers import cluster, scheduler

from snugfit.packing.demand import PodDemand, without_sharing
from snugfit.packing.placement import Placement
from snugfit.packing.policies import POLICIES
from snugfit.simulations import outputs
from snugfit.simulations.metrics import (
    CURVE_LEVELS,
    REPORT_LEVELS,
    allocated_pct_at,
    ideal_unallocated_pct,
    mean_sd,
    unallocated_pct_at,
)
from snugfit.simulations.replay import ArrivalLog, replay_arrivals
from snugfit.simulations.runner import RunResult, RunSpec
from snugfit.simulations.summary import summarize, to_json
from snugfit.simulations.workload_model import TracePod


def tp(name: str, count: int = 0, milli: int = 0, cpu: int = 100) -> TracePod:
    return TracePod(name, PodDemand(cpu, 100, count, milli))


# Cluster: n0 with 1 GPU, n1 with 2 GPUs -> capacity 3000 milli. Every placement is forced:
#   a  2 x 1000  only n1 has 2 GPUs          allocated 2000  arrived 2000  placed
#   b  1 x 500   n1 is full, so n0           allocated 2500  arrived 2500  placed
#   c  2 x 1000  no node has 2 free GPUs     allocated 2500  arrived 4500  failed
#   d  CPU only  fits anywhere               allocated 2500  arrived 4500  placed
#   e  1 x 500   the other half of n0's GPU  allocated 3000  arrived 5000  placed
#   f  1 x 100   nothing left                allocated 3000  arrived 5100  failed
ARRIVALS = [tp("a", 2, 1000), tp("b", 1, 500), tp("c", 2, 1000), tp("d"), tp("e", 1, 500),
            tp("f", 1, 100)]  # fmt: skip
ALLOCATED = [2000, 2500, 2500, 2500, 3000, 3000]
ARRIVED = [2000, 2500, 4500, 4500, 5000, 5100]
PLACED = [True, True, False, True, True, False]


@pytest.mark.parametrize("policy", sorted(set(POLICIES) - {"fgd"}))
def test_replay_by_hand(policy: str) -> None:
    state = cluster(1, 2)
    log = replay_arrivals(state, scheduler(policy), ARRIVALS)
    assert log.capacity == 3000
    assert log.allocated.tolist() == ALLOCATED
    assert log.arrived.tolist() == ARRIVED
    assert log.placed.tolist() == PLACED
    assert state.allocated_gpu_milli() == 3000


def test_replay_without_sharing_counts_whole_gpus_but_requests_as_asked() -> None:
    # b takes n0's whole GPU (1000, not 500), so e no longer fits; "arrived" still counts
    # what the pods asked for.
    log = replay_arrivals(cluster(1, 2), scheduler(), ARRIVALS, demand_of=without_sharing)
    assert log.allocated.tolist() == [2000, 3000, 3000, 3000, 3000, 3000]
    assert log.arrived.tolist() == ARRIVED
    assert log.placed.tolist() == [True, True, False, True, False, False]


def test_replay_starts_from_what_is_already_allocated() -> None:
    state = cluster(1, 2)
    state.apply(Placement(0, (0,), (300,), 100, 100))  # 300 milli already on n0
    log = replay_arrivals(state, scheduler(), [tp("x", 1, 500), tp("y", 1, 500)])
    # x: n0 has 700 free, n1 two whole GPUs; either way +500 -> 800; y -> 1300
    assert log.allocated.tolist() == [800, 1300]
    assert log.arrived.tolist() == [500, 1000]


def test_progress_is_reported_every_256_arrivals() -> None:
    calls: list[int] = []
    pods = [tp(f"p{i}") for i in range(600)]
    log = replay_arrivals(
        cluster(1, cpu=10**9, memory=10**9), scheduler(), pods, on_progress=calls.append
    )
    assert calls == [256, 256]  # after arrivals 256 and 512; the last 88 are not reported
    assert log.placed.all()


def test_empty_replay() -> None:
    log = replay_arrivals(cluster(1), scheduler(), [])
    assert len(log.allocated) == len(log.arrived) == len(log.placed) == 0
    assert np.isnan(allocated_pct_at(log, [0, 100])).all()


# ------------------------------------------------------------------ reading the curve
HAND_LOG = ArrivalLog(
    allocated=np.array(ALLOCATED, dtype=np.int64),
    arrived=np.array(ARRIVED, dtype=np.int64),
    placed=np.array(PLACED),
    capacity=3000,
)


@pytest.mark.parametrize(
    ("level", "allocated_pct"),
    [
        # below the first arrival (2000 = 66.7%): the first arrival is read
        (0, 200 / 3),
        (50, 200 / 3),
        # the last arrival whose requested total is at or below level x 3000
        (66.67, 200 / 3),  # 2000.1 -> arrival a
        (80, 200 / 3),  # 2400 -> a
        (90, 2500 / 30),  # 2700 -> b (2500)
        (150, 2500 / 30),  # 4500 -> d (the last of the two at 4500)
        (160, 2500 / 30),  # 4800 -> d
        (166.67, 100.0),  # 5000.1 -> e
        (170, 100.0),  # 5100 -> f
        # arrivals stop at 5100 = 170%; a level up to half a point beyond is still read
        (170.4, 100.0),  # 5112 - 15 = 5097 <= 5100
        # more than half a point beyond: NaN
        (170.6, math.nan),  # 5118 - 15 = 5103 > 5100
        (200, math.nan),
    ],
)
def test_allocated_pct_at(level: float, allocated_pct: float) -> None:
    [got] = allocated_pct_at(HAND_LOG, [level])
    [unallocated] = unallocated_pct_at(HAND_LOG, [level])
    if math.isnan(allocated_pct):
        assert math.isnan(got) and math.isnan(unallocated)
    else:
        assert got == pytest.approx(allocated_pct)
        assert unallocated == pytest.approx(100 - allocated_pct)


def test_levels_are_read_together_in_any_order() -> None:
    got = allocated_pct_at(HAND_LOG, [200, 90, 0])
    assert np.isnan(got[0])
    assert got[1:].tolist() == pytest.approx([2500 / 30, 200 / 3])


def test_zero_capacity_reads_nan() -> None:
    log = ArrivalLog(np.array([0]), np.array([0]), np.array([True]), capacity=0)
    assert np.isnan(allocated_pct_at(log, [0, 100])).all()


@pytest.mark.parametrize(("level", "ideal"), [(0, 100.0), (90, 10.0), (100, 0.0), (130, 0.0)])
def test_ideal_unallocated(level: float, ideal: float) -> None:
    assert ideal_unallocated_pct(level) == ideal


@pytest.mark.parametrize(
    ("values", "mean", "sd"),
    [
        ([4.0], 4.0, 0.0),  # one value: sd 0, not NaN
        ([5.0, 5.0], 5.0, 0.0),
        ([1.0, 3.0], 2.0, math.sqrt(2)),  # sample sd: ((1)^2 + (1)^2) / (2 - 1) = 2
        ([1.0, 2.0, 3.0, 4.0], 2.5, math.sqrt(5 / 3)),  # (2.25+0.25+0.25+2.25)/3 = 5/3
    ],
)
def test_mean_sd(values: list[float], mean: float, sd: float) -> None:
    got_mean, got_sd = mean_sd(values)
    assert got_mean == pytest.approx(mean)
    assert got_sd == pytest.approx(sd)


def test_levels() -> None:
    assert tuple(range(131)) == CURVE_LEVELS
    assert REPORT_LEVELS == (90, 100, 130)


# ------------------------------------------------------------------ summary and files
def log_of(allocated: list[int], arrived: list[int], capacity: int = 1000) -> ArrivalLog:
    return ArrivalLog(
        np.array(allocated, dtype=np.int64),
        np.array(arrived, dtype=np.int64),
        np.array([a > 0 for a in allocated]),
        capacity,
    )


def test_summary_over_seeds() -> None:
    # capacity 1000. seed 1: at 90% (900) 800 allocated, at 100% 900, at 130% 950;
    # seed 2: 700, 900, 990. Unallocated %: 90 -> 20, 30; 100 -> 10, 10; 130 -> 5, 1.
    runs = [
        RunResult(RunSpec("bestfit", 1), log_of([800, 900, 950], [900, 1000, 1300]), 2.0),
        RunResult(RunSpec("bestfit", 2), log_of([700, 900, 990], [900, 1000, 1300]), 4.0),
        RunResult(RunSpec("fgd", 1), log_of([900, 0, 0], [900, 1000, 1000]), 1.0),
    ]
    bestfit, fgd = summarize("default", runs)
    assert bestfit.policy == "bestfit" and bestfit.seeds == (1, 2)
    assert bestfit.unallocated[90] == pytest.approx((25.0, math.sqrt(50)))
    assert bestfit.unallocated[100] == pytest.approx((10.0, 0.0))
    assert bestfit.unallocated[130] == pytest.approx((3.0, math.sqrt(8)))
    assert bestfit.seconds == 3.0
    assert bestfit.published_100 == 7.14  # the paper's bestfit on 'default'
    # fgd: arrivals stop at 100% -> 130% is NaN, written as null
    assert math.isnan(fgd.unallocated[130][0])
    assert fgd.placed_pct == pytest.approx(100 / 3)

    doc = to_json("default", True, [bestfit, fgd])
    assert doc["trace"] == "default" and doc["sharing"] is True
    assert doc["policies"]["bestfit"]["unallocated_gpu_pct"]["90"] == {
        "mean": 25.0,
        "sd": round(math.sqrt(50), 3),
    }
    assert doc["policies"]["fgd"]["unallocated_gpu_pct"]["130"]["mean"] is None
    assert doc["policies"]["fgd"]["published_unallocated_gpu_pct_100"] == 4.77


def test_summary_of_a_published_variant_the_shared_traces_lack() -> None:
    # openb_pod_list_multigpu50.csv resolves to "multigpu50": the authors' published FGD
    run = RunResult(RunSpec("fgd", 1), log_of([900], [1000]), 1.0)
    [s] = summarize("multigpu50", [run])
    assert s.published_100 == 2.91
    [unknown] = summarize("multigpu60", [run])
    assert unknown.published_100 is None


def test_summary_without_sharing_has_no_published_value() -> None:
    run = RunResult(RunSpec("fgd", 1, sharing=False), log_of([900], [1300]), 1.0)
    [s] = summarize("default", [run])
    assert s.published_100 is None


def test_curves_and_arrivals_files(tmp_path: Path) -> None:
    run = RunResult(RunSpec("bestfit", 42), HAND_LOG, 1.0)
    outputs.write_curves(tmp_path / "curves.csv", "tiny", [run])
    with (tmp_path / "curves.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["workload", "policy", "sharing", "seed", *map(str, range(131))]
    cells = rows[1]
    assert cells[:4] == ["tiny", "bestfit", "True", "42"]
    curve = cells[4:]
    # level L reads the last arrival with requested <= 30 L milli: levels 0..83 read a
    # (2000 -> 66.67%), 84..149 read b or d (2500 allocated -> 83.33%)
    assert set(curve[:84]) == {"66.67"}
    assert set(curve[84:]) == {"83.33"}
    assert len(curve) == 131

    outputs.write_arrivals(tmp_path / "arrivals.csv.gz", [run])
    with gzip.open(tmp_path / "arrivals.csv.gz", "rt") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["policy", "seed", "arrival", "placed", "arrived_gpu_milli",
                        "allocated_gpu_milli"]  # fmt: skip
    assert lines[1:] == [
        ["bestfit", "42", str(i), str(int(p)), str(ar), str(al)]
        for i, (p, ar, al) in enumerate(zip(PLACED, ARRIVED, ALLOCATED, strict=True))
    ]
