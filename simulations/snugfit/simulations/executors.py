"""Where independent simulator runs go: a local process pool by default, or an
existing Dask cluster given its address. Both hand back the same results.

``map`` runs a list of jobs and returns their results in input order. ``session`` is for
callers that decide what to run next from what has finished: ``submit`` a job whenever
(it gets a ticket), and ``next_done`` waits for any submitted job to finish."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


class Session(Protocol):
    def submit(self, fn: Callable[[Any], Any], job: Any) -> int:
        """Start ``fn(job)``; returns its ticket (0, 1, 2, ... in submission order)."""
        ...

    def next_done(self) -> tuple[int, Any]:
        """(ticket, result) of a submitted job that has finished, each job once; waits for
        one where none has. Raises what the job raised."""
        ...

    @property
    def running(self) -> int:
        """Jobs submitted and not yet handed back by ``next_done``."""
        ...


class Executor(Protocol):
    name: str
    slots: int  # jobs it runs at once

    def session(self) -> AbstractContextManager[Session]: ...

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]: ...


def map_in_session(
    session_of: Callable[[], AbstractContextManager[Session]],
    fn: Callable[[Job], Result],
    jobs: Sequence[Job],
    on_done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Every job's result in input order; ``on_done`` as each finishes."""
    done: dict[int, Result] = {}
    with session_of() as session:
        tickets = {session.submit(fn, job): i for i, job in enumerate(jobs)}
        while session.running:
            ticket, result = session.next_done()
            done[tickets[ticket]] = result
            if on_done:
                on_done(result)
    return [done[i] for i in range(len(jobs))]


class InProcessSession:
    """Jobs run here, one at a time, in submission order, when their result is asked for."""

    def __init__(self) -> None:
        self._queue: deque[tuple[int, Callable[[Any], Any], Any]] = deque()
        self._tickets = 0

    def submit(self, fn: Callable[[Any], Any], job: Any) -> int:
        self._queue.append((self._tickets, fn, job))
        self._tickets += 1
        return self._tickets - 1

    def next_done(self) -> tuple[int, Any]:
        ticket, fn, job = self._queue.popleft()
        return ticket, fn(job)

    @property
    def running(self) -> int:
        return len(self._queue)


class PoolSession:
    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool
        self._pending: dict[Future[Any], int] = {}
        self._tickets = 0

    def submit(self, fn: Callable[[Any], Any], job: Any) -> int:
        self._pending[self._pool.submit(fn, job)] = self._tickets
        self._tickets += 1
        return self._tickets - 1

    def next_done(self) -> tuple[int, Any]:
        finished, _ = wait(self._pending, return_when=FIRST_COMPLETED)
        future = min(finished, key=self._pending.__getitem__)  # the earliest ticket first
        return self._pending.pop(future), future.result()

    @property
    def running(self) -> int:
        return len(self._pending)


class LocalPool:
    """Separate processes on this machine (jobs in-process when there is one worker)."""

    def __init__(self, workers: int) -> None:
        self.workers = self.slots = max(1, workers)
        self.name = f"local pool ({self.workers} processes)"

    def session(self) -> AbstractContextManager[Session]:
        return self._session(self.workers)

    @contextmanager
    def _session(self, workers: int) -> Iterator[Session]:
        if workers == 1:
            yield InProcessSession()
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield PoolSession(pool)

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]:
        workers = max(1, min(self.workers, len(jobs)))
        return map_in_session(lambda: self._session(workers), fn, jobs, on_done)


class DaskSession:
    def __init__(self, client: Any) -> None:
        from distributed import as_completed as dask_completed

        self._client = client
        self._completed = dask_completed()  # type: ignore[no-untyped-call]
        self._tickets: dict[str, int] = {}
        self._running = 0

    def submit(self, fn: Callable[[Any], Any], job: Any) -> int:
        future = self._client.submit(fn, job, pure=False)
        ticket = len(self._tickets)
        self._tickets[future.key] = ticket
        self._completed.add(future)  # type: ignore[no-untyped-call]
        self._running += 1
        return ticket

    def next_done(self) -> tuple[int, Any]:
        future = next(self._completed)
        self._running -= 1
        return self._tickets[future.key], future.result()

    @property
    def running(self) -> int:
        return self._running


class DaskCluster:
    """An existing Dask cluster (``tcp://host:8786``); its workers need snugfit installed."""

    def __init__(self, address: str) -> None:
        from distributed import Client  # imported only when asked for

        self.client = Client(address, timeout="30s")  # type: ignore[no-untyped-call]
        self.name = f"Dask cluster at {address}"
        self.slots = max(
            1, sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        yield DaskSession(self.client)

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]:
        return map_in_session(self.session, fn, jobs, on_done)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
