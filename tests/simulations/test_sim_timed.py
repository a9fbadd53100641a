"""The timed replay: arrivals on the trace's clock, departures, a FIFO waiting queue, a pending
limit, speedup; and the step-function metrics over its log. Every scenario is worked out by
hand in the comments (capacity in milli-GPU)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_helpers import cluster, scheduler

from snugfit.packing.demand import PodDemand
from snugfit.simulations.timed import TimedLog, replay_timed, stranded_gpu_hours, time_weighted_mean
from snugfit.simulations.workload_model import TracePod


def tp(
    name: str, count: int, milli: int, start: float | None, end: float | None = None
) -> TracePod:
    return TracePod(name, PodDemand(100, 100, count, milli if count else 0), start, end)


def run(gpus: int, pods: list[TracePod], **kwargs: float | None) -> TimedLog:
    return replay_timed(cluster(gpus), scheduler(), pods, **kwargs)  # type: ignore[arg-type]


# One node with 2 GPUs (capacity 2000).
#   A  1 GPU          arrives 0,  leaves 100
#   B  2 GPUs         arrives 10, runs 30 once placed
#   C  1 x 500        arrives 20, leaves 25
#   D  1 GPU          arrives 50, leaves 60
# t=0    A placed                              allocated 1000  pending 0
# t=10   B does not fit (one GPU free): waits  allocated 1000  pending 2000
# t=20   C placed on the free GPU              allocated 1500  pending 2000
# t=25   C leaves; B retried, A still holds a GPU   1000        2000
# t=50   D placed (arrivals do not queue behind B)  2000        2000
# t=60   D leaves; B retried, no                    1000        2000
# t=100  A leaves; B placed after 90 s              2000        0
# t=130  B leaves (placed at 100, runs 30)          0           0
QUEUE = [tp("A", 1, 1000, 0, 100), tp("B", 2, 1000, 10, 40), tp("C", 1, 500, 20, 25),
         tp("D", 1, 1000, 50, 60)]  # fmt: skip


def test_waiting_queue_by_hand() -> None:
    log = run(2, QUEUE)
    assert log.times.tolist() == [0, 10, 20, 25, 50, 60, 100, 130]
    assert log.allocated.tolist() == [1000, 1000, 1500, 1000, 2000, 1000, 2000, 0]
    assert log.pending_gpu.tolist() == [0, 2000, 2000, 2000, 2000, 2000, 0, 0]
    # waits in the order pods were placed: A, C, D at once, B after 90 s
    assert log.waits.tolist() == [0, 0, 0, 90]
    assert (log.placed, log.failed, log.skipped, log.capacity) == (4, 0, 0, 2000)


def test_stranded_gpu_hours_and_time_weighted_mean_by_hand() -> None:
    log = run(2, QUEUE)
    # spans between events: 10, 10, 5, 25, 10, 40, 30; work waits in spans 2..6;
    # idle milli in them: 2000-1000, 2000-1500, 2000-1000, 2000-2000, 2000-1000
    # = 1000*10 + 500*5 + 1000*25 + 0*10 + 1000*40 = 77500 milli-seconds
    # = 77.5 GPU-seconds = 77.5 / 3600 GPU-hours
    assert stranded_gpu_hours(log) == pytest.approx(77.5 / 3600)
    # allocated as a step function over 0..130:
    # 1000*10 + 1000*10 + 1500*5 + 1000*25 + 2000*10 + 1000*40 + 2000*30 = 172500 -> / 130
    assert time_weighted_mean(log.times, log.allocated) == pytest.approx(172500 / 130)


@pytest.mark.parametrize(
    ("times", "values", "mean"),
    [
        ([0.0, 10.0, 30.0], [4, 1, 99], (4 * 10 + 1 * 20) / 30),  # the last value spans nothing
        ([5.0], [7], 7.0),  # one event: its value
        ([5.0, 5.0], [7, 3], 3.0),  # no time passes: the last value
        ([], [], 0.0),
    ],
)
def test_time_weighted_mean(times: list[float], values: list[int], mean: float) -> None:
    got = time_weighted_mean(np.array(times), np.array(values, dtype=np.int64))
    assert got == pytest.approx(mean)


def test_stranded_needs_two_events() -> None:
    log = TimedLog(np.array([0.0]), np.array([0]), np.array([5]), np.array([]), 0, 0, 1000)
    assert stranded_gpu_hours(log) == 0.0


def test_no_stranding_when_nothing_waits() -> None:
    # idle capacity but no waiting work: nothing is stranded
    log = run(2, [tp("A", 1, 1000, 0, 3600)])
    assert log.times.tolist() == [0, 3600]
    assert stranded_gpu_hours(log) == 0.0


def test_departures_come_before_arrivals_at_the_same_time() -> None:
    # one GPU. A holds it 0..100; B arrives at 100 exactly: A's departure is handled first,
    # so B is placed at once (wait 0) rather than queued.
    log = run(1, [tp("B", 1, 1000, 100, 150), tp("A", 1, 1000, 0, 100)])
    assert log.times.tolist() == [0, 100, 100, 150]
    assert log.allocated.tolist() == [1000, 0, 1000, 0]
    assert log.pending_gpu.tolist() == [0, 0, 0, 0]
    assert log.waits.tolist() == [0, 0]


# One GPU. A holds it 0..100. B (runs 10) arrives at 10, C (runs 10) at 60, both wait.
# At t=100 (A leaves) B has waited 90 s and C 40 s. A waiting pod gives up at the moment its
# wait passes the limit (an event of its own, after departures at the same time).
LIMIT = [tp("A", 1, 1000, 0, 100), tp("B", 1, 1000, 10, 20), tp("C", 1, 1000, 60, 70)]


@pytest.mark.parametrize(
    ("limit", "times", "allocated", "pending", "waits", "failed"),
    [
        # no limit: B placed at 100 (wait 90), leaves 110; then C (wait 50), leaves 120
        (None, [0, 10, 60, 100, 110, 120], [1000, 1000, 1000, 1000, 1000, 0],
         [0, 1000, 2000, 1000, 0, 0], [0, 90, 50], 0),
        # limit 50: B gives up at 60 (before C arrives at 60); C is placed at 100 (wait 40)
        (50, [0, 10, 60, 60, 100, 110], [1000, 1000, 1000, 1000, 1000, 0],
         [0, 1000, 0, 1000, 0, 0], [0, 40], 1),
        # a wait equal to the limit is still allowed: A leaves at 100 before C's deadline at 100
        (40, [0, 10, 50, 60, 100, 110], [1000, 1000, 1000, 1000, 1000, 0],
         [0, 1000, 0, 1000, 0, 0], [0, 40], 1),
        # limit 30: B gives up at 40, C at 90, before A leaves at 100
        (30, [0, 10, 40, 60, 90, 100], [1000, 1000, 1000, 1000, 1000, 0],
         [0, 1000, 0, 1000, 0, 0], [0], 2),
    ],
)  # fmt: skip
def test_pending_limit(
    limit: float | None,
    times: list[float],
    allocated: list[int],
    pending: list[int],
    waits: list[float],
    failed: int,
) -> None:
    log = run(1, LIMIT, pending_limit=limit)
    assert log.times.tolist() == times
    assert log.allocated.tolist() == allocated
    assert log.pending_gpu.tolist() == pending
    assert log.waits.tolist() == waits
    assert log.failed == failed
    assert log.placed + log.failed == 3


def test_pods_still_waiting_at_the_end_fail_and_pods_without_arrival_are_skipped() -> None:
    pods = [
        tp("A", 1, 1000, 0, 10),
        tp("huge", 2, 1000, 5, 50),  # two GPUs on a one-GPU node: never fits
        tp("nostart", 1, 500, None, 40),  # no creation time: not replayed
    ]
    log = run(1, pods)
    assert log.times.tolist() == [0, 5, 10]
    assert log.pending_gpu.tolist() == [0, 2000, 2000]
    assert (log.placed, log.failed, log.skipped) == (1, 1, 1)


def test_pods_without_end_never_leave_and_negative_durations_are_zero() -> None:
    pods = [tp("forever", 1, 500, 0), tp("backwards", 1, 500, 10, 5)]
    log = run(1, pods)
    # backwards: deleted before created -> duration 0 -> leaves at 10, straight away
    assert log.times.tolist() == [0, 10, 10]
    assert log.allocated.tolist() == [500, 1000, 500]


def test_speedup_divides_arrival_times_not_durations() -> None:
    # speedup 4: arrivals 100 -> 25 and 200 -> 50; durations stay 60 -> leave at 85 and 110
    pods = [tp("a", 1, 500, 100, 160), tp("b", 1, 500, 200, 260)]
    log = run(1, pods, speedup=4)
    assert log.times.tolist() == [25, 50, 85, 110]
    assert log.allocated.tolist() == [500, 1000, 500, 0]


@pytest.mark.parametrize("speedup", [0, -1])
def test_speedup_must_be_positive(speedup: float) -> None:
    with pytest.raises(ValueError, match="speedup must be positive"):
        run(1, [tp("a", 1, 500, 0, 1)], speedup=speedup)


def test_fifo_queue_with_equal_demands() -> None:
    # One node, 2 GPUs. A (1 GPU) 0..100, X (1 GPU) 0..30. Two 2-GPU pods P, Q wait from 1.
    # t=30: X leaves; P retried, does not fit (A holds a GPU); Q has the same demand and is
    # skipped. t=100: A leaves; P placed (wait 99); Q retried and does not fit.
    # P leaves at 100 + 50 = 150; Q placed then (wait 149), leaves at 200.
    pods = [tp("A", 1, 1000, 0, 100), tp("X", 1, 1000, 0, 30), tp("P", 2, 1000, 1, 51),
            tp("Q", 2, 1000, 1, 51)]  # fmt: skip
    log = run(2, pods)
    assert log.times.tolist() == [0, 0, 1, 1, 30, 100, 150, 200]
    assert log.pending_gpu.tolist() == [0, 0, 2000, 4000, 4000, 2000, 0, 0]
    assert log.waits.tolist() == [0, 0, 99, 149]


# ------------------------------------------------------------------ bugs
def test_expired_pods_stop_counting_as_waiting() -> None:
    # One node, 2 GPUs. A (1 GPU) holds one GPU 0..10000. B needs 2 GPUs, arrives at 10 and
    # may wait 60 s: it gives up at 70. The free GPU is stranded only while B waits:
    # 1000 milli x 60 s = 60 GPU-seconds. The replay counts 10..10000 (9990 GPU-seconds).
    log = run(2, [tp("A", 1, 1000, 0, 10000), tp("B", 2, 1000, 10, 20)], pending_limit=60)
    assert log.failed == 1
    assert stranded_gpu_hours(log) == pytest.approx(60 / 3600)
