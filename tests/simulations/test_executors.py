"""The local pool's two ways to run jobs: ``map`` (results in input order) and a session
(submit whenever, take results as they finish)."""

from __future__ import annotations

import time

import pytest

from snugfit.simulations.executors import LocalPool


def square_after(job: tuple[int, float]) -> int:
    value, seconds = job
    time.sleep(seconds)
    return value * value


def fail(message: str) -> None:
    raise ValueError(message)


@pytest.mark.parametrize("workers", [1, 2])
def test_map_keeps_input_order_and_reports_each_result(workers: int) -> None:
    seen: list[int] = []
    jobs = [(3, 0.3), (1, 0.0), (2, 0.1)]
    assert LocalPool(workers).map(square_after, jobs, seen.append) == [9, 1, 4]
    assert sorted(seen) == [1, 4, 9]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_session_hands_back_every_job_once_also_those_submitted_on_the_way(
    workers: int,
) -> None:
    with LocalPool(workers).session() as session:
        first = {session.submit(square_after, (v, 0.0)): v * v for v in (2, 3)}
        assert session.running == 2
        got = dict([session.next_done()])
        late = session.submit(square_after, (5, 0.0))
        while session.running:
            ticket, result = session.next_done()
            got[ticket] = result
    assert got == {**first, late: 25}
    assert late == 2  # tickets count submissions


def test_a_session_with_two_workers_hands_back_the_job_that_finishes_first() -> None:
    with LocalPool(2).session() as session:
        slow = session.submit(square_after, (7, 3.0))
        fast = session.submit(square_after, (4, 0.0))
        assert session.next_done() == (fast, 16)  # not held back behind the slow one
        assert session.next_done() == (slow, 49)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_job_raises_its_error_where_its_result_is_taken(workers: int) -> None:
    with LocalPool(workers).session() as session:
        session.submit(fail, "bad trace row")
        with pytest.raises(ValueError, match="bad trace row"):
            session.next_done()
