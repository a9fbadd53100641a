"""Where independent simulator runs go: a local process pool by default, or an
existing Dask cluster given its address. Both hand back the same results, in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


class Executor(Protocol):
    name: str
    slots: int  # jobs it runs at once

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]: ...


class LocalPool:
    """Separate processes on this machine (one job in-process when there is one worker)."""

    def __init__(self, workers: int) -> None:
        self.workers = self.slots = max(1, workers)
        self.name = f"local pool ({self.workers} processes)"

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]:
        if self.workers == 1 or len(jobs) <= 1:
            results = []
            for job in jobs:
                results.append(fn(job))
                if on_done:
                    on_done(results[-1])
            return results
        with ProcessPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            done: dict[int, Result] = {}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                if on_done:
                    on_done(done[futures[future]])
        return [done[i] for i in range(len(jobs))]


class DaskCluster:
    """An existing Dask cluster (``tcp://host:8786``); its workers need snugfit installed."""

    def __init__(self, address: str) -> None:
        from distributed import Client  # imported only when asked for

        self.client = Client(address, timeout="30s")  # type: ignore[no-untyped-call]
        self.name = f"Dask cluster at {address}"
        self.slots = max(
            1, sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        )

    def map(
        self,
        fn: Callable[[Job], Result],
        jobs: Sequence[Job],
        on_done: Callable[[Result], None] | None = None,
    ) -> list[Result]:
        from distributed import as_completed as dask_completed

        futures = self.client.map(fn, list(jobs), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, Result] = {}
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
            done[index[future.key]] = future.result()
            if on_done:
                on_done(done[index[future.key]])
        return [done[i] for i in range(len(jobs))]

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
